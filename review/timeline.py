"""An attempt's events in words, against the checklist version the clinician followed.

The step texts come from the attempt's own version (published versions never change), so a
timeline read after a new version is published still shows what the clinician saw.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from attempts.models import AttemptEvent, Location
from checklists.models import NeedleSize, Site, Step
from review import deviations

Kind = AttemptEvent.Kind
FIELD_LABELS = {
    "weight_kg": "Weight (kg)",
    "side": "Side",
    "inserted_at": "Needle in bone time",
    "removed_at": "Removal time",
}


@dataclass
class Row:
    """One event as the timeline, the CSV and the printout show it."""

    event: AttemptEvent
    since_start: object
    what: str
    details: list = field(default_factory=list)
    deviation: str = ""

    @property
    def deviation_label(self):
        return deviations.LABELS.get(self.deviation, "")

    @property
    def recorded_later(self):
        """Whether the tap was recorded noticeably after it happened (a correction, a replay)."""
        gap = self.event.recorded_at - self.event.occurred_at
        return abs(gap.total_seconds()) >= 1

    @property
    def who(self):
        user = self.event.recorded_by
        if user is None:  # the reminder sweeper
            return "System"
        return user.get_full_name() or user.get_username()


def events_for(attempt):
    """The attempt's events in recording order, each with its deviation (one query)."""
    return (
        attempt.events.select_related("recorded_by", "step")
        .annotate(deviation=deviations.event_deviation())
        .order_by("pk")
    )


class Words:
    """Reads an attempt version's step, needle and location names once, for many events."""

    def __init__(self, versions):
        self.steps = dict(
            Step.objects.filter(version_id__in=versions).values_list("pk", "text")
        )
        self.needles = {
            needle.pk: str(needle)
            for needle in NeedleSize.objects.filter(version_id__in=versions)
        }
        self.locations = dict(Location.objects.values_list("pk", "name"))
        self.sites = dict(
            Site.objects.filter(version_id__in=versions).values_list("pk", "name")
        )

    def step_texts(self, pks):
        return [self.steps.get(pk, f"step {pk}") for pk in pks or ()]

    def describe(self, event):
        """(what, [details]) of one event, in words."""
        data, kind = event.data, event.kind
        what = event.get_kind_display()
        details = []
        if kind == Kind.STARTED:
            episode = data.get("episode", {})
            weight = episode.get("weight_kg")
            details.append(
                f"{episode.get('age_group', '').capitalize()}, "
                + (f"{weight} kg" if weight else "weight unknown")
            )
        elif kind == Kind.STEP_CHECKED:
            text = (
                event.step.text if event.step_id else self.steps.get(data.get("step"))
            )
            what = "Ticked" if data.get("checked") else "Unticked"
            details.append(text or "")
        elif kind == Kind.SITE_CHOSEN:
            name = data.get("site_name") or self.sites.get(data.get("site"), "")
            details.append(f"{name}, {data.get('side')}")
        elif kind == Kind.CONTRAINDICATIONS_SCREENED:
            present = data.get("present_text") or []
            details.append(
                "Present: " + "; ".join(present) if present else "None present"
            )
            if data.get("override_reason"):
                details.append(f"Went ahead because: {data['override_reason']}")
        elif kind == Kind.NEEDLE_CHOSEN:
            details.append(
                data.get("needle_name") or self.needles.get(data.get("needle"), "")
            )
            suggested = data.get("suggested")
            if data.get("reason"):
                details.append(
                    (
                        f"Suggested: {self.needles.get(suggested, '—')}. "
                        if suggested
                        else "No needle suggested for this weight. "
                    )
                    + f"Reason: {data['reason']}"
                )
        elif kind in deviations.CARD_ENDS:
            confirmed = self.step_texts(data.get("confirmed"))
            missing = self.step_texts(data.get("not_confirmed"))
            if confirmed:
                details.append("Confirmed: " + "; ".join(confirmed))
            if missing:
                details.append("Not confirmed: " + "; ".join(missing))
        elif kind == Kind.OUTCOME_RECORDED:
            details.append(str(data.get("outcome", "")).capitalize())
            if data.get("reason"):
                details.append(f"Reason: {data['reason']}")
        elif kind == Kind.TROUBLESHOOTING_OPENED:
            details.append(f"At {data.get('stage', '')}")
        elif kind == Kind.TROUBLESHOOTING_ACTION:
            details.append(f"{data.get('problem')} → {data.get('action')}")
        elif kind == Kind.CORRECTION:
            label = FIELD_LABELS.get(data.get("field"), data.get("field"))
            details.append(
                f"{label}: {_value(data.get('old'))} → {_value(data.get('new'))}"
            )
            details.append(f"Reason: {data.get('reason', '')}")
            if data.get("later"):
                details.append("Later insertion time: flagged for review")
        elif kind == Kind.REMOVED:
            details.append(f"Site: {data.get('condition', '')}")
            found = [*data.get("complications", [])]
            if data.get("other_complication"):
                found.append(data["other_complication"])
            details.append(
                "Complications: " + "; ".join(found) if found else "No complications"
            )
        elif kind == Kind.TRANSFERRED:
            moved = [
                f"From {self.locations.get(data.get('from'), data.get('from'))}"
                if data.get("from")
                else "",
                f"To {self.locations.get(data.get('to'), data.get('to'))}",
            ]
            details.append(" ".join(part for part in moved if part))
        elif kind == Kind.REMINDER_SENT:
            reminder = data.get("reminder") or data.get("kind") or ""
            details.append(str(reminder).replace("_", " ").capitalize())
        return what, [detail for detail in details if detail]


def _value(value):
    """A stored value in words: times in the hospital's zone, 24-hour."""
    if value in (None, ""):
        return "unknown"
    if isinstance(value, str) and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return timezone.localtime(moment).strftime("%d %b %Y %H:%M:%S")
    return str(value)


def timeline(attempt):
    """The attempt's rows, in order."""
    events = list(events_for(attempt))
    words = Words([attempt.checklist_version_id])
    rows = []
    for event in events:
        what, details = words.describe(event)
        rows.append(
            Row(
                event=event,
                since_start=event.occurred_at - attempt.started_at,
                what=what,
                details=details,
                deviation=event.deviation,
            )
        )
    return rows
