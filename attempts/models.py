"""What was done: IO attempts as append-only events, with the attempt row as their projection.

`AttemptEvent` is the truth: rows are only ever created. The `Attempt` columns (site, needle,
inserted_at, outcome …) are kept in the same transaction as the event that changes them.
"""

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from checklists.models import ChecklistVersion, NeedleSize, Site, Step

# The hard rule of the product: an IO needle comes out within 24 hours of insertion
# [seed: Procedure/application]; a named constant, never a setting or editable content.
REMOVAL_DEADLINE = timedelta(hours=24)


def removal_warning():
    """How long before the deadline a needle counts as due soon (IOACCESS_REMOVAL_WARNING_HOURS)."""
    return timedelta(hours=settings.IOACCESS_REMOVAL_WARNING_HOURS)


class RemovalState(models.TextChoices):
    """Where a needle in place stands against the 24-hour limit; shown in words, not colour."""

    IN_PLACE = "in_place", "In place"
    DUE_SOON = "due_soon", "Due soon"
    OVERDUE = "overdue", "Overdue"


# A data-entry bound, not clinical guidance: above any human weight ever recorded (635 kg).
MAX_PLAUSIBLE_WEIGHT_KG = Decimal(700)


class Location(models.Model):
    """A bay or ward ("Resus 1", "ED"). Clinicians see the attempts of their locations."""

    name = models.CharField(max_length=100, unique=True)
    notify_email = models.EmailField(
        blank=True, help_text="Where removal reminders for this location are sent."
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="locations", blank=True
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name


class AgeGroup(models.TextChoices):
    ADULT = "adult", "Adult"
    CHILD = "child", "Child"


class Episode(models.Model):
    """One patient's resuscitation: groups its attempts, so a second attempt knows the bones tried."""

    class Context(models.TextChoices):
        CARDIAC_ARREST = "cardiac_arrest", "Cardiac arrest"
        SHOCK = "shock", "Shock"
        SEVERE_DEHYDRATION = "severe_dehydration", "Severe dehydration"
        EXTENSIVE_BURNS = "extensive_burns", "Extensive burns"
        OTHER = "other", "Other"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="episodes"
    )
    patient_reference = models.CharField(
        max_length=64, blank=True, help_text="MRN or temporary trauma alias; optional."
    )
    age_group = models.CharField(max_length=10, choices=AgeGroup.choices)
    weight_kg = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="Empty: unknown.",
    )
    context = models.CharField(max_length=20, choices=Context.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = (
            models.CheckConstraint(
                condition=Q(age_group__in=["adult", "child"]),
                name="%(app_label)s_%(class)s_age_group_valid",
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True)
                | Q(weight_kg__gt=0, weight_kg__lte=MAX_PLAUSIBLE_WEIGHT_KG),
                name="%(app_label)s_%(class)s_weight_plausible",
            ),
        )

    def __str__(self):
        return (
            self.patient_reference
            or f"{self.location} {self.created_at:%Y-%m-%d %H:%M}"
        )

    @classmethod
    def open(cls, *, by, version, client_token, **fields):
        """A new episode and its first attempt; a retried Start returns the attempt it made."""
        replay = AttemptEvent.objects.filter(client_token=client_token).select_related(
            "attempt"
        )
        if (existing := replay.first()) is not None:
            if existing.kind != AttemptEvent.Kind.STARTED:
                raise ValidationError(
                    "This form was already used to record something else. Reload the page."
                )
            return existing.attempt
        with transaction.atomic():
            episode = cls(created_by=by, **fields)
            episode.full_clean()
            episode.save()
            return episode.start_attempt(
                by=by, version=version, client_token=client_token
            )

    def transfer_needles(self, *, by, to, client_token):
        """Move every IO needle in place of this patient to `to`; returns how many moved.

        Each needle gets its own TRANSFERRED event, its token derived from the request's.
        """
        moved = 0
        for attempt in self.attempts.in_place().exclude(location=to):
            attempt.record_event(
                kind=AttemptEvent.Kind.TRANSFERRED,
                by=by,
                client_token=uuid.uuid5(client_token, str(attempt.pk)),
                data={"from": attempt.location_id, "to": to.pk, "to_name": to.name},
            )
            moved += 1
        return moved

    def start_attempt(self, *, by, version, client_token):
        """The next attempt of this episode, following `version`, with its STARTED event.

        A repeated `client_token` returns the attempt that token already started.
        """
        replay = AttemptEvent.objects.filter(client_token=client_token).select_related(
            "attempt"
        )
        if (existing := replay.first()) is not None:
            if (
                existing.kind != AttemptEvent.Kind.STARTED
                or existing.attempt.episode_id != self.pk
            ):
                raise ValidationError(
                    "This form was already used to record something else. Reload the page."
                )
            return existing.attempt
        with transaction.atomic():
            # Lock the episode so two tablets starting at once get numbers 1 and 2, not 1 twice.
            Episode.objects.select_for_update().get(pk=self.pk)
            number = (
                self.attempts.aggregate(last=models.Max("number"))["last"] or 0
            ) + 1
            attempt = Attempt.objects.create(
                episode=self,
                number=number,
                location=self.location,
                checklist_version=version,
                operator=by,
            )
            AttemptEvent.objects.create(
                attempt=attempt,
                kind=AttemptEvent.Kind.STARTED,
                recorded_by=by,
                client_token=client_token,
                occurred_at=attempt.started_at,
                data={"version": version.number},
            )
        return attempt


class AttemptQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Attempts at the user's locations."""
        return self.filter(location__staff=user)

    def in_progress(self):
        return self.filter(outcome=Attempt.Outcome.IN_PROGRESS)

    def in_place(self):
        """IO needles in bone and not yet removed."""
        return self.filter(
            outcome=Attempt.Outcome.SUCCESS,
            inserted_at__isnull=False,
            removed_at__isnull=True,
        )

    def on_board(self):
        """Needles in place with what the board shows, due first."""
        return (
            self.in_place()
            .select_related("location", "site", "needle", "episode")
            .order_by("removal_due_at")
        )

    def removal_counts(self, *, now):
        """(overdue, due soon) among needles in place, in one query."""
        due_soon_from = now + removal_warning()
        counts = self.in_place().aggregate(
            overdue=models.Count("pk", filter=Q(removal_due_at__lte=now)),
            due_soon=models.Count(
                "pk",
                filter=Q(removal_due_at__gt=now, removal_due_at__lte=due_soon_from),
            ),
        )
        return counts["overdue"], counts["due_soon"]

    def for_page(self):
        """What the attempt page header and cards read, joined in one query."""
        return self.select_related(
            "episode", "location", "checklist_version", "site", "needle", "operator"
        )


class Attempt(models.Model):
    """One insertion attempt in an episode; its columns project the attempt's events."""

    class Outcome(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        ABANDONED = "abandoned", "Abandoned"

    class Side(models.TextChoices):
        LEFT = "left", "Left"
        RIGHT = "right", "Right"

    class Stage(models.TextChoices):
        INDICATION = "indication", "Indication"
        SITE = "site", "Site and side"
        SCREEN = "screen", "Contraindication screen"
        NEEDLE = "needle", "Needle"
        PREPARATION = "preparation", "Preparation"
        INSERTION = "insertion", "Insertion"
        CONFIRMATION = "confirmation", "Confirmation"
        OUTCOME = "outcome", "Outcome"
        AFTERCARE = "aftercare", "Aftercare"
        CLOSED = "closed", "Closed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    episode = models.ForeignKey(
        Episode, on_delete=models.PROTECT, related_name="attempts"
    )
    number = models.PositiveSmallIntegerField()
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="attempts"
    )
    checklist_version = models.ForeignKey(
        ChecklistVersion,
        on_delete=models.PROTECT,
        related_name="attempts",
        help_text="The content this attempt followed, kept after a newer version is published.",
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    stage = models.CharField(
        max_length=15, choices=Stage.choices, default=Stage.INDICATION
    )
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    side = models.CharField(max_length=5, choices=Side.choices, blank=True)
    needle = models.ForeignKey(
        NeedleSize, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now, editable=False)
    inserted_at = models.DateTimeField(null=True, blank=True, editable=False)
    removal_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    removed_at = models.DateTimeField(null=True, blank=True, editable=False)
    outcome = models.CharField(
        max_length=12, choices=Outcome.choices, default=Outcome.IN_PROGRESS
    )
    is_flagged = models.BooleanField(
        default=False,
        help_text="A deviation for the supervisor: an override, a needle other than suggested, "
        "an insertion time moved later.",
    )

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ("-started_at",)
        constraints = (
            models.UniqueConstraint(
                fields=["episode", "number"],
                name="%(app_label)s_%(class)s_number_unique",
            ),
            models.CheckConstraint(
                condition=Q(
                    outcome__in=["in_progress", "success", "failed", "abandoned"]
                ),
                name="%(app_label)s_%(class)s_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(side__in=["", "left", "right"]),
                name="%(app_label)s_%(class)s_side_valid",
            ),
            models.CheckConstraint(
                condition=Q(inserted_at__isnull=True) | Q(removal_due_at__isnull=False),
                name="%(app_label)s_%(class)s_inserted_has_deadline",
            ),
        )
        indexes = (
            # The removal sweep and the board: needles in place by due time.
            models.Index(
                fields=["removal_due_at"],
                condition=Q(removed_at__isnull=True, outcome="success"),
                name="attempts_attempt_in_place_due",
            ),
        )

    def __str__(self):
        return f"Attempt {self.number} · {self.episode}"

    @property
    def is_finished(self):
        return self.outcome != self.Outcome.IN_PROGRESS

    @property
    def is_inserted(self):
        return self.inserted_at is not None

    @property
    def population(self):
        return self.episode.age_group

    @property
    def is_in_place(self):
        return (
            self.outcome == self.Outcome.SUCCESS
            and self.inserted_at is not None
            and self.removed_at is None
        )

    def removal_state(self, now):
        """In place, due soon (inside the warning window) or overdue (24 h or more in)."""
        if not self.is_in_place:
            return None
        if now >= self.removal_due_at:
            return RemovalState.OVERDUE
        if now >= self.removal_due_at - removal_warning():
            return RemovalState.DUE_SOON
        return RemovalState.IN_PLACE

    def record_event(
        self,
        *,
        kind,
        by,
        client_token,
        data=None,
        occurred_at=None,
        corrects=None,
        step=None,
    ):
        """Append one event and update the projection in the same transaction; return the event.

        A repeated `client_token` (double tap, retry after a dropped connection) returns the
        event already recorded instead of a second one; the same token with other data is
        refused. Raises ValidationError with a message for the clinician when the event does
        not fit the attempt's state.
        """
        data = data or {}
        try:
            with transaction.atomic():
                # Lock the attempt, and in the same query ask whether this token was already
                # used: two tablets tapping at once are applied one after the other, and a
                # retry answers with what the first try recorded.
                used = AttemptEvent.objects.filter(client_token=client_token).values(
                    "pk"
                )[:1]
                current = (
                    Attempt.objects.select_for_update(of=("self",))
                    .annotate(replayed=models.Subquery(used))
                    .get(pk=self.pk)
                )
                if current.replayed is not None:
                    existing = AttemptEvent.objects.get(pk=current.replayed)
                    return existing.as_replay_of(attempt=self, kind=kind, data=data)
                current.check_allowed(kind, data)
                event = AttemptEvent.objects.create(
                    attempt=current,
                    kind=kind,
                    recorded_by=by,
                    client_token=client_token,
                    data=data,
                    occurred_at=occurred_at,
                    corrects=corrects,
                    step=step,
                )
                current.apply(event)
                self._copy_projection_from(current)
        except IntegrityError:
            # The same token won a race from another request: answer with that event.
            existing = AttemptEvent.objects.filter(client_token=client_token).first()
            if existing is None:
                raise
            return existing.as_replay_of(attempt=self, kind=kind, data=data)
        return event

    def _copy_projection_from(self, current):
        """Take the columns just saved, without reading the row again."""
        for model_field in self._meta.concrete_fields:
            name = model_field.attname
            if getattr(self, name) != getattr(current, name):
                setattr(self, name, getattr(current, name))
                if model_field.is_relation and model_field.is_cached(self):
                    model_field.delete_cached_value(self)

    def check_allowed(self, kind, data):
        """Refuse an event the attempt's state does not allow, with a message that says why."""
        Kind = AttemptEvent.Kind
        if self.is_finished and kind not in AttemptEvent.AFTER_OUTCOME_KINDS:
            raise ValidationError(
                "This attempt is already finished; nothing more can be recorded on it."
            )
        choosing = {
            Kind.SITE_CHOSEN,
            Kind.CONTRAINDICATIONS_SCREENED,
            Kind.NEEDLE_CHOSEN,
        }
        if kind in choosing and self.is_inserted:
            raise ValidationError(
                "The needle is already in bone: correct the record instead."
            )
        if kind == Kind.CONTRAINDICATIONS_SCREENED and not self.site_id:
            raise ValidationError("Choose the site and side first.")
        if kind == Kind.NEEDLE_IN_BONE:
            if self.is_inserted:
                raise ValidationError("Needle in bone is already recorded.")
            if not (self.site_id and self.needle_id):
                raise ValidationError("Choose the site and the needle first.")
        if kind == Kind.PLACEMENT_CONFIRMED and not self.is_inserted:
            raise ValidationError(
                "Record “Needle in bone” before confirming placement."
            )
        if (
            kind == Kind.OUTCOME_RECORDED
            and data.get("outcome") == self.Outcome.SUCCESS
            and not self.is_inserted
        ):
            raise ValidationError("A successful attempt needs “Needle in bone” first.")
        if (
            kind in {Kind.REMOVED, Kind.TRANSFERRED, Kind.REMINDER_SENT}
            and not self.is_in_place
        ):
            raise ValidationError(
                "This IO needle is not in place (already removed, or never in)."
            )

    def apply(self, event):
        """Project one new event onto the attempt's columns (inside record_event's transaction)."""
        Kind = AttemptEvent.Kind
        data = event.data
        if event.kind == Kind.INDICATION_CONFIRMED:
            self.stage = self.Stage.SITE
        elif event.kind == Kind.SITE_CHOSEN:
            self.site_id, self.side = data["site"], data["side"]
            self.stage = self.Stage.SCREEN
        elif event.kind == Kind.CONTRAINDICATIONS_SCREENED:
            self.is_flagged |= bool(data.get("override_reason"))
            self.stage = self.Stage.NEEDLE
        elif event.kind == Kind.NEEDLE_CHOSEN:
            self.needle_id = data["needle"]
            self.is_flagged |= bool(data.get("reason"))
            self.stage = self.Stage.PREPARATION
        elif event.kind == Kind.STAGE_COMPLETED:
            self.stage = self.Stage.INSERTION
        elif event.kind == Kind.NEEDLE_IN_BONE:
            self.inserted_at = event.occurred_at
            self.removal_due_at = event.occurred_at + REMOVAL_DEADLINE
            self.stage = self.Stage.CONFIRMATION
        elif event.kind == Kind.PLACEMENT_CONFIRMED:
            self.stage = self.Stage.OUTCOME
        elif event.kind == Kind.OUTCOME_RECORDED:
            self.outcome = data["outcome"]
            success = self.outcome == self.Outcome.SUCCESS
            self.stage = self.Stage.AFTERCARE if success else self.Stage.CLOSED
        elif event.kind == Kind.REMOVED:
            self.removed_at = event.occurred_at
            self.stage = self.Stage.CLOSED
        elif event.kind == Kind.TRANSFERRED:
            self.location_id = data["to"]
        elif event.kind == Kind.CORRECTION:
            self._apply_correction(event)
        self.save()

    def _apply_correction(self, event):
        field, value = event.data["field"], event.data["new"]
        if field == "weight_kg":
            self.episode.weight_kg = None if value is None else Decimal(value)
            self.episode.save(update_fields=["weight_kg"])
        elif field == "side":
            self.side = value
        elif field == "removed_at":
            self.removed_at = datetime.fromisoformat(value)
        elif field == "inserted_at":
            corrected = datetime.fromisoformat(value)
            if corrected > self.inserted_at:
                # A later insertion time would lengthen the dwell: keep the clock running from
                # the earliest credible time and flag it for the supervisor.
                self.is_flagged = True
            else:
                self.inserted_at = corrected
                self.removal_due_at = corrected + REMOVAL_DEADLINE


class AttemptEvent(models.Model):
    """One thing that happened in an attempt. Created, never updated, never deleted."""

    class Kind(models.TextChoices):
        STARTED = "started", "Attempt started"
        INDICATION_CONFIRMED = "indication_confirmed", "Indication confirmed"
        SITE_CHOSEN = "site_chosen", "Site and side chosen"
        CONTRAINDICATIONS_SCREENED = (
            "contraindications_screened",
            "Contraindications screened",
        )
        NEEDLE_CHOSEN = "needle_chosen", "Needle chosen"
        STEP_CHECKED = "step_checked", "Step checked"
        STAGE_COMPLETED = "stage_completed", "Checks completed"
        NEEDLE_IN_BONE = "needle_in_bone", "Needle in bone"
        PLACEMENT_CONFIRMED = "placement_confirmed", "Placement confirmed"
        OUTCOME_RECORDED = "outcome_recorded", "Outcome recorded"
        TROUBLESHOOTING_OPENED = "troubleshooting_opened", "Troubleshooting opened"
        TROUBLESHOOTING_ACTION = (
            "troubleshooting_action",
            "Troubleshooting action taken",
        )
        CORRECTION = "correction", "Correction"
        REMOVED = "removed", "Needle removed"
        TRANSFERRED = "transferred", "Transferred"
        REMINDER_SENT = "reminder_sent", "Removal reminder sent"

    # Kinds that may still be recorded once an attempt has its outcome.
    AFTER_OUTCOME_KINDS = frozenset(
        {
            Kind.CORRECTION,
            Kind.REMOVED,
            Kind.TRANSFERRED,
            Kind.REMINDER_SENT,
            Kind.TROUBLESHOOTING_OPENED,
            Kind.TROUBLESHOOTING_ACTION,
        }
    )

    attempt = models.ForeignKey(
        Attempt, on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    step = models.ForeignKey(
        Step, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    occurred_at = models.DateTimeField(editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for events the system records (removal reminders).",
    )
    client_token = models.UUIDField(unique=True, editable=False)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
    )

    class Meta:
        ordering = ("recorded_at", "pk")
        constraints = (
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "started",
                        "indication_confirmed",
                        "site_chosen",
                        "contraindications_screened",
                        "needle_chosen",
                        "step_checked",
                        "stage_completed",
                        "needle_in_bone",
                        "placement_confirmed",
                        "outcome_recorded",
                        "troubleshooting_opened",
                        "troubleshooting_action",
                        "correction",
                        "removed",
                        "transferred",
                        "reminder_sent",
                    ]
                ),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
            # At most one outcome and one insertion per attempt, whatever races.
            models.UniqueConstraint(
                fields=["attempt"],
                condition=Q(kind="outcome_recorded"),
                name="%(app_label)s_%(class)s_one_outcome",
            ),
            models.UniqueConstraint(
                fields=["attempt"],
                condition=Q(kind="needle_in_bone"),
                name="%(app_label)s_%(class)s_one_insertion",
            ),
            models.UniqueConstraint(
                fields=["attempt"],
                condition=Q(kind="removed"),
                name="%(app_label)s_%(class)s_one_removal",
            ),
        )

    def __str__(self):
        return f"{self.get_kind_display()} at {self.recorded_at:%H:%M:%S}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(
                "Recorded events are never changed; record a correction."
            )
        if self.occurred_at is None:
            self.occurred_at = self.recorded_at
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Recorded events are never deleted.")

    def as_replay_of(self, *, attempt, kind, data):
        """This event, answering a retry of the request that recorded it."""
        same = json.loads(json.dumps(data, cls=DjangoJSONEncoder)) == self.data
        if self.attempt_id != attempt.pk or self.kind != kind or not same:
            raise ValidationError(
                "This form was already used to record something else. "
                "Reload the page and tap again."
            )
        return self


class RemovalReminderQuerySet(models.QuerySet):
    def unsent(self):
        return self.filter(sent_at__isnull=True)

    def claimable(self, *, now):
        """Unsent notices no sweeper holds (or whose sweeper died: its claim has lapsed)."""
        return self.unsent().filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        )


class RemovalReminder(models.Model):
    """One notice per needle and kind: due soon, then overdue. The unique constraint is the promise.

    A sweeper claims a notice with a conditional update (claimed_until), sends it, then marks it
    sent; a failed send releases the claim so the next pass retries it.
    """

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", "Due soon"
        OVERDUE = "overdue", "Overdue"

    attempt = models.ForeignKey(
        Attempt, on_delete=models.PROTECT, related_name="reminders"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    claimed_by = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    failures = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    objects = RemovalReminderQuerySet.as_manager()

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=["attempt", "kind"], name="%(app_label)s_%(class)s_once_per_kind"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["due_soon", "overdue"]),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
        )
        indexes = (
            models.Index(
                fields=["created_at"],
                condition=Q(sent_at__isnull=True),
                name="attempts_reminder_unsent",
            ),
        )

    def __str__(self):
        return f"{self.get_kind_display()} reminder for {self.attempt}"
