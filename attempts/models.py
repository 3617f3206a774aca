"""What was done: IO attempts as append-only events, with the attempt row as their projection.

`AttemptEvent` is the truth: rows are only ever created. The `Attempt` columns (site, needle,
inserted_at, outcome …) are kept in the same transaction as the event that changes them.
"""

import json
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from attempts import flow
from attempts.flow import MAX_PLAUSIBLE_WEIGHT_KG, REMOVAL_DEADLINE
from checklists.models import ChecklistVersion, NeedleSize, Site, Step

__all__ = ["MAX_PLAUSIBLE_WEIGHT_KG", "REMOVAL_DEADLINE"]

REUSED_FORM = (
    "This form was already used to record something else. "
    "Reload the page and tap again."
)
# A transfer from a board that was out of date: the needles were removed, or moved there.
NOTHING_TO_MOVE = (
    "This patient has no IO needle in place to move there (removed, or never in)."
)
MOVED_MEANWHILE = (
    "This patient's IO needle was moved to {now_at} after this page was drawn: check where "
    "the patient is now, and transfer again from this page if they are to move."
)


def removal_warning():
    """How long before the deadline a needle counts as due soon (IOACCESS_REMOVAL_WARNING_HOURS)."""
    return timedelta(hours=settings.IOACCESS_REMOVAL_WARNING_HOURS)


