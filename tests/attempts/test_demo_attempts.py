"""The demo data (`make run`, DEBUG only) holds a few weeks of attempts a supervisor can review:
successes, a failure and its second attempt, a late removal, a correction, an override, a needle
in place — each one recorded through the bay's own write path, so its row is its events folded."""

import logging
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from attempts import flow
from attempts.demo import DEMO_REFERENCE_PREFIX
from attempts.models import Attempt, AttemptEvent, Episode
from tests.factories import published_version

Kind = AttemptEvent.Kind


def demo_attempts():
    return Attempt.objects.filter(
        episode__patient_reference__startswith=DEMO_REFERENCE_PREFIX
    ).select_related("episode", "site")


def demo_events():
    return AttemptEvent.objects.filter(
        attempt__episode__patient_reference__startswith=DEMO_REFERENCE_PREFIX
    )


@pytest.fixture
def demo(settings):
    """The demo data as `make run` creates it (the reference checklist is already loaded)."""
    settings.DEBUG = True
    call_command("create_demo_accounts")
    return demo_attempts()


@pytest.mark.django_db
def test_supervisor_finds_finished_attempts_of_every_kind(demo):
    successes = demo.filter(outcome=Attempt.Outcome.SUCCESS)
    assert successes.filter(removed_at__lte=timezone.now()).count() >= 4
    assert successes.filter(episode__age_group="child").exists()

    failed = demo.get(outcome=Attempt.Outcome.FAILED)
    second = failed.episode.attempts.get(number=failed.number + 1)
    assert second.outcome == Attempt.Outcome.SUCCESS
    assert (second.site.bone, second.side) != (failed.site.bone, failed.side)

    late = demo.filter(removed_at__gt=F("removal_due_at"))
    assert late.count() == 1

    events = demo_events()
    assert events.filter(kind=Kind.CORRECTION, data__field="weight_kg").exists()
    later = events.get(kind=Kind.CORRECTION, data__field="inserted_at")
    assert later.data["later"] is True
    assert later.attempt.is_flagged
    [override] = [
        event
        for event in events.filter(kind=Kind.CONTRAINDICATIONS_SCREENED)
        if event.data["override_reason"].strip()
    ]
    assert override.data["present_text"]
    assert override.attempt.is_flagged
    [other_needle] = [
        event
        for event in events.filter(kind=Kind.NEEDLE_CHOSEN)
        if event.data["reason"].strip()
    ]
    assert other_needle.data["needle"] != other_needle.data["suggested"]


@pytest.mark.django_db
def test_board_has_a_needle_inserted_about_an_hour_ago(demo):
    in_place = demo.in_place().get()
    assert (
        timedelta(minutes=55)
        < timezone.now() - in_place.inserted_at
        < timedelta(minutes=65)
    )
    assert in_place.removal_due_at == in_place.inserted_at + flow.REMOVAL_DEADLINE


@pytest.mark.django_db
def test_demo_attempts_were_recorded_over_weeks_by_the_server_clock(demo):
    now = timezone.now()
    starts = sorted(demo.values_list("started_at", flat=True))
    assert now - timedelta(weeks=7) < starts[0] < now - timedelta(weeks=5)
    assert len({start.date() for start in starts}) >= 8
    # The clock was set back for the whole record (the server's recorded_at, the episode's
    # created_at), not only the clinical time; and it is back to today afterwards.
    for event in demo_events():
        assert event.recorded_at == event.occurred_at <= now
    for episode in Episode.objects.filter(
        patient_reference__startswith=DEMO_REFERENCE_PREFIX
    ):
        first = episode.attempts.get(number=1)
        assert episode.created_at == first.started_at
    assert abs(timezone.now() - now) < timedelta(minutes=1)


@pytest.mark.django_db
def test_every_demo_row_is_its_events_folded(demo):
    assert demo.count() >= 8
    for attempt in demo:
        events = list(attempt.events.order_by("pk"))
        stored = {name: getattr(attempt, name) for name in flow.PROJECTED}
        assert flow.fold(events, blank=Attempt()) == stored, attempt.episode
        assert attempt.operator.username == "clinician"
    for episode in Episode.objects.filter(
        patient_reference__startswith=DEMO_REFERENCE_PREFIX
    ):
        events = AttemptEvent.objects.filter(attempt__episode=episode).order_by("pk")
        assert flow.fold_episode_weight(events) == episode.weight_kg


@pytest.mark.django_db
def test_a_second_run_adds_nothing(demo):
    attempts, events = demo.count(), demo_events().count()
    call_command("create_demo_accounts")
    assert (demo_attempts().count(), demo_events().count()) == (attempts, events)


@pytest.mark.django_db
def test_nothing_is_created_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG is off"):
        call_command("create_demo_accounts")
    assert not demo_attempts().exists()


@pytest.mark.django_db
def test_without_the_reference_checklist_the_accounts_come_without_attempts(
    settings, caplog
):
    settings.DEBUG = True
    published_version()  # the hospital's own version retires the reference content
    with caplog.at_level(logging.WARNING, logger="attempts.demo"):
        call_command("create_demo_accounts")
    assert not demo_attempts().exists()
    assert "load_io_checklist" in caplog.text
