"""The bay's flow in one place: which event may be recorded at which stage, and where it leads.

Everything that decides whether a tap is allowed reads `TRANSITIONS`: `Attempt.record_event`
(under the row lock), the cards a page may show (`can_show`), the progress links, and the fold
that rebuilds an attempt's row from its events (`fold`). No other module keeps a rule of the flow.

The server decides what a tap means from the attempt's state: the URL names the move (the button
the clinician tapped), this table says whether that move is open at the attempt's stage, and the
card's `revision` (how many card moves the attempt had when the card was drawn) tells a stale card
from a current one.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models

# The hard rule of the product: an IO needle comes out within 24 hours of insertion
# [seed: Procedure/application]; a named constant, never a setting or editable content.
REMOVAL_DEADLINE = timedelta(hours=24)

# A data-entry bound, not clinical guidance: above any human weight ever recorded (635 kg).
MAX_PLAUSIBLE_WEIGHT_KG = Decimal(700)
# Corrections may not claim a time later than the server's clock by more than this (clock skew).
FUTURE_TOLERANCE = timedelta(minutes=1)


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


class Outcome(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    ABANDONED = "abandoned", "Abandoned"


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


# A move is an event kind, except that an outcome is two moves: success ends the flow at aftercare
# from the outcome card only; stop (failed or abandoned) ends it from any card.
SUCCESS, STOP = "success", "stop"
IN_PROGRESS = (
    Stage.INDICATION,
    Stage.SITE,
    Stage.SCREEN,
    Stage.NEEDLE,
    Stage.PREPARATION,
    Stage.INSERTION,
    Stage.CONFIRMATION,
    Stage.OUTCOME,
)
# Until the needle is in bone another site or needle may still be chosen.
BEFORE_INSERTION = IN_PROGRESS[: IN_PROGRESS.index(Stage.INSERTION) + 1]
STAYS = None  # the move leaves the stage as it is

# move → {stage it may be recorded in: stage it leads to (STAYS: unchanged)}
TRANSITIONS = {
    Kind.STARTED: {None: Stage.INDICATION},
    Kind.INDICATION_CONFIRMED: {Stage.INDICATION: Stage.SITE},
    # Another site (a contraindication found, a failed landmark) means a new limb to screen.
    Kind.SITE_CHOSEN: dict.fromkeys(BEFORE_INSERTION[1:], Stage.SCREEN),
    Kind.CONTRAINDICATIONS_SCREENED: {Stage.SCREEN: Stage.NEEDLE},
    # Another needle before insertion keeps the checks already done.
    Kind.NEEDLE_CHOSEN: {
        Stage.NEEDLE: Stage.PREPARATION,
        Stage.PREPARATION: STAYS,
        Stage.INSERTION: STAYS,
    },
    Kind.STEP_CHECKED: {
        Stage.PREPARATION: STAYS,
        Stage.INSERTION: STAYS,
        Stage.CONFIRMATION: STAYS,
    },
    Kind.STAGE_COMPLETED: {Stage.PREPARATION: Stage.INSERTION},
    Kind.NEEDLE_IN_BONE: {Stage.INSERTION: Stage.CONFIRMATION},
    Kind.PLACEMENT_CONFIRMED: {Stage.CONFIRMATION: Stage.OUTCOME},
    SUCCESS: {Stage.OUTCOME: Stage.AFTERCARE},
    STOP: dict.fromkeys(IN_PROGRESS, Stage.CLOSED),
    Kind.TROUBLESHOOTING_OPENED: dict.fromkeys((*IN_PROGRESS, Stage.AFTERCARE), STAYS),
    Kind.TROUBLESHOOTING_ACTION: dict.fromkeys((*IN_PROGRESS, Stage.AFTERCARE), STAYS),
    # The record is corrected once the needle is in, or the attempt is over. Before, another
    # site is chosen on its card (and the new limb screened), another needle on its own.
    # Which value may be corrected at which point is `check_correction`'s business.
    Kind.CORRECTION: dict.fromkeys(
        (Stage.CONFIRMATION, Stage.OUTCOME, Stage.AFTERCARE, Stage.CLOSED), STAYS
    ),
    # A needle stopped (failed, abandoned) after it went in is still in place once closed:
    # whether a needle is in place is `check`'s business (Attempt.is_in_place).
    Kind.REMOVED: {Stage.AFTERCARE: Stage.CLOSED, Stage.CLOSED: STAYS},
    Kind.TRANSFERRED: {Stage.AFTERCARE: STAYS, Stage.CLOSED: STAYS},
    # A reminder that went out is recorded even if the needle came out a moment before.
    Kind.REMINDER_SENT: {Stage.AFTERCARE: STAYS, Stage.CLOSED: STAYS},
}

# The moves that answer a card: each one advances the attempt's revision, so a card drawn
# before it is stale. Ticking a check answers no card but must come from the current one.
CARD_MOVES = frozenset(
    {
        Kind.INDICATION_CONFIRMED,
        Kind.SITE_CHOSEN,
        Kind.CONTRAINDICATIONS_SCREENED,
        Kind.NEEDLE_CHOSEN,
        Kind.STAGE_COMPLETED,
        Kind.NEEDLE_IN_BONE,
        Kind.PLACEMENT_CONFIRMED,
        SUCCESS,
        STOP,
    }
)
NEEDS_CURRENT_CARD = CARD_MOVES | {Kind.STEP_CHECKED}

# The card each stage shows and the move that answers it; "stop" is a card of its own.
STOP_CARD = "stop"
CARD_MOVE = {
    Stage.INDICATION: Kind.INDICATION_CONFIRMED,
    Stage.SITE: Kind.SITE_CHOSEN,
    Stage.SCREEN: Kind.CONTRAINDICATIONS_SCREENED,
    Stage.NEEDLE: Kind.NEEDLE_CHOSEN,
    Stage.PREPARATION: Kind.STAGE_COMPLETED,
    Stage.INSERTION: Kind.NEEDLE_IN_BONE,
    Stage.CONFIRMATION: Kind.PLACEMENT_CONFIRMED,
    Stage.OUTCOME: SUCCESS,
    STOP_CARD: STOP,
}
# The progress indicator: the stages a clinician moves through, in order.
PROGRESS = (*IN_PROGRESS, Stage.AFTERCARE)

STALE = "This step was already passed — the screen has been updated."
NOT_YET = "This step is not open yet — the screen has been updated."
FINISHED = "This attempt is already finished — the screen has been updated."


class Refused(ValidationError):
    """A tap the attempt's state does not allow: recorded nothing; the current card is shown."""