class RemovalState(models.TextChoices):
    """Where a needle in place stands against the 24-hour limit; shown in words, not colour."""

    IN_PLACE = "in_place", "In place"
    DUE_SOON = "due_soon", "Due soon"
    OVERDUE = "overdue", "Overdue"


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

    def facts(self):
        """What the STARTED event keeps of the episode, so the log alone tells the story."""
        return _as_json(
            {
                "location": self.location_id,
                "age_group": self.age_group,
                "weight_kg": self.weight_kg,
                "context": self.context,
                "patient_reference": self.patient_reference,
            }
        )

    @classmethod
    def open(cls, *, by, version, client_token, **fields):
        """A new episode and its first attempt; a retried Start returns the attempt it made.

        The same token with other facts (another patient, another weight) is refused.
        """
        episode = cls(created_by=by, **fields)
        # Not asked of the database twice: that the location and the user exist (keys it
        # enforces; the Start form chose the location among the user's) and that a fresh
        # UUID is unused. The values and the check constraints are validated here.
        episode.full_clean(exclude={"location", "created_by"}, validate_unique=False)
        if (replayed := _started_by(client_token, facts=episode.facts())) is not None:
            return replayed
        try:
            with transaction.atomic():
                episode.save()
                # Nobody else sees the episode before this transaction commits: attempt 1,
                # with no lock and no count to read.
                return episode._add_attempt(
                    by=by,
                    version=version,
                    client_token=client_token,
                    number=1,
                    facts=episode,
                )
        except IntegrityError:
            # The same Start won a race from another request (the token is unique): answer
            # with its attempt.
            replayed = _started_by(client_token, facts=episode.facts())
            if replayed is None:
                raise
            return replayed

    def transfer_needles(self, *, by, to, client_token, shown_at):
        """Move every IO needle in place of this patient to `to`; returns how many moved.

        One transaction under the episode's lock; each needle gets its own TRANSFERRED event.
        A retried request answers what it did the first time; the same token sent to another
        location is refused, and so is a move from a page that showed the needles at
        `shown_at` (a location pk) when another tablet has moved them since.
        """
        with transaction.atomic():
            Episode.objects.select_for_update().get(pk=self.pk)
            earlier = list(
                AttemptEvent.objects.filter(
                    attempt__episode=self,
                    kind=AttemptEvent.Kind.TRANSFERRED,
                    data__request=str(client_token),
                ).values_list("data__to", flat=True)
            )
            if earlier:
                if set(earlier) != {to.pk}:
                    raise ValidationError(REUSED_FORM)
                return len(earlier)
            # Each move's token is derived from the request's: the request's own was never
            # recorded, unless another tap used it.
            if AttemptEvent.objects.filter(client_token=client_token).exists():
                raise ValidationError(REUSED_FORM)
            needles = list(self.attempts.in_place().select_related("location"))
            if moved_meanwhile := [n for n in needles if n.location_id != shown_at]:
                raise flow.Refused(
                    MOVED_MEANWHILE.format(now_at=moved_meanwhile[0].location),
                    code="stale",
                )
            needles = [n for n in needles if n.location_id != to.pk]
            if not needles:
                raise flow.Refused(NOTHING_TO_MOVE, code="not_now")
            moved = 0
            for attempt in needles:
                attempt.record_event(
                    kind=AttemptEvent.Kind.TRANSFERRED,
                    by=by,
                    client_token=uuid.uuid5(client_token, str(attempt.pk)),
                    data={
                        "from": attempt.location_id,
                        "to": to.pk,
                        "to_name": to.name,
                        "request": str(client_token),
                    },
                )
                moved += 1
            return moved

    def start_attempt(self, *, by, version, client_token, after=None):
        """The next attempt of this episode, following `version`, with its STARTED event.

        A repeated `client_token` returns the attempt that token already started here; a token
        used for anything else is refused with a message. `after`: the number of the attempt
        the tap came from; if a later one exists already (another tablet started it), that one
        is returned and nothing is recorded.
        """
        if (replayed := _started_by(client_token, episode=self)) is not None:
            return replayed
        try:
            with transaction.atomic():
                # Lock the episode so two tablets starting at once get numbers 1 and 2, not 1
                # twice, and read its facts as they stand (a weight may have been corrected).
                locked = Episode.objects.select_for_update().get(pk=self.pk)
                later = self.attempts.filter(number__gt=after or 0).order_by("number")
                if after is not None and (following := later.first()) is not None:
                    return following
                number = (
                    self.attempts.aggregate(last=models.Max("number"))["last"] or 0
                ) + 1
                return self._add_attempt(
                    by=by,
                    version=version,
                    client_token=client_token,
                    number=number,
                    facts=locked,
                )
        except IntegrityError:
            replayed = _started_by(client_token, episode=self)
            if replayed is None:
                raise
            return replayed

    def _add_attempt(self, *, by, version, client_token, number, facts):
        """Attempt `number` of this episode and its STARTED event, which keeps the episode's
        facts as `facts` (this episode, read under its lock) has them. Inside a transaction."""
        attempt = Attempt(episode=self)
        event = AttemptEvent(
            kind=AttemptEvent.Kind.STARTED,
            recorded_by=by,
            client_token=client_token,
            occurred_at=timezone.now(),
            data={
                "number": number,
                "version": version.number,
                "version_id": version.pk,
                "location": facts.location_id,
                "episode": facts.facts(),
            },
        )
        flow.apply(attempt, event)
        attempt.save()
        event.attempt = attempt
        event.save()
        return attempt


