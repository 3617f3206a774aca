"""Query counts of the attempt page and of each tap: at their floor, and not growing with the
events recorded."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attempts.models import Attempt, AttemptEvent
from tests.attempts.conftest import needle, site
from tests.factories import (
    ClinicianFactory,
    EpisodeFactory,
    LocationFactory,
    reference_version,
)

# A tap's floor: the session, the user (with their permissions), BEGIN (a SAVEPOINT inside a
# test's own transaction), the attempt (locked, with the token's replay answer and what its
# card shows), the event, the attempt's changed columns, COMMIT (RELEASE SAVEPOINT).
TAP_QUERIES = 7

FLOW = [
    ("indication", {}),
    ("site", {"side": "left"}),
    ("screen", {}),
    ("needle", {"tissue": "normal"}),
    ("check", {"checked": "on"}),
    ("checks-done", {"all_confirmed": "on"}),
    ("needle-in-bone", {}),
    ("confirm", {"all_confirmed": "on"}),
    ("outcome", {"outcome": "success"}),
]


def new_attempt(clinician, bay, version):
    episode = EpisodeFactory(location=bay, created_by=clinician, weight_kg=72)
    return episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )


def pad_with_events(attempt, count):
    """Earlier troubleshooting taps: history the page and the taps must not re-read one by one."""
    for _ in range(count):
        AttemptEvent.objects.create(
            attempt=attempt,
            kind=AttemptEvent.Kind.TROUBLESHOOTING_OPENED,
            recorded_by=attempt.operator,
            client_token=uuid.uuid4(),
            data={"stage": attempt.stage},
        )


def run(client, attempt, version):
    """Tap through the whole flow; return the queries of each GET and POST by name."""
    counts = {}
    prep_step = version.steps.get(slug="prep-support-limb").pk
    extra = {
        "site": {"site": site(version, "proximal-humerus-adult").pk},
        "needle": {"needle": needle(version, "blue").pk},
        "check": {"step": prep_step},
    }
    detail = reverse("attempts:attempt-detail", args=[attempt.public_id])
    for action, data in FLOW:
        with CaptureQueriesContext(connection) as page:
            assert client.get(detail).status_code == 200
        counts[f"GET at {action}"] = len(page.captured_queries)
        url = reverse("attempts:attempt-record", args=[attempt.public_id, action])
        payload = {
            "client_token": str(uuid.uuid4()),
            "revision": Attempt.objects.get(pk=attempt.pk).revision,
            **data,
            **extra.get(action, {}),
        }
        with CaptureQueriesContext(connection) as tap:
            response = client.post(url, payload, headers={"HX-Request": "true"})
        assert response.status_code == 200, (action, response.text[:500])
        counts[f"POST {action}"] = len(tap.captured_queries)
    return counts


@pytest.mark.django_db
def test_page_and_tap_query_counts_do_not_grow_with_events(
    client, clinician, bay, version, django_assert_num_queries
):
    client.force_login(clinician)
    quiet = new_attempt(clinician, bay, version)
    busy = new_attempt(clinician, bay, version)
    pad_with_events(busy, 40)
    client.get(
        reverse("attempts:attempt-detail", args=[quiet.public_id])
    )  # content cached
    assert run(client, quiet, version) == run(client, busy, version)


@pytest.mark.django_db
def test_attempt_page_reads_a_fixed_number_of_queries(
    client, clinician, bay, version, django_assert_num_queries
):
    client.force_login(clinician)
    attempt = new_attempt(clinician, bay, version)
    pad_with_events(attempt, 25)
    attempt.record_event(
        kind=AttemptEvent.Kind.INDICATION_CONFIRMED,
        by=clinician,
        client_token=uuid.uuid4(),
    )
    url = reverse("attempts:attempt-detail", args=[attempt.public_id])
    # Session, user (with their permissions), the removal banner, the attempt (with its
    # version, whose reference-content notice the page shows), the access-log row (the site
    # card reads the episode's earlier attempts only when there are any: none here); the first
    # page of a published version also reads its steps, sites, contraindications and needles
    # with their sources (2 each), once.
    with django_assert_num_queries(5 + 8):
        response = client.get(url)
    assert 'class="cite"' in response.text
    with django_assert_num_queries(5):
        client.get(url)


@pytest.mark.django_db
def test_every_tap_of_the_flow_runs_at_most_seven_queries(
    client, clinician, bay, version
):
    client.force_login(clinician)
    attempt = new_attempt(clinician, bay, version)
    pad_with_events(attempt, 30)
    client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    counts = run(client, attempt, version)
    taps = {name: count for name, count in counts.items() if name.startswith("POST")}
    assert len(taps) == len(FLOW)
    assert taps == dict.fromkeys(taps, TAP_QUERIES)


# Start: the session, the user, the published version, the chosen location among the user's,
# the episode's two check constraints, the token's earlier use, BEGIN, the episode, attempt 1,
# its STARTED event, COMMIT.
START_QUERIES = 12


@pytest.mark.usefixtures("migrated_data")
def test_start_runs_a_fixed_number_of_queries_and_writes_the_session_only_on_a_change(
    client,
):
    """As in production: the request's own transaction, not a test's savepoint."""
    version = reference_version()
    bay = LocationFactory()
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    client.force_login(clinician)
    url = reverse("attempts:attempt-start")
    client.get(url)

    def start():
        data = {
            "client_token": str(uuid.uuid4()),
            "location": bay.pk,
            "age_group": "adult",
            "weight_kg": "70",
            "context": "cardiac_arrest",
        }
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, data)
        assert response.status_code == 302, response.text
        return [query["sql"].split()[0] for query in queries.captured_queries]

    first = start()  # remembers the location in the session
    assert first[:START_QUERIES] == [
        *["SELECT"] * 7,
        "BEGIN",
        *["INSERT"] * 3,
        "COMMIT",
    ]
    assert "UPDATE" in first[START_QUERIES:]
    assert [len(start()) for _ in range(3)] == [START_QUERIES] * 3
    assert (
        Attempt.objects.filter(
            number=1, checklist_version=version, location=bay
        ).count()
        == 4
    )


@pytest.mark.django_db
def test_a_refused_tap_records_nothing_in_fewer_queries_than_a_recorded_one(
    client, clinician, bay, version
):
    client.force_login(clinician)
    attempt = new_attempt(clinician, bay, version)
    client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))

    def tap(action, **data):
        url = reverse("attempts:attempt-record", args=[attempt.public_id, action])
        payload = {"client_token": str(uuid.uuid4()), **data}
        events = attempt.events.count()
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, payload, headers={"HX-Request": "true"})
        assert attempt.events.count() == events
        return response.status_code, len(queries)

    # A card the attempt has moved past: also asks whether the tap was recorded before.
    assert tap("site", revision=attempt.revision + 1, side="left") == (409, 6)
    # Input the card did not offer: the session, the user, the transaction and the attempt.
    assert tap("indication", revision="not a number") == (422, 5)


@pytest.mark.usefixtures("migrated_data")
def test_a_tap_counts_its_begin_and_commit_outside_a_test_transaction(client):
    """What a request in production runs: its own transaction, not a test's savepoint."""
    version = reference_version()
    bay = LocationFactory()
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    client.force_login(clinician)
    attempt = new_attempt(clinician, bay, version)
    client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    url = reverse("attempts:attempt-record", args=[attempt.public_id, "indication"])
    payload = {"client_token": str(uuid.uuid4()), "revision": attempt.revision}
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, payload, headers={"HX-Request": "true"})
    assert response.status_code == 200
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    assert len(statements) == TAP_QUERIES
    assert statements[2] == "BEGIN"
    assert statements[-1] == "COMMIT"