def move_of(kind, data):
    """The move an event makes: its kind, or success / stop for an outcome."""
    if kind == Kind.OUTCOME_RECORDED:
        return SUCCESS if (data or {}).get("outcome") == Outcome.SUCCESS else STOP
    return kind


def allows(stage, move):
    return stage in TRANSITIONS.get(move, {})


def not_now(attempt, kind, data):
    """Why the attempt's stage does not take this kind of event now, or None if it does."""
    move = move_of(kind, data)
    return None if allows(attempt.stage, move) else _why_not(attempt.stage, move)


def leads_from(move):
    """{stage the move may be recorded in: the stage it leads to} (a stay resolved)."""
    return {stage: leads or stage for stage, leads in TRANSITIONS[move].items()}


def can_show(attempt, card):
    """Whether the page may show `card` now: the current stage's, or one its moves reopen."""
    if card == attempt.stage:
        return True
    return card != Stage.CLOSED and allows(attempt.stage, CARD_MOVE.get(card))


# The tablet's clock may run a little ahead of the server's; more than this is not believed.
TABLET_CLOCK_AHEAD = timedelta(seconds=5)
TABLET_TIME_USED = "tablet"
TABLET_TIME_REFUSED = "server: the tablet's time was outside the attempt"


def tablet_time(attempt, tapped_at_ms, *, now, last_event_at=None):
    """(occurred_at, clock note) for a tap the tablet kept through a network drop.

    The tablet's time when it is credible: not in the future (beyond a small skew, then the
    server's own time) and not before any time the attempt already holds (its start, the
    needle in bone, confirmation, removal, and `last_event_at`, its latest event), since every
    tap follows those: a tablet whose clock runs behind the server's must not confirm or
    remove a needle before it went in, nor put the needle in bone before the site was chosen.
    Otherwise the server's time and a note saying so. (None, None) for an ordinary tap: the
    server's clock.
    """
    if tapped_at_ms is None:
        return None, None
    try:
        tapped = datetime.fromtimestamp(tapped_at_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return now, TABLET_TIME_REFUSED
    held = (
        attempt.started_at,
        attempt.inserted_at,
        attempt.confirmed_at,
        attempt.removed_at,
        last_event_at,
    )
    latest = max(moment for moment in held if moment is not None)
    if latest <= tapped <= now + TABLET_CLOCK_AHEAD:
        return min(tapped, now), TABLET_TIME_USED
    return now, TABLET_TIME_REFUSED


def is_stale(attempt, revision):
    """Whether a card drawn at `revision` is one the attempt has since moved past."""
    return revision is not None and revision != attempt.revision


def check(attempt, *, kind, data, revision, now):
    """Refuse (raise) a move the attempt's state does not allow; the one gate of the flow."""
    move = move_of(kind, data)
    if move in NEEDS_CURRENT_CARD and is_stale(attempt, revision):
        raise Refused(STALE, code="stale")
    if (why := not_now(attempt, kind, data)) is not None:
        raise Refused(why, code="not_now")
    if move == STOP and data.get("outcome") not in (Outcome.FAILED, Outcome.ABANDONED):
        raise ValidationError(
            {"outcome": "Choose success, failed or abandoned."}, code="invalid"
        )
    failed = move == STOP and data.get("outcome") == Outcome.FAILED
    if failed and not str(data.get("reason", "")).strip():
        raise ValidationError(
            {"reason": "Say briefly why it failed (e.g. no flow, extravasation)."}
        )
    if kind == Kind.REMINDER_SENT and attempt.inserted_at is None:
        raise Refused(NOT_IN_PLACE, code="not_now")
    if kind in (Kind.REMOVED, Kind.TRANSFERRED) and not attempt.is_in_place:
        raise Refused(NOT_IN_PLACE, code="not_now")
    if kind == Kind.CORRECTION:
        check_correction(attempt, data, now=now)


NOT_IN_PLACE = "This IO needle is not in place (already removed, or never in)."
NOTHING_TO_CORRECT = (
    "Nothing is corrected before the needle is in: to change the site or side, choose it "
    "again on its card (the new limb is then screened); the needle, on the needle card."
)


def _why_not(stage, move):
    if move in (Kind.REMOVED, Kind.TRANSFERRED):
        return NOT_IN_PLACE
    if stage == Stage.CLOSED:
        return FINISHED
    if move == Kind.CORRECTION:
        return NOTHING_TO_CORRECT
    allowed_from = TRANSITIONS.get(move, {})
    order = [*IN_PROGRESS, Stage.AFTERCARE, Stage.CLOSED]
    if allowed_from and all(
        s is not None and order.index(s) < order.index(stage) for s in allowed_from
    ):
        return STALE
    return NOT_YET


def check_correction(attempt, data, *, now):
    """A correction names a value the record has, a plausible new value and a reason."""
    field, new = data.get("field"), data.get("new")
    if field not in CORRECTABLE:
        raise ValidationError({"field": "Choose what to correct."})
    if not str(data.get("reason", "")).strip():
        raise ValidationError({"reason": "Give the reason for the correction."})
    if field == "weight_kg":
        weight = _weight(new)
        if weight is None:
            raise ValidationError({"weight_kg": "Enter the corrected weight in kg."})
        if not Decimal("0.1") <= weight <= MAX_PLAUSIBLE_WEIGHT_KG:
            raise ValidationError(
                {"weight_kg": "Enter a weight from 0.1 to 700 kg (in kg)."}
            )
    elif field == "side":
        if not attempt.site_id:
            raise ValidationError({"field": "No side is recorded yet."})
        if new not in ("left", "right"):
            raise ValidationError({"side": "Choose the correct side."})
        if new == attempt.side:
            raise ValidationError({"side": "That is the side already recorded."})
    elif field == "inserted_at":
        if attempt.inserted_at is None:
            raise ValidationError(
                {"field": "There is no insertion time to correct yet."}
            )
        value = _moment(new, "inserted_at", "Enter the corrected insertion time.")
        if value > now + FUTURE_TOLERANCE:
            raise ValidationError(
                {"inserted_at": "The insertion time cannot be in the future."}
            )
        if at_or_after(value, attempt.started_at) < attempt.started_at:
            raise ValidationError(
                {
                    "inserted_at": "The insertion time cannot be before the attempt started."
                }
            )
        if attempt.removed_at is not None and value > attempt.removed_at:
            raise ValidationError(
                {"inserted_at": "The insertion time cannot be after the removal."}
            )
    elif field == "removed_at":
        if attempt.removed_at is None:
            raise ValidationError({"field": "There is no removal time to correct yet."})
        value = _moment(new, "removed_at", "Enter the corrected removal time.")
        if value > now + FUTURE_TOLERANCE:
            raise ValidationError(
                {"removed_at": "The removal time cannot be in the future."}
            )
        if at_or_after(value, attempt.inserted_at) < attempt.inserted_at:
            raise ValidationError(
                {"removed_at": "The removal time cannot be before the insertion."}
            )


CORRECTABLE = ("weight_kg", "side", "inserted_at", "removed_at")
# For a correction's `corrects`: the event kinds that set each correctable value.
SET_BY = {
    "weight_kg": (Kind.STARTED,),
    "side": (Kind.SITE_CHOSEN,),
    "inserted_at": (Kind.NEEDLE_IN_BONE,),
    "removed_at": (Kind.REMOVED,),
}


def _weight(value):
    try:
        return None if value in (None, "") else Decimal(str(value))
    except ArithmeticError:
        raise ValidationError(
            {"weight_kg": "Enter the weight in kg as a number."}
        ) from None


def _moment(value, field, missing):
    if not value:
        raise ValidationError({field: missing})
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({field: missing}) from None
    if moment.tzinfo is None:
        raise ValidationError({field: missing})
    return moment


def correction_facts(attempt, data):
    """What the record itself adds to a correction: the old value and whether it moves the
    insertion later (which would lengthen the dwell)."""
    field = data["field"]
    old = {
        "weight_kg": attempt.episode.weight_kg,
        "side": attempt.side,
        "inserted_at": attempt.inserted_at,
        "removed_at": attempt.removed_at,
    }[field]
    later = field == "inserted_at" and _moment(data["new"], field, "") > old
    return {"old": as_text(old), "later": later}


def as_text(value):
    """A value as an event stores it: ISO for times, text for decimals, None for unknown."""
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def apply(attempt, event):
    """Project one event onto the attempt's columns; returns the names of the columns changed.

    The same function serves recording (inside record_event's transaction) and `fold`, so the
    stored row and the row rebuilt from the log cannot disagree.
    """
    before = {name: getattr(attempt, name) for name in PROJECTED}
    data = event.data
    kind = event.kind
    move = move_of(kind, data)
    if kind == Kind.STARTED:
        attempt.number = data["number"]
        attempt.location_id = data["location"]
        attempt.checklist_version_id = data["version_id"]
        attempt.operator_id = event.recorded_by_id
        attempt.started_at = event.occurred_at
    elif kind == Kind.SITE_CHOSEN:
        attempt.site_id, attempt.side = data["site"], data["side"]
    elif kind == Kind.CONTRAINDICATIONS_SCREENED:
        attempt.is_flagged |= bool(data.get("override_reason"))
    elif kind == Kind.NEEDLE_CHOSEN:
        attempt.needle_id = data["needle"]
        attempt.is_flagged |= bool(data.get("reason"))
    elif kind == Kind.NEEDLE_IN_BONE:
        attempt.inserted_at = event.occurred_at
        attempt.removal_due_at = event.occurred_at + REMOVAL_DEADLINE
    elif kind == Kind.PLACEMENT_CONFIRMED:
        attempt.confirmed_at = event.occurred_at
    elif kind == Kind.STEP_CHECKED:
        ticked = set(attempt.ticked_step_ids) - {event.step_id}
        if data.get("checked"):
            ticked.add(event.step_id)
        attempt.ticked_step_ids = sorted(ticked)
    elif kind == Kind.OUTCOME_RECORDED:
        attempt.outcome = data["outcome"]
    elif kind == Kind.REMOVED:
        attempt.removed_at = event.occurred_at
        attempt.complications = list(data.get("complications") or [])
        attempt.other_complication = data.get("other_complication") or ""
    elif kind == Kind.TRANSFERRED:
        attempt.location_id = data["to"]
    elif kind == Kind.CORRECTION:
        _apply_correction(attempt, data)
    project_durations(attempt)
    leads_to = TRANSITIONS[move].get(attempt.stage if kind != Kind.STARTED else None)
    if leads_to is not STAYS:
        attempt.stage = leads_to
    if move in CARD_MOVES:
        attempt.revision += 1
    return [name for name in PROJECTED if getattr(attempt, name) != before[name]]


def project_durations(attempt):
    """The durations review reads, from the attempt's projected times."""
    attempt.to_bone = _between(attempt.started_at, attempt.inserted_at)
    attempt.to_confirmed = _between(attempt.inserted_at, attempt.confirmed_at)
    attempt.dwell = _between(attempt.inserted_at, attempt.removed_at)


def _between(start, end):
    return None if start is None or end is None else end - start


def at_or_after(typed, earlier):
    """A time typed to the minute (a datetime-local field) stands for its whole minute: typed
    in the minute of `earlier`, a moment the record holds to the second, it is that moment.

    So the minute the attempt started can be given as the insertion time (and the insertion's
    minute as the removal time) without the record holding an insertion before the start, a
    negative time to needle in bone or dwell."""
    if earlier.replace(second=0, microsecond=0) <= typed < earlier:
        return earlier
    return typed


def _apply_correction(attempt, data):
    field, value = data["field"], data["new"]
    if field == "side":
        attempt.side = value
    elif field == "removed_at":
        attempt.removed_at = at_or_after(
            datetime.fromisoformat(value), attempt.inserted_at
        )
    elif field == "inserted_at":
        corrected = at_or_after(datetime.fromisoformat(value), attempt.started_at)
        if corrected > attempt.inserted_at:
            # A later insertion time would lengthen the dwell: the clock keeps running from the
            # earliest credible time, and the supervisor sees the flag.
            attempt.is_flagged = True
        else:
            attempt.inserted_at = corrected
            attempt.removal_due_at = corrected + REMOVAL_DEADLINE
    # A weight belongs to the episode: see `fold_episode_weight`.


def episode_weight_after(weight, event):
    """The episode's weight once `event` is applied (only weight corrections change it)."""
    if event.kind == Kind.CORRECTION and event.data.get("field") == "weight_kg":
        return _weight(event.data["new"])
    return weight


# The attempt's columns that are a projection of its events.
PROJECTED = (
    "number",
    "location_id",
    "checklist_version_id",
    "operator_id",
    "started_at",
    "stage",
    "revision",
    "site_id",
    "side",
    "needle_id",
    "inserted_at",
    "confirmed_at",
    "removal_due_at",
    "removed_at",
    "to_bone",
    "to_confirmed",
    "dwell",
    "complications",
    "other_complication",
    "ticked_step_ids",
    "outcome",
    "is_flagged",
)


def fold(events, *, blank):
    """The projected columns rebuilt from an attempt's events alone, in recording order.

    `blank` is an unsaved attempt with the model's defaults to fold onto.
    """
    for event in events:
        apply(blank, event)
    return {name: getattr(blank, name) for name in PROJECTED}


def fold_episode_weight(events):
    """An episode's weight rebuilt from the events of all its attempts, in recording order."""
    weight = None
    started = False
    for event in events:
        if event.kind == Kind.STARTED and not started:
            weight = _weight(event.data["episode"]["weight_kg"])
            started = True
        weight = episode_weight_after(weight, event)
    return weight