def _as_json(data):
    """`data` as the database will give it back (decimals as text, times as ISO)."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _started_by(client_token, *, facts=None, episode=None):
    """The attempt a Start with this token already made, or None; refuses another use of it."""
    existing = (
        AttemptEvent.objects.filter(client_token=client_token)
        .select_related("attempt")
        .first()
    )
    if existing is None:
        return None
    if existing.kind != AttemptEvent.Kind.STARTED:
        raise ValidationError(REUSED_FORM)
    if episode is not None and existing.attempt.episode_id != episode.pk:
        raise ValidationError(REUSED_FORM)
    if facts is not None and (
        existing.attempt.number != 1 or existing.data.get("episode") != facts
    ):
        raise ValidationError(REUSED_FORM)
    return existing.attempt


def _replayed_on(client_token):
    """The attempt the token was already recorded on (None: not used yet)."""
    return models.Subquery(
        AttemptEvent.objects.filter(client_token=client_token)
        .order_by()  # the token is unique
        .values("attempt_id")[:1]
    )


@dataclass(frozen=True)
class _TapLock:
    """Which token a locking read answered, and the atomic block whose transaction holds it."""

    client_token: uuid.UUID | None
    block: object

    def holds(self, client_token):
        # The block is still open (it is on the connection's stack) only while the lock is
        # held; an identity test, so a later block cannot pass for it.
        return self.client_token == client_token and any(
            block is self.block for block in transaction.get_connection().atomic_blocks
        )


# An IO needle in place: it went into the bone, its removal is not recorded, and the attempt has
# its outcome. A success, and as much a needle stopped (failed or abandoned) after it went in:
# it keeps its 24-hour clock, the board and the reminders until its removal is recorded.
IN_PLACE = Q(inserted_at__isnull=False, removed_at__isnull=True) & ~Q(
    outcome="in_progress"
)


class AttemptQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Attempts at the user's locations."""
        return self.filter(location__staff=user)

    def in_progress(self):
        return self.filter(outcome=Attempt.Outcome.IN_PROGRESS)

    def in_place(self):
        """IO needles in bone and not yet removed (`IN_PLACE`)."""
        return self.filter(IN_PLACE)

    def on_board(self):
        """Needles in place with what the board shows and nothing else, due first."""
        return (
            self.in_place()
            .select_related("location", "site", "needle", "episode")
            .only(
                "public_id",
                "location__name",
                "episode__patient_reference",
                "site__name",
                "side",
                "needle__length_mm",
                "needle__hub_colour",
                # removal_state's
                "outcome",
                "inserted_at",
                "removed_at",
                "removal_due_at",
            )
            .order_by("removal_due_at")
        )

    def with_users_locations(self, user):
        """`is_users_location`: whether `user` works at the attempt's location (same query)."""
        staff = Location.staff.through.objects.filter(
            location_id=models.OuterRef("location_id"), user_id=user.pk
        )
        return self.annotate(is_users_location=models.Exists(staff))

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

    def for_tap(self, user):
        """What a tap's card reads, of an attempt at one of `user`'s locations: the episode
        joined, nothing else (building the query costs more than running it); the version's
        content, its site and needle are read once per process (`StageContent`)."""
        # No ORDER BY for one row by its key: ordering was two fifths of compiling the query.
        return self.select_related("episode").visible_to(user).order_by()

    def locked_for_tap(self, *, public_id, client_token):
        """The attempt with this public_id, its row locked (not the rows joined to it) and
        `replayed_on` answered for `client_token` in the same query; raises DoesNotExist.

        Call inside `transaction.atomic()`: `record_event` for this token in the same
        transaction then reads the row no more (a tap reads its attempt once).
        """
        attempt = (
            self.select_for_update(of=("self",))
            .annotate(replayed_on=_replayed_on(client_token))
            .get(public_id=public_id)
        )
        attempt._tap_lock = _TapLock(
            client_token=client_token,
            block=transaction.get_connection().atomic_blocks[-1],
        )
        return attempt


