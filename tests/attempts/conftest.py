import uuid

import pytest
from django.urls import reverse

from attempts.models import Attempt
from tests.factories import (
    ClinicianFactory,
    EpisodeFactory,
    LocationFactory,
    reference_version,
)


@pytest.fixture
def version(db):
    return reference_version()


@pytest.fixture
def bay(db):
    return LocationFactory(name="Resus 1")


@pytest.fixture
def clinician(bay):
    user = ClinicianFactory()
    bay.staff.add(user)
    return user


@pytest.fixture
def attempt(clinician, bay, version):
    episode = EpisodeFactory(location=bay, created_by=clinician, weight_kg=72)
    return episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )


@pytest.fixture
def tap(client, clinician):
    """POST one tap the way the attempt page's htmx forms do; returns the response."""
    client.force_login(clinician)

    def do(attempt, action, htmx=True, **data):
        """`data` as the card's form would post it: a fresh token, and the revision of the
        card the attempt is at now (a test of a stale card passes its own)."""
        data.setdefault("client_token", str(uuid.uuid4()))
        data.setdefault(
            "revision",
            Attempt.objects.values_list("revision", flat=True).get(pk=attempt.pk),
        )
        url = reverse("attempts:attempt-record", args=[attempt.public_id, action])
        headers = {"HX-Request": "true"} if htmx else {}
        return client.post(url, data, headers=headers)

    return do


def site(version, slug):
    return version.sites.get(slug=slug)


def needle(version, colour):
    return version.needle_sizes.get(hub_colour=colour)


@pytest.fixture
def start(client, clinician, bay, version):
    """POST the Start card as the clinician at the bay; `fields` replace the defaults."""
    client.force_login(clinician)

    def do(**fields):
        data = {
            "client_token": str(uuid.uuid4()),
            "location": bay.pk,
            "age_group": "adult",
            "context": "shock",
            **fields,
        }
        return client.post(reverse("attempts:attempt-start"), data)

    return do
