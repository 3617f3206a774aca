"""The 24-hour clock: states at the boundaries, also across a daylight-saving change."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from attempts.models import REMOVAL_DEADLINE, Attempt, RemovalState
from tests.factories import needle_in_place

SECOND = timedelta(seconds=1)


def inserted_at(moment):
    """A successful attempt whose needle went in at `moment` (the server clock at that time)."""
    return needle_in_place(inserted=moment)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("elapsed", "state"),
    [
        (timedelta(hours=19, minutes=59, seconds=59), RemovalState.IN_PLACE),
        (timedelta(hours=20), RemovalState.DUE_SOON),
        (timedelta(hours=23, minutes=59, seconds=59), RemovalState.DUE_SOON),
        (timedelta(hours=24), RemovalState.OVERDUE),
    ],
)
@pytest.mark.parametrize(
    "insertion",
    [
        datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
        # Europe/Berlin springs forward at 02:00 local on 29 March 2026 (01:00 UTC).
        datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
    ],
    ids=["ordinary-day", "across-dst"],
)
def test_state_at_the_boundaries_counted_from_insertion(
    settings, insertion, elapsed, state
):
    settings.TIME_ZONE = "Europe/Berlin"
    settings.IOACCESS_REMOVAL_WARNING_HOURS = 4
    attempt = inserted_at(insertion)
    assert attempt.removal_due_at - attempt.inserted_at == REMOVAL_DEADLINE
    assert attempt.removal_state(insertion + elapsed) == state


@pytest.mark.django_db
def test_due_time_across_dst_is_24_real_hours_and_shown_in_local_time(settings, client):
    settings.TIME_ZONE = "Europe/Berlin"
    # 13:00 CET on 28 March; the clocks go forward that night, so 24 h later reads 14:00 CEST.
    attempt = inserted_at(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert attempt.removal_due_at == datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    with timezone.override("Europe/Berlin"):
        assert timezone.localtime(attempt.inserted_at).strftime("%H:%M") == "13:00"
        assert (
            timezone.localtime(attempt.removal_due_at).strftime("%d %b %H:%M")
            == "29 Mar 14:00"
        )


@pytest.mark.django_db
def test_a_removed_needle_has_no_state_and_is_not_in_place():
    attempt = inserted_at(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    attempt.record_event(kind="removed", by=attempt.operator, client_token=uuid.uuid4())
    attempt.refresh_from_db()
    assert attempt.removal_state(attempt.removal_due_at + timedelta(hours=5)) is None
    assert not Attempt.objects.in_place().exists()