class Attempt(models.Model):
    """One insertion attempt in an episode; its columns project the attempt's events."""

    Outcome = flow.Outcome
    Stage = flow.Stage

    class Side(models.TextChoices):
        LEFT = "left", "Left"
        RIGHT = "right", "Right"

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
    revision = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="How many cards the attempt has moved through: a tap from a card drawn "
        "at an older revision is stale.",
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
    confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When placement was confirmed (review's time to confirmation).",
    )
    removal_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    removed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Durations review reads (the numbers' quantiles sort them), projected from the times
    # above: None until both ends are known.
    to_bone = models.DurationField(
        null=True, blank=True, editable=False, help_text="Start → needle in bone."
    )
    to_confirmed = models.DurationField(
        null=True,
        blank=True,
        editable=False,
        help_text="Needle in bone → placement confirmed.",
    )
    dwell = models.DurationField(
        null=True, blank=True, editable=False, help_text="Needle in bone → removal."
    )
    complications = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="The complication checks ticked at removal, as their text "
        "(review's complications by kind).",
    )
    other_complication = models.TextField(
        blank=True, editable=False, help_text="A complication written at removal."
    )
    ticked_step_ids = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="The checks ticked now: the steps whose latest tick says ticked.",
    )
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
                condition=IN_PLACE,
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
        """`IN_PLACE`, for one attempt in memory."""
        return (
            self.outcome != self.Outcome.IN_PROGRESS
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

    @property
    def site_label(self):
        """ "Proximal tibia, left": the site and side as every page and notice says them."""
        if not self.site_id:
            return ""
        return f"{self.site.name}, {self.get_side_display().lower()}"

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
        revision=None,
        clock=None,
    ):
        """Append one event and update the projection in the same transaction; return the event.

        `flow.check` decides, under the row lock, whether the attempt's state allows the event;
        `revision` is the attempt's revision when the tapped card was drawn (None: not from a
        card). A repeated `client_token` (double tap, retry after a dropped connection) returns
        the event already recorded instead of a second one; the same token with other data is
        refused. Raises `flow.Refused` (nothing recorded, the screen is out of date) or
        ValidationError (bad data, with the field it concerns).
        """
        text = json.dumps(data or {}, cls=DjangoJSONEncoder)
        if "\\u0000" in text:
            raise ValidationError("Text cannot contain null characters.")
        data = json.loads(text)  # as the database will give it back
        held = self._holds_tap_lock(client_token)
        try:
            # Inside a tap's own transaction (`locked_for_tap`) that is the unit, and a
            # savepoint would cost two more round trips per tap.
            with nullcontext() if held else transaction.atomic():
                current = self if held else self._lock_row(client_token)
                if current.replayed_on is not None:
                    existing = AttemptEvent.objects.get(client_token=client_token)
                    self._copy_projection_from(current)
                    return existing.as_replay_of(attempt=self, kind=kind, data=data)
                try:
                    flow.check(
                        current,
                        kind=kind,
                        data=data,
                        revision=revision,
                        now=timezone.now(),
                    )
                except flow.Refused:
                    # Show the state that refused the tap, not the one the view read first.
                    self._copy_projection_from(current)
                    raise
                if kind == AttemptEvent.Kind.CORRECTION:
                    data, corrects = current.correction(data)
                if clock:
                    # Whose clock `occurred_at` is (a tap a tablet kept offline): the
                    # record's, not part of what a retry must repeat.
                    data = {**data, "clock": clock}
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
                current.replayed_on = current.pk
                if changed := flow.apply(current, event):
                    current.save(update_fields=changed)
                if (
                    data.get("field") == "weight_kg"
                    and kind == AttemptEvent.Kind.CORRECTION
                ):
                    weight = flow.episode_weight_after(None, event)
                    Episode.objects.filter(pk=current.episode_id).update(
                        weight_kg=weight
                    )
                    if Attempt.episode.is_cached(self):
                        self.episode.weight_kg = weight
                self._copy_projection_from(current)
        except IntegrityError:
            if held:
                # The caller's transaction is spoilt (PostgreSQL refuses any further query in
                # it): the caller reads the tap again, and that read finds the token.
                raise
            # The same token won a race from another request: answer with that event.
            existing = AttemptEvent.objects.filter(client_token=client_token).first()
            if existing is None:
                raise
            return existing.as_replay_of(attempt=self, kind=kind, data=data)
        return event

    def _holds_tap_lock(self, client_token):
        """Whether this object was read by `locked_for_tap` for this token in a transaction
        that is still open: its lock holds and its `replayed_on` answers the token."""
        lock = self.__dict__.get("_tap_lock")
        return lock is not None and lock.holds(client_token)

    def _lock_row(self, client_token):
        """This attempt's row under lock, with `replayed_on` answered for `client_token`.

        Lock the attempt, and in the same query ask whether this token was already used: two
        tablets tapping at once are applied one after the other, and a retry answers with
        what the first try recorded.
        """
        return (
            Attempt.objects.select_for_update(of=("self",))
            .annotate(replayed_on=_replayed_on(client_token))
            .get(pk=self.pk)
        )

    def correction(self, data):
        """A correction's full data (adds the old value) and the event it amends.

        Called under record_event's lock; a weight correction also locks the episode, since
        the weight is the patient's, shared by all their attempts.
        """
        field = data["field"]
        if field == "weight_kg":
            self.episode = Episode.objects.select_for_update().get(pk=self.episode_id)
        corrects = (
            self.events.filter(
                Q(kind__in=flow.SET_BY[field])
                | Q(kind=AttemptEvent.Kind.CORRECTION, data__field=field)
            )
            .order_by("-pk")
            .first()
        )
        return {**data, **flow.correction_facts(self, data)}, corrects

    def _copy_projection_from(self, current):
        """Take the columns just saved, without reading the row again."""
        for model_field in self._meta.concrete_fields:
            name = model_field.attname
            if getattr(self, name) != getattr(current, name):
                setattr(self, name, getattr(current, name))
                if model_field.is_relation and model_field.is_cached(self):
                    model_field.delete_cached_value(self)


