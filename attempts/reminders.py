"""The removal-reminder sweep: notices that cannot be lost and are never sent twice.

1. Make the notices that are due: at most one "due soon" and one "overdue" per needle in place
   (a unique constraint; two sweepers creating the same notice make one row).
2. Claim a batch of unsent notices with a conditional update that only one sweeper can win;
   the claim holds for CLAIM_LEASE from the clock at the moment of claiming.
3. Right before sending each notice, renew its claim with a conditional update that only
   succeeds if this sweeper still holds it and it has not lapsed; if not, skip it: another
   sweeper has it (or will). So a pass of any length sends nothing twice, as long as one send
   ends within CLAIM_LEASE (the SMTP timeout is far shorter).
4. Send it. Success: mark it sent and record a REMINDER_SENT event through
   Attempt.record_event, in one transaction (if the needle was removed in between, the mark
   stays and a warning is logged). Failure: release the claim and keep the error; the next
   pass tries again.
A sweeper killed after claiming leaves a claim that lapses after CLAIM_LEASE, so nothing is lost.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from attempts.models import Attempt, AttemptEvent, RemovalReminder, removal_warning

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
CLAIM_BATCH = 200
# Event tokens derived from the notice, so recording its event twice is impossible.
REMINDER_TOKENS = uuid.UUID("7f1c1d52-5a43-4f7e-9d2b-3f0d6c1e9a10")


@dataclass
class SweepResult:
    created: int = 0
    sent: int = 0
    failed: int = 0


def create_due_reminders(*, now):
    """Create the notices now due; returns how many were new."""
    in_place = Attempt.objects.in_place()
    due = {
        RemovalReminder.Kind.OVERDUE: in_place.filter(removal_due_at__lte=now),
        RemovalReminder.Kind.DUE_SOON: in_place.filter(
            removal_due_at__gt=now, removal_due_at__lte=now + removal_warning()
        ),
    }
    new = []
    for kind, attempts in due.items():
        ids = attempts.exclude(reminders__kind=kind).values_list("pk", flat=True)
        new += [RemovalReminder(attempt_id=pk, kind=kind, created_at=now) for pk in ids]
    # A second sweeper may have made the same notices a moment ago: the constraint keeps one.
    RemovalReminder.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    return len(new)


def send_due_reminders(*, now, clock=timezone.now):
    """One pass of the sweep (see the module docstring). Safe to run from several processes.

    `now` decides which needles are due; `clock` times the claims, which must hold in real
    time however long the pass takes.
    """
    result = SweepResult(created=create_due_reminders(now=now))
    # One mail connection for the whole pass, not one per notice.
    with mailers.default as connection:
        while batch := _claim_batch(now=now, clock=clock):
            for reminder in batch:
                if not reminder.attempt.is_in_place:
                    # Removed since the notice was made: a removed needle gets no reminder.
                    reminder.delete()
                    continue
                if not _renew_claim(reminder, clock=clock):
                    # Slow sends ate the lease and another sweeper may have it: never both.
                    logger.info(
                        "Removal reminder %s: claim lapsed before sending; left to the "
                        "sweeper that holds it or the next pass",
                        reminder.pk,
                    )
                    continue
                try:
                    _send(reminder, connection=connection)
                except (OSError, ValueError, ConnectionError) as error:
                    logger.exception(
                        "Removal reminder %s not sent; will retry", reminder.pk
                    )
                    # Held until `now`, so this pass moves on and the next one retries it.
                    RemovalReminder.objects.filter(pk=reminder.pk).update(
                        claimed_until=now,
                        failures=F("failures") + 1,
                        last_error=repr(error)[:1000],
                    )
                    result.failed += 1
                    continue
                _mark_sent(reminder, now=now)
                result.sent += 1
    return result


def _claim_batch(*, now, clock):
    """Claim up to CLAIM_BATCH unsent notices for this sweeper; another sweeper gets others.

    The conditional UPDATE only takes rows that are still claimable when it runs, so two
    sweepers racing for the same rows share them out instead of both sending them.
    A claim counts as lapsed only if it has by the clock (so no live claim is taken) and by
    the pass's `now` (so a notice this pass released after a failure, held until `now`, is
    not taken again in the same pass).
    """
    token = uuid.uuid4()
    lapsed_at = min(now, clock())
    ids = list(
        RemovalReminder.objects.claimable(now=lapsed_at)
        .order_by("pk")
        .values_list("pk", flat=True)[:CLAIM_BATCH]
    )
    if not ids:
        return []
    RemovalReminder.objects.claimable(now=lapsed_at).filter(pk__in=ids).update(
        claimed_until=clock() + CLAIM_LEASE, claimed_by=token
    )
    return list(
        RemovalReminder.objects.filter(
            claimed_by=token, sent_at__isnull=True
        ).select_related(
            "attempt__location",
            "attempt__operator",
            "attempt__site",
            "attempt__needle",
            "attempt__episode",
        )
    )


def _renew_claim(reminder, *, clock):
    """Make sure this sweeper still holds the claim, for at least half a lease; False if lost.

    Only one sweeper can hold an unlapsed claim, so the one whose renewal changes the row is
    the only one that may send; the notice then stays its own for a full lease.
    """
    at = clock()
    if at < reminder.claimed_until - CLAIM_LEASE / 2:
        # The batch's own claim still has more than half its lease: no sweeper can take it
        # before it lapses, so the usual pass sends without a statement per notice.
        return True
    return (
        RemovalReminder.objects.filter(
            pk=reminder.pk,
            claimed_by=reminder.claimed_by,
            sent_at__isnull=True,
            claimed_until__gt=at,
        ).update(claimed_until=at + CLAIM_LEASE)
        == 1
    )


def _recipients(reminder):
    attempt = reminder.attempt
    return [a for a in (attempt.location.notify_email, attempt.operator.email) if a]


def _send(reminder, *, connection):
    attempt = reminder.attempt
    recipients = _recipients(reminder)
    if not recipients:
        raise ValueError("No address to send to: set the location's reminder email.")
    local_due = timezone.localtime(attempt.removal_due_at)
    local_in = timezone.localtime(attempt.inserted_at)
    if reminder.kind == RemovalReminder.Kind.OVERDUE:
        subject = f"OVERDUE: remove IO needle now — {attempt.location}"
    else:
        subject = f"IO needle due for removal by {local_due:%H:%M} — {attempt.location}"
    url = settings.IOACCESS_SITE_URL.rstrip("/") + reverse(
        "attempts:attempt-detail", kwargs={"public_id": attempt.public_id}
    )
    body = "\n".join(
        [
            subject,
            "",
            f"Location: {attempt.location}",
            f"Patient: {attempt.episode.patient_reference or 'no reference recorded'}",
            f"Site: {attempt.site.name}, {attempt.get_side_display().lower()}",
            f"Needle: {attempt.needle}",
            f"Inserted: {local_in:%d %b %Y %H:%M}",
            f"Remove by: {local_due:%d %b %Y %H:%M}",
            "",
            "IO needles must come out within 24 hours of insertion.",
            f"Record the removal: {url}",
        ]
    )
    connection.send_messages(
        [EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)]
    )


def _mark_sent(reminder, *, now):
    """Mark the notice sent and record it on the attempt: one transaction.

    The event goes through Attempt.record_event, the one place that checks and projects
    events; its token is derived from the notice, so it cannot be recorded twice.
    """
    with transaction.atomic():
        marked = RemovalReminder.objects.filter(
            pk=reminder.pk, sent_at__isnull=True
        ).update(sent_at=now, claimed_until=None)
        if marked != 1:
            return
        try:
            reminder.attempt.record_event(
                kind=AttemptEvent.Kind.REMINDER_SENT,
                by=None,
                client_token=uuid.uuid5(REMINDER_TOKENS, str(reminder.pk)),
                data={"reminder": reminder.kind, "to": _recipients(reminder)},
                occurred_at=now,
            )
        except ValidationError as refusal:
            # Removed between the send and this mark: the email has gone, so the notice
            # stays marked sent (record_event rolled back only its own savepoint).
            logger.warning(
                "Removal reminder %s was emailed, but the needle was removed before its "
                "reminder was recorded: %s",
                reminder.pk,
                " ".join(refusal.messages),
            )
