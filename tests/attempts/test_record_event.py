"""Every tap is one event with a server time; retries never duplicate; events are never changed."""

import threading
import uuid
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from attempts import flow
from attempts.models import REMOVAL_DEADLINE, REUSED_FORM, Attempt, AttemptEvent
from tests.factories import (
    ClinicianFactory,
    ContentEditorFactory,
    EpisodeFactory,
    LocationFactory,
    choose_site_and_needle,
    published_version,
    reference_version,
    started_attempt,
    walk,
)

Kind = AttemptEvent.Kind
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_starting_an_attempt_records_a_started_event_with_the_server_time(time_machine):
    time_machine.move_to(NOON, tick=False)
    attempt = started_attempt()
    event = attempt.events.get()
    assert (attempt.number, event.kind) == (1, Kind.STARTED)
    assert event.recorded_at == event.occurred_at == attempt.started_at == NOON


@pytest.mark.django_db
def test_a_retried_start_returns_the_same_attempt():
    episode, version, token = EpisodeFactory(), published_version(), uuid.uuid4()
    first = episode.start_attempt(
        by=episode.created_by, version=version, client_token=token
    )
    again = episode.start_attempt(
        by=episode.created_by, version=version, client_token=token
    )
    assert first == again
    assert episode.attempts.count() == 1
    assert AttemptEvent.objects.count() == 1


@pytest.mark.django_db
def test_the_next_attempt_of_an_episode_gets_the_next_number():
    first = started_attempt()
    second = started_attempt(episode=first.episode, version=first.checklist_version)
    assert second.number == 2


@pytest.mark.django_db
def test_needle_in_bone_starts_the_24_hour_clock_in_the_same_transaction(time_machine):
    attempt = choose_site_and_needle(started_attempt())
    time_machine.move_to(NOON, tick=False)
    event = attempt.record_event(
        kind=Kind.NEEDLE_IN_BONE, by=attempt.operator, client_token=uuid.uuid4()
    )
    assert event.recorded_at == NOON
    assert attempt.inserted_at == NOON
    assert attempt.removal_due_at == NOON + REMOVAL_DEADLINE
    assert REMOVAL_DEADLINE.total_seconds() == 24 * 60 * 60


@pytest.mark.django_db
def test_a_double_tap_records_one_event():
    attempt = started_attempt()
    token = uuid.uuid4()
    first = attempt.record_event(
        kind=Kind.INDICATION_CONFIRMED, by=attempt.operator, client_token=token
    )
    second = attempt.record_event(
        kind=Kind.INDICATION_CONFIRMED, by=attempt.operator, client_token=token
    )
    assert first == second
    assert attempt.events.filter(kind=Kind.INDICATION_CONFIRMED).count() == 1


@pytest.mark.django_db
def test_a_replayed_token_with_other_data_is_refused_and_changes_nothing():
    attempt = started_attempt()
    token = uuid.uuid4()
    attempt.record_event(
        kind=Kind.OUTCOME_RECORDED,
        by=attempt.operator,
        client_token=token,
        data={"outcome": "abandoned"},
    )
    with pytest.raises(ValidationError, match="already used"):
        attempt.record_event(
            kind=Kind.OUTCOME_RECORDED,
            by=attempt.operator,
            client_token=token,
            data={"outcome": "failed"},
        )
    attempt.refresh_from_db()
    assert attempt.outcome == Attempt.Outcome.ABANDONED
    assert attempt.events.count() == 2


@pytest.mark.django_db
def test_recorded_events_are_never_updated_or_deleted():
    event = started_attempt().events.get()
    event.data = {"tampered": True}
    with pytest.raises(ValidationError, match="never changed"):
        event.save()
    with pytest.raises(ValidationError, match="never deleted"):
        event.delete()
    event.refresh_from_db()
    assert event.data != {"tampered": True}


@pytest.mark.django_db
def test_a_finished_attempt_refuses_further_taps():
    attempt = started_attempt()
    attempt.record_event(
        kind=Kind.OUTCOME_RECORDED,
        by=attempt.operator,
        client_token=uuid.uuid4(),
        data={"outcome": "abandoned"},
    )
    with pytest.raises(ValidationError, match="already finished"):
        attempt.record_event(
            kind=Kind.NEEDLE_IN_BONE, by=attempt.operator, client_token=uuid.uuid4()
        )
    attempt.refresh_from_db()
    assert attempt.inserted_at is None