class AttemptEvent(models.Model):
    """One thing that happened in an attempt. Created, never updated, never deleted."""

    Kind = flow.Kind

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
        """This event, answering a retry of the request that recorded it.

        A retry sends what the first try sent; what the record added itself (a correction's
        old value) is not part of the comparison.
        """
        sent = _as_json(data)
        same = all(self.data.get(key, object()) == value for key, value in sent.items())
        if self.attempt_id != attempt.pk or self.kind != kind or not same:
            raise ValidationError(REUSED_FORM)
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


class AppendOnlyQuerySet(models.QuerySet):
    """Rows that are only ever added: no bulk update or delete through the ORM either."""

    def update(self, **kwargs):
        raise ValidationError(
            f"{self.model._meta.verbose_name_plural} are never changed."
        )

    def delete(self):
        raise ValidationError(
            f"{self.model._meta.verbose_name_plural} are never deleted."
        )


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(
                f"A {self._meta.verbose_name} is never changed; add a new one."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(f"A {self._meta.verbose_name} is never deleted.")


class RecordAccess(AppendOnly):
    """Who looked at or exported which patient record, when, with which filter (design §6).

    Written by every view of an attempt's record and every export; read by supervisors;
    changed by nobody.
    """

    class Action(models.TextChoices):
        ATTEMPT_PAGE = "attempt_page", "Opened the attempt page"
        SUMMARY = "summary", "Opened the attempt summary"
        LABEL = "label", "Opened the label"
        REMOVAL_PAGE = "removal_page", "Opened the removal page"
        TRANSFER_PAGE = "transfer_page", "Opened the transfer page"
        TIMELINE = "timeline", "Opened the timeline"
        LIST_CSV = "list_csv", "Downloaded the attempt list (CSV)"
        EVENTS_CSV = "events_csv", "Downloaded the events (CSV)"
        FHIR = "fhir", "Downloaded FHIR"
        OPERATOR_CSV = "operator_csv", "Downloaded an operator log (CSV)"

    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    attempt = models.ForeignKey(
        Attempt,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accesses",
        help_text="The record opened or exported alone; empty for a list export.",
    )
    query = models.TextField(
        blank=True, help_text="The filter, as the page's query string."
    )
    record_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many records an export held."
    )

    class Meta:
        verbose_name = "record access"
        verbose_name_plural = "record accesses"
        ordering = ("-at", "-pk")
        constraints = (
            models.CheckConstraint(
                condition=Q(
                    action__in=[
                        "attempt_page",
                        "summary",
                        "label",
                        "removal_page",
                        "transfer_page",
                        "timeline",
                        "list_csv",
                        "events_csv",
                        "fhir",
                        "operator_csv",
                    ]
                ),
                name="%(app_label)s_%(class)s_action_valid",
            ),
        )

    def __str__(self):
        return f"{self.user} · {self.get_action_display()} · {self.at:%Y-%m-%d %H:%M}"

    @classmethod
    def log(cls, request, action, *, attempt=None, record_count=None):
        """One row for one view or export by the request's user."""
        return cls.objects.create(
            user=request.user,
            action=action,
            attempt=attempt,
            query=request.GET.urlencode(),
            record_count=record_count,
        )
