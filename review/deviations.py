"""What counts as a deviation on a logged attempt (design §6): one definition, read by the list's
count, its "has deviations" filter and the timeline's highlights, so they cannot disagree.
"""

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from attempts.models import IN_PLACE, AttemptEvent

Kind = AttemptEvent.Kind

# The taps that finish a card of checks; their `not_confirmed` lists what was left unticked.
CARD_ENDS = (Kind.STAGE_COMPLETED, Kind.NEEDLE_IN_BONE, Kind.PLACEMENT_CONFIRMED)

UNTICKED = "unticked"
OVERRIDE = "override"
NEEDLE = "needle"
LATER_INSERTION = "later_insertion"
CORRECTION = "correction"
REMINDER = "reminder"
LATE_REMOVAL = "late_removal"

LABELS = {
    UNTICKED: "Checks left unticked",
    OVERRIDE: "Contraindication overridden",
    NEEDLE: "Needle other than suggested",
    LATER_INSERTION: "Insertion time moved later",
    CORRECTION: "Recorded value corrected",
    REMINDER: "Removal reminder sent",
    LATE_REMOVAL: "Needle in place past 24 hours",
}


def _has_text(key):
    return Q(data__has_key=key) & ~Q(**{f"data__{key}": ""})


# Each deviating event, most specific first (a later insertion time is also a correction).
EVENT_RULES = (
    (
        UNTICKED,
        Q(kind__in=CARD_ENDS, data__not_confirmed__0__isnull=False),
    ),
    (OVERRIDE, Q(kind=Kind.CONTRAINDICATIONS_SCREENED) & _has_text("override_reason")),
    (NEEDLE, Q(kind=Kind.NEEDLE_CHOSEN) & _has_text("reason")),
    (LATER_INSERTION, Q(kind=Kind.CORRECTION, data__later=True)),
    (CORRECTION, Q(kind=Kind.CORRECTION)),
    (REMINDER, Q(kind=Kind.REMINDER_SENT)),
)
ANY_EVENT = Q()
for _name, _rule in EVENT_RULES:
    ANY_EVENT |= _rule


def event_deviation():
    """An annotation naming each event's deviation, or "" (for the timeline)."""
    return Case(
        *(When(rule, then=Value(name)) for name, rule in EVENT_RULES),
        default=Value(""),
        output_field=CharField(),
    )


def late_removal(now):
    """Attempts whose needle stayed past its deadline: removed late, or still in and overdue."""
    return Q(removed_at__gt=F("removal_due_at")) | (
        IN_PLACE & Q(removal_due_at__lt=now)
    )


def deviation_count(now):
    """An annotation for attempts: deviating events, plus one for a needle kept past 24 h."""
    events = (
        AttemptEvent.objects.filter(attempt=OuterRef("pk"))
        .filter(ANY_EVENT)
        .order_by()
        .values("attempt")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(events, output_field=IntegerField()), 0) + Case(
        When(late_removal(now), then=Value(1)), default=Value(0)
    )


def has_deviation(now):
    """A filter for attempts with at least one deviation (without counting them)."""
    return Exists(
        AttemptEvent.objects.filter(attempt=OuterRef("pk")).filter(ANY_EVENT)
    ) | late_removal(now)