@pytest.mark.django_db
def test_the_database_keeps_at_most_one_outcome_per_attempt():
    attempt = started_attempt()
    AttemptEvent.objects.create(
        attempt=attempt,
        kind=Kind.OUTCOME_RECORDED,
        recorded_by=attempt.operator,
        client_token=uuid.uuid4(),
        data={"outcome": "abandoned"},
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        AttemptEvent.objects.create(
            attempt=attempt,
            kind=Kind.OUTCOME_RECORDED,
            recorded_by=attempt.operator,
            client_token=uuid.uuid4(),
            data={"outcome": "failed"},
        )


@pytest.mark.django_db
def test_an_attempt_keeps_its_checklist_version_after_a_new_one_is_published():
    attempt = started_attempt()
    original = attempt.checklist_version
    draft = original.new_draft(author=ContentEditorFactory())
    draft.submit_for_review(by=draft.author)
    draft.publish(by=ContentEditorFactory())
    attempt.refresh_from_db()
    assert attempt.checklist_version == original


@pytest.mark.usefixtures("migrated_data")
def test_two_tablets_recording_the_outcome_at_once_keep_exactly_one():
    attempt = started_attempt()
    tablets = [attempt.operator, ClinicianFactory()]
    barrier = threading.Barrier(len(tablets))
    results = []

    def record(user, outcome):
        try:
            barrier.wait(timeout=10)
            Attempt.objects.get(pk=attempt.pk).record_event(
                kind=Kind.OUTCOME_RECORDED,
                by=user,
                client_token=uuid.uuid4(),
                data={"outcome": outcome, "reason": "Two tablets"},
            )
            results.append("kept")
        except ValidationError as error:
            results.append(error.messages[0])
        except Exception as error:  # any other failure shows in the assertion below
            results.append(repr(error))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=record, args=(user, outcome))
        for user, outcome in zip(tablets, ["abandoned", "failed"], strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == sorted(["kept", flow.FINISHED])
    assert attempt.events.filter(kind=Kind.OUTCOME_RECORDED).count() == 1
    attempt.refresh_from_db()
    assert (
        attempt.outcome
        == attempt.events.get(kind=Kind.OUTCOME_RECORDED).data["outcome"]
    )


def at_preparation(client):
    """An attempt at its preparation card, the client signed in as a clinician of its bay."""
    clinician = ClinicianFactory()
    bay = LocationFactory(staff=[clinician])
    episode = EpisodeFactory(location=bay, created_by=clinician)
    attempt = walk(
        episode.start_attempt(
            by=clinician, version=reference_version(), client_token=uuid.uuid4()
        ),
        to=flow.Stage.PREPARATION,
    )
    client.force_login(clinician)
    return attempt


def test_a_retry_of_a_card_tap_already_recorded_answers_with_the_current_card(
    client, db
):
    """The tablet's queue sends a tap again when the answer was lost: 200, nothing added."""
    attempt = at_preparation(client)
    url = reverse("attempts:attempt-record", args=[attempt.public_id, "checks-done"])
    tap = {
        "client_token": str(uuid.uuid4()),
        "revision": attempt.revision,
        "all_confirmed": "on",
    }
    first = client.post(url, tap, headers={"HX-Request": "true"})
    count = attempt.events.count()
    again = client.post(url, tap, headers={"HX-Request": "true"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert attempt.events.count() == count
    assert b"Needle in bone" in again.content


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("needle-in-bone", {}),
        ("outcome", {"outcome": "abandoned"}),
        ("site", {"side": "left"}),
    ],
)
def test_a_token_another_tap_recorded_is_refused_from_an_old_card_too(
    client, db, action, fields
):
    """A form sent again with its token but to another tap, from a card the attempt has
    left: not a retry of that tap. 422 with the reason, nothing recorded, nothing said saved."""
    attempt = at_preparation(client)
    url = reverse("attempts:attempt-record", args=[attempt.public_id, "checks-done"])
    old_revision = attempt.revision
    token = str(uuid.uuid4())
    tap = {"client_token": token, "revision": old_revision, "all_confirmed": "on"}
    assert client.post(url, tap, headers={"HX-Request": "true"}).status_code == 200
    attempt.refresh_from_db()
    state = (attempt.events.count(), attempt.stage, attempt.outcome)

    other = reverse("attempts:attempt-record", args=[attempt.public_id, action])
    reused = {"client_token": token, "revision": old_revision, **fields}
    response = client.post(other, reused, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert REUSED_FORM.split(".")[0] in response.content.decode()
    attempt.refresh_from_db()
    assert (attempt.events.count(), attempt.stage, attempt.outcome) == state


@pytest.mark.usefixtures("migrated_data")
@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("indication", Kind.INDICATION_CONFIRMED),
        ("troubleshoot", Kind.TROUBLESHOOTING_OPENED),
    ],
)
def test_the_same_tap_sent_twice_at_once_is_recorded_once(action, kind):
    """A tablet's retry racing its first try. On PostgreSQL the later one waits for the row
    lock; a card's tap is then stale and found recorded, any other fails on the token's
    unique constraint and is read again as a replay."""
    from django.test import Client
    from django.urls import reverse

    from tests.factories import LocationFactory, reference_version

    version = reference_version()
    bay = LocationFactory()
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    episode = EpisodeFactory(location=bay, created_by=clinician)
    attempt = episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )
    url = reverse("attempts:attempt-record", args=[attempt.public_id, action])
    tap = {"client_token": str(uuid.uuid4()), "revision": attempt.revision}
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(clinician)
    barrier = threading.Barrier(len(clients))
    answers = []

    def send(client):
        try:
            barrier.wait(timeout=10)
            answers.append(
                client.post(url, tap, headers={"HX-Request": "true"}).status_code
            )
        except Exception as error:  # any other failure shows in the assertion below
            answers.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert answers == [200, 200]
    assert attempt.events.filter(kind=kind).count() == 1
