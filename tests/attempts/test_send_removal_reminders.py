"""Reminders: once per needle and kind, even with two sweepers; failures retried; none lost."""

import smtplib
import threading
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from attempts.models import AttemptEvent, RemovalReminder
from attempts.reminders import CLAIM_LEASE, send_due_reminders
from tests.attempts.test_removal_clock import inserted_at

INSERTED = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
DUE_SOON = INSERTED + timedelta(hours=21)
OVERDUE = INSERTED + timedelta(hours=24, minutes=1)


@pytest.fixture
def needle(db):
    attempt = inserted_at(INSERTED)
    attempt.operator.email = "operator@hospital.example"
    attempt.operator.save()
    return attempt


def sweep():
    """One pass as the command runs it: `now` from the clock that time-machine drives."""
    return send_due_reminders(now=timezone.now())


def emailed(needles):
    """The needles each email was about, one entry per email."""
    return sorted(
        needle.public_id
        for message in mail.outbox
        for needle in needles
        if f"/{needle.public_id}/" in message.body
    )


def reminder_events(attempt):
    return list(
        attempt.events.filter(kind=AttemptEvent.Kind.REMINDER_SENT).values_list(
            "data__reminder", flat=True
        )
    )


@pytest.mark.django_db
def test_nothing_is_sent_before_the_warning_window(needle):
    result = send_due_reminders(now=INSERTED + timedelta(hours=19))
    assert (result.created, result.sent) == (0, 0)
    assert mail.outbox == []


@pytest.mark.django_db
def test_due_soon_then_overdue_each_sent_once_and_recorded_on_the_attempt(needle):
    send_due_reminders(now=DUE_SOON)
    send_due_reminders(now=DUE_SOON + timedelta(minutes=5))
    send_due_reminders(now=OVERDUE)
    send_due_reminders(now=OVERDUE + timedelta(hours=1))
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "IO needle due for removal by 08",
        "OVERDUE",
    ]
    assert set(mail.outbox[0].to) == {
        needle.location.notify_email,
        "operator@hospital.example",
    }
    assert f"/bay/attempts/{needle.public_id}/" in mail.outbox[1].body
    assert reminder_events(needle) == ["due_soon", "overdue"]


@pytest.mark.django_db
def test_reminder_is_recorded_on_the_attempt_as_sent_by_the_system(
    needle, time_machine
):
    time_machine.move_to(OVERDUE, tick=False)
    sweep()
    event = needle.events.get(kind=AttemptEvent.Kind.REMINDER_SENT)
    assert event.recorded_by is None
    assert event.occurred_at == OVERDUE
    assert event.data == {
        "reminder": "overdue",
        "to": [needle.location.notify_email, "operator@hospital.example"],
    }


@pytest.mark.django_db
def test_a_needle_removed_while_its_reminder_goes_out_is_sent_once_and_recorded(
    needle, time_machine
):
    time_machine.move_to(OVERDUE, tick=False)
    deliver = locmem.EmailBackend.send_messages

    def removed_during_send(backend, messages):
        # The clinician records the removal while the email is on its way.
        needle.record_event(
            kind="removed", by=needle.operator, client_token=uuid.uuid4()
        )
        return deliver(backend, messages)

    with mock.patch.object(locmem.EmailBackend, "send_messages", removed_during_send):
        assert sweep().sent == 1
    assert len(mail.outbox) == 1
    assert RemovalReminder.objects.get().sent_at == OVERDUE
    # The email went out: the record says so, after the removal (the flow allows it).
    assert reminder_events(needle) == ["overdue"]

    time_machine.move_to(OVERDUE + CLAIM_LEASE * 2, tick=False)
    assert sweep().sent == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_smtp_failure_leaves_the_notice_unsent_and_the_next_pass_sends_it(
    needle, caplog
):
    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=smtplib.SMTPServerDisconnected("gone"),
    ):
        result = send_due_reminders(now=OVERDUE)
    assert (result.sent, result.failed) == (0, 1)
    reminder = RemovalReminder.objects.get()
    assert reminder.sent_at is None
    assert "gone" in reminder.last_error
    assert "not sent; will retry" in caplog.text
    assert reminder_events(needle) == []

    result = send_due_reminders(now=OVERDUE + timedelta(minutes=1))
    assert result.sent == 1
    assert len(mail.outbox) == 1
    assert reminder_events(needle) == ["overdue"]


@pytest.mark.django_db
def test_a_sweeper_killed_after_claiming_loses_nothing_and_duplicates_nothing(
    needle, time_machine
):
    time_machine.move_to(OVERDUE, tick=False)
    real_send = "attempts.reminders._send"
    with (
        mock.patch(real_send, side_effect=KeyboardInterrupt),
        pytest.raises(KeyboardInterrupt),
    ):
        sweep()
    # Restarted at once: the dead sweeper's claim still holds, so nothing is sent twice …
    time_machine.move_to(OVERDUE + timedelta(seconds=5), tick=False)
    assert sweep().sent == 0
    # … and once the claim lapses the notice goes out, exactly once.
    time_machine.move_to(OVERDUE + CLAIM_LEASE + timedelta(seconds=1), tick=False)
    assert sweep().sent == 1
    time_machine.move_to(OVERDUE + CLAIM_LEASE * 3, tick=False)
    assert sweep().sent == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_reminder_sent_once_when_a_pass_outlasts_the_lease(time_machine):
    needles = [inserted_at(INSERTED) for _ in range(5)]
    time_machine.move_to(OVERDUE, tick=False)
    deliver = locmem.EmailBackend.send_messages
    second_sweeper_started = []

    def slow_smtp(backend, messages):
        if not second_sweeper_started:
            # The first sweeper's mail server takes half a lease per email: each send fits
            # in the lease, the whole pass does not.
            time_machine.shift(CLAIM_LEASE / 2 - timedelta(seconds=1))
            if timezone.now() > OVERDUE + CLAIM_LEASE:
                # Meanwhile a second sweeper runs a whole pass (its mail server is quick)
                # and finds the first one's batch claim lapsed on the notices not yet sent.
                second_sweeper_started.append(True)
                sweep()
        return deliver(backend, messages)

    with mock.patch.object(locmem.EmailBackend, "send_messages", slow_smtp):
        first = sweep()

    assert emailed(needles) == sorted(needle.public_id for needle in needles)
    for attempt in needles:
        assert reminder_events(attempt) == ["overdue"]
    # The race did happen: the second sweeper sent some of the notices.
    assert 0 < first.sent < len(needles)


@pytest.mark.django_db
def test_a_removed_needle_gets_no_reminder(needle):
    needle.record_event(kind="removed", by=needle.operator, client_token=uuid.uuid4())
    result = send_due_reminders(now=OVERDUE)
    assert (result.created, result.sent) == (0, 0)
    assert mail.outbox == []


@pytest.mark.usefixtures("migrated_data")
def test_two_sweepers_at_once_send_one_email_per_needle_and_kind():
    needles = [inserted_at(INSERTED) for _ in range(6)]
    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        try:
            barrier.wait(timeout=10)
            send_due_reminders(now=OVERDUE)
        except Exception as error:  # any failure shows in the assertion below
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(mail.outbox) == len(needles)
    assert RemovalReminder.objects.filter(sent_at__isnull=False).count() == len(needles)
    for attempt in needles:
        assert reminder_events(attempt) == ["overdue"]


@pytest.mark.django_db
def test_the_command_runs_one_pass(needle, time_machine):
    time_machine.move_to(OVERDUE, tick=False)
    out = mock.MagicMock()
    call_command("send_removal_reminders", stdout=out)
    assert len(mail.outbox) == 1
