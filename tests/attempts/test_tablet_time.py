"""A tap the tablet kept offline is recorded at the tablet's time, within bounds (issue #13)."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from attempts import flow
from attempts.models import AttemptEvent
from tests.factories import (
    ClinicianFactory,
    EpisodeFactory,
    LocationFactory,
    reference_version,
    walk,
)


@pytest.fixture
def at_insertion(db, client):
    version = reference_version()
    bay = LocationFactory()
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    episode = EpisodeFactory(location=bay, created_by=clinician)
    # Started a few minutes ago, so that a tap kept offline can fall inside the attempt.
    with time_machine.travel(timezone.now() - timedelta(minutes=3), tick=True):
        attempt = walk(
            episode.start_attempt(
                by=clinician, version=version, client_token=uuid.uuid4()
            ),
            to=flow.Stage.INSERTION,
        )
    client.force_login(clinician)
    return attempt


def tap_needle_in_bone(client, attempt, tapped_at):
    url = reverse("attempts:attempt-record", args=[attempt.public_id, "needle-in-bone"])
    fields = {"client_token": str(uuid.uuid4()), "revision": attempt.revision}
    if tapped_at is not None:
        fields["tapped_at"] = int(tapped_at.timestamp() * 1000)
    return client.post(url, fields, headers={"HX-Request": "true"})


def needle_in_bone(attempt):
    return attempt.events.get(kind=AttemptEvent.Kind.NEEDLE_IN_BONE)


def test_the_tablets_time_starts_the_removal_clock(client, at_insertion):
    attempt = at_insertion
    tapped = timezone.now() - timedelta(seconds=40)
    assert tap_needle_in_bone(client, attempt, tapped).status_code == 200
    event = needle_in_bone(attempt)
    assert abs(event.occurred_at - tapped) < timedelta(milliseconds=1)
    assert event.recorded_at > event.occurred_at
    assert event.data["clock"] == flow.TABLET_TIME_USED
    attempt.refresh_from_db()
    assert attempt.removal_due_at == event.occurred_at + timedelta(hours=24)


@pytest.mark.parametrize(
    "offset",
    [timedelta(minutes=5), timedelta(days=-3)],
    ids=["in the future", "before the attempt started"],
)
def test_a_tablet_time_outside_the_attempt_gives_the_servers_time_and_a_note(
    client, at_insertion, offset
):
    attempt = at_insertion
    before = timezone.now()
    assert tap_needle_in_bone(client, attempt, before + offset).status_code == 200
    event = needle_in_bone(attempt)
    assert before <= event.occurred_at <= timezone.now()
    assert event.data["clock"] == flow.TABLET_TIME_REFUSED


@pytest.mark.parametrize("tapped_at", [-1, 0, 2**53 + 1, 10**40])
def test_a_tablet_time_no_clock_can_show_gives_the_servers_time_and_a_note(
    client, at_insertion, tapped_at
):
    attempt = at_insertion
    url = reverse("attempts:attempt-record", args=[attempt.public_id, "needle-in-bone"])
    fields = {
        "client_token": str(uuid.uuid4()),
        "revision": attempt.revision,
        "tapped_at": str(tapped_at),
    }
    before = timezone.now()
    assert client.post(url, fields, headers={"HX-Request": "true"}).status_code == 200
    event = needle_in_bone(attempt)
    assert before <= event.occurred_at <= timezone.now()
    assert event.data["clock"] == flow.TABLET_TIME_REFUSED


def test_an_ordinary_tap_keeps_the_servers_clock_and_no_note(client, at_insertion):
    attempt = at_insertion
    assert tap_needle_in_bone(client, attempt, None).status_code == 200
    event = needle_in_bone(attempt)
    assert event.occurred_at == event.recorded_at
    assert "clock" not in event.data


def test_a_tablet_time_that_is_no_number_is_a_message_not_an_error(
    client, at_insertion
):
    attempt = at_insertion
    url = reverse("attempts:attempt-record", args=[attempt.public_id, "needle-in-bone"])
    fields = {
        "client_token": str(uuid.uuid4()),
        "revision": attempt.revision,
        "tapped_at": "yesterday",
    }
    response = client.post(url, fields, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert not attempt.events.filter(kind=AttemptEvent.Kind.NEEDLE_IN_BONE).exists()


def test_a_tablet_time_before_the_needle_went_in_confirms_at_the_servers_time(
    client, at_insertion
):
    """A tablet whose clock runs behind the server's: Needle in bone recorded online at the
    server's time, then Confirm kept offline at the tablet's earlier time. Confirmation (and
    so removal) can never come before insertion."""
    attempt = at_insertion
    assert tap_needle_in_bone(client, attempt, None).status_code == 200
    attempt.refresh_from_db()
    behind = attempt.inserted_at - timedelta(seconds=30)
    url = reverse("attempts:attempt-record", args=[attempt.public_id, "confirm"])
    fields = {
        "client_token": str(uuid.uuid4()),
        "revision": attempt.revision,
        "all_confirmed": "on",
        "tapped_at": int(behind.timestamp() * 1000),
    }
    assert client.post(url, fields, headers={"HX-Request": "true"}).status_code == 200
    attempt.refresh_from_db()
    confirmed = attempt.events.get(kind=AttemptEvent.Kind.PLACEMENT_CONFIRMED)
    assert confirmed.data["clock"] == flow.TABLET_TIME_REFUSED
    assert attempt.confirmed_at >= attempt.inserted_at
    assert attempt.to_confirmed >= timedelta(0)

    outcome = reverse("attempts:attempt-record", args=[attempt.public_id, "outcome"])
    fields = {
        "client_token": str(uuid.uuid4()),
        "revision": attempt.revision,
        "outcome": "success",
    }
    assert (
        client.post(outcome, fields, headers={"HX-Request": "true"}).status_code == 200
    )
    removal = reverse("attempts:attempt-removal", args=[attempt.public_id])
    fields = {
        "client_token": str(uuid.uuid4()),
        "condition": "Clean",
        "tapped_at": int(behind.timestamp() * 1000),
    }
    assert client.post(removal, fields).status_code == 302
    attempt.refresh_from_db()
    assert attempt.removed_at >= attempt.confirmed_at
    assert attempt.dwell >= timedelta(0)


def test_a_tablet_time_before_the_attempts_latest_event_gives_the_servers_time(
    client, at_insertion
):
    """Not only the start and the needle's times bound a kept tap: the needle cannot go in
    before something the record already holds happened (here, troubleshooting opened now)."""
    attempt = at_insertion
    url = reverse("attempts:attempt-record", args=[attempt.public_id, "troubleshoot"])
    fields = {"client_token": str(uuid.uuid4()), "revision": attempt.revision}
    assert client.post(url, fields, headers={"HX-Request": "true"}).status_code == 200
    opened = attempt.events.get(kind=AttemptEvent.Kind.TROUBLESHOOTING_OPENED)
    behind = opened.occurred_at - timedelta(seconds=60)
    assert behind > attempt.started_at
    assert tap_needle_in_bone(client, attempt, behind).status_code == 200
    event = needle_in_bone(attempt)
    assert event.data["clock"] == flow.TABLET_TIME_REFUSED
    assert event.occurred_at >= opened.occurred_at
