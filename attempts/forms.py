"""One form per tap. Each parses what the page offered and says which event it records.

The forms parse and check input against the content the card showed; whether the attempt's
state allows the event is `flow.check`'s decision, made under the row lock in `record_event`.
Messages speak to a clinician in a hurry: what is wrong and what to do.
"""

import re
from datetime import UTC
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone

from attempts import flow
from attempts.flow import MAX_PLAUSIBLE_WEIGHT_KG, Kind, Outcome, Stage
from attempts.models import REUSED_FORM, AgeGroup, Attempt, Episode

STALE_FORM = "This screen is out of date. Reload the page and tap again."
NEXT_NOT_YET = (
    "This attempt is still in progress: record it as failed (Stop attempt) before starting "
    "the next one."
)
DRAWN_FOR_ANOTHER = (
    "This tap was made by the clinician signed in before you on this tablet, so it was not "
    "recorded under your name. If it is yours, tap it again."
)
TENTH = Decimal("0.1")


class TapForm(forms.Form):
    """Every recording form carries the token minted when it was rendered, and the attempt's
    revision when its card was drawn (so a tap from an out-of-date card is told apart)."""

    client_token = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={"required": STALE_FORM, "invalid": STALE_FORM},
    )
    revision = forms.IntegerField(
        widget=forms.HiddenInput,
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        error_messages={
            "invalid": STALE_FORM,
            "min_value": STALE_FORM,
            "max_value": STALE_FORM,
        },
    )
    # Set by the tablet's queue on a tap it kept through a network drop: the tablet's clock
    # (milliseconds since 1970) when the clinician tapped. Any number: one outside the
    # attempt (a tablet with a broken clock) gives the server's time, in `flow.tablet_time`,
    # rather than a refusal that would cost the tablet its kept tap.
    tapped_at = forms.IntegerField(
        widget=forms.HiddenInput,
        required=False,
        error_messages={"invalid": STALE_FORM},
    )
    # Who the card was drawn for (`{% tap_fields %}`). A tap the tablet kept through a lock
    # is sent once someone is signed in again: after a hand-over, that is someone else, under
    # whose name it must not be recorded. Only ever a reason to refuse: who tapped is the
    # signed-in user.
    drawn_for = forms.IntegerField(
        widget=forms.HiddenInput,
        required=False,
        error_messages={"invalid": STALE_FORM},
    )
    kind = None
    # Fields the card shows with their own label and message; the others' messages (hidden
    # fields, a tapped button's value) show at the top of the card.
    shown_fields = ()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.prefix_for_ids}-%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.refusal = None
        # A tap that answers a card must say which revision of the card it came from.
        answers_card = self.kind == Kind.OUTCOME_RECORDED or (
            self.kind in flow.NEEDS_CURRENT_CARD
        )
        self.fields["revision"].required = answers_card
        self.fields["revision"].error_messages["required"] = STALE_FORM

    prefix_for_ids = "tap"

    def event_data(self):
        return {}

    def event(self):
        """Keyword arguments for Attempt.record_event (besides who and the token)."""
        return {"kind": self.kind, "data": self.event_data()}

    def record(self, attempt, *, by):
        """Validate and record this tap on `attempt`; False, with the reason on the form, if not.

        `refusal` holds the message when the attempt's state refused the tap (the card was
        out of date, or drawn for someone else): nothing was recorded, and the page shows the
        current card.
        """
        if self._drawn_for_another(by):
            self.refusal = DRAWN_FOR_ANOTHER
            return False
        if self._from_an_old_card(attempt):
            recorded = self._recorded_kind(attempt)
            if recorded == self.kind:
                # Recorded when first sent (the answer was lost on the way): nothing to do
                # but show the current card. Its data is not drawn again from a card the
                # attempt has left.
                return True
            if recorded is not None:
                # The token recorded another kind of tap: no retry of this one.
                self.add_error(None, REUSED_FORM)
                return False
            # Checked before the input: an old card's answers belong to what it showed then
            # (another site's screen, another card's checks), not to the current card.
            self.refusal = flow.STALE
            return False
        if not self.is_valid():
            # Bad input on a tap the attempt's stage does not take: refused as such (409, the
            # current card), since a message at a field of a card not drawn would show nowhere.
            self.refusal = flow.not_now(attempt, self.kind, self.data)
            return False
        tapped_at = self.cleaned_data.get("tapped_at")
        # Read only for a kept tap: an ordinary tap is timed by the server.
        last_event_at = (
            attempt.events.aggregate(last=Max("occurred_at"))["last"]
            if tapped_at is not None
            else None
        )
        occurred_at, clock = flow.tablet_time(
            attempt, tapped_at, now=timezone.now(), last_event_at=last_event_at
        )
        try:
            attempt.record_event(
                by=by,
                client_token=self.cleaned_data["client_token"],
                revision=self.cleaned_data.get("revision"),
                occurred_at=occurred_at,
                clock=clock,
                **self.event(),
            )
        except flow.Refused as refusal:
            self.refusal = refusal.messages[0]
            return False
        except ValidationError as error:
            self._add_errors(error)
            return False
        self.show_chosen(attempt)
        return True

    def show_chosen(self, attempt):
        """Hand the next card what this tap chose, as the form already holds it."""

    def _drawn_for_another(self, user):
        try:
            drawn_for = self.fields["drawn_for"].clean(self.data.get("drawn_for"))
        except ValidationError:
            return False  # said at the top of the card by full_clean
        return drawn_for is not None and drawn_for != user.pk

    def _recorded_kind(self, attempt):
        """The kind of event the tap's token already recorded on this attempt, or None.

        Its own kind: a retry (a queue replaying a tap whose answer the network lost)."""
        try:
            token = self.fields["client_token"].clean(self.data.get("client_token"))
        except ValidationError:
            return None
        return (
            attempt.events.filter(client_token=token)
            .values_list("kind", flat=True)
            .first()
        )

    def _from_an_old_card(self, attempt):
        if not self.is_bound or not self.fields["revision"].required:
            return False
        try:
            revision = self.fields["revision"].clean(self.data.get("revision"))
        except ValidationError:
            return False  # said at the top of the card by full_clean
        return flow.is_stale(attempt, revision)

    def _add_errors(self, error):
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)

    def top_errors(self):
        """Messages for the top of the card: not tied to a field the card shows."""
        messages = list(self.non_field_errors())
        for name, errors in self.errors.items():
            if name != "__all__" and name not in self.shown_fields:
                messages += [e for e in errors if e not in messages]
        return messages


# Digits with at most one decimal point, signed or not (a negative weight is then told the
# least weight, not that it is no number). Not the rest of what Decimal() reads: "1_0" would be
# 10 and "1e1" 10 as well, a typo recorded as a weight.
WEIGHT_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")


class WeightField(forms.CharField):
    """Weight in kg to one decimal; a decimal comma is accepted (70,5 is 70.5)."""

    def to_python(self, value):
        value = (
            super()
            .to_python(value)
            .strip()
            .replace(",", ".")
            .lower()
            .removesuffix("kg")
            .strip()
        )
        if not value:
            return None
        if not WEIGHT_NUMBER.fullmatch(value):
            raise forms.ValidationError(
                "Enter the weight in kg as a number, e.g. 72 or 72.5.", code="invalid"
            )
        weight = Decimal(value)
        if weight > MAX_PLAUSIBLE_WEIGHT_KG:
            raise forms.ValidationError(
                "That is more than any patient weighs: check the number (in kg).",
                code="max_value",
            )
        # Checked after rounding to what is stored: 0.04 kg would be kept as 0.0.
        if weight.quantize(TENTH) < TENTH:
            raise forms.ValidationError(
                "Enter a weight of at least 0.1 kg.", code="min_value"
            )
        # Never rounded silently: 39.95 kept as 40.0 would cross the needle bands' edge.
        if weight != weight.quantize(TENTH):
            raise forms.ValidationError(
                "Enter the weight to one decimal place, e.g. 39.9: it is kept to 0.1 kg.",
                code="decimal_places",
            )
        return weight.quantize(TENTH)


class StartForm(TapForm):
    """The Start card: location, age group, weight (or empty for unknown), reference, context."""

    prefix_for_ids = "start"
    shown_fields = (
        "location",
        "weight_kg",
        "patient_reference",
        "context",
        "age_group",
    )
    location = forms.ModelChoiceField(
        queryset=None,
        empty_label=None,
        error_messages={
            "required": "Choose the location.",
            "invalid_choice": "Choose one of your locations.",
        },
    )
    weight_kg = WeightField(
        label="Weight (kg)",
        required=False,
        help_text="Leave empty if unknown. 70,5 and 70.5 both work.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    patient_reference = forms.CharField(
        label="Patient reference (optional)",
        required=False,
        max_length=64,
        error_messages={
            "max_length": "Keep the reference to 64 characters (an MRN or a trauma alias)."
        },
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    context = forms.ChoiceField(
        label="Situation",
        choices=Episode.Context.choices,
        initial=Episode.Context.CARDIAC_ARREST,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose the situation.",
            "invalid_choice": "Choose one of the situations shown.",
        },
    )
    age_group = forms.ChoiceField(
        choices=AgeGroup.choices,
        error_messages={
            "required": "Choose adult or child.",
            "invalid_choice": "Choose adult or child.",
        },
    )

    def __init__(self, *args, locations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations

    def start(self, *, by, version):
        """Open the episode and its first attempt; None, with the message on the form, if not."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        try:
            return Episode.open(
                by=by,
                version=version,
                client_token=data["client_token"],
                location=data["location"],
                age_group=data["age_group"],
                weight_kg=data["weight_kg"],
                patient_reference=data["patient_reference"].strip(),
                context=data["context"],
            )
        except ValidationError as error:
            self._add_errors(error)
            return None


class NextAttemptForm(TapForm):
    """After a failed attempt: the next attempt of the same episode."""

    def start(self, attempt, *, by, version):
        if self._drawn_for_another(by):
            self.refusal = DRAWN_FOR_ANOTHER
            return None
        if not self.is_valid():
            return None
        if attempt.outcome != Outcome.FAILED:
            self.refusal = (
                NEXT_NOT_YET if attempt.outcome == Outcome.IN_PROGRESS else flow.STALE
            )
            return None
        try:
            return attempt.episode.start_attempt(
                by=by,
                version=version,
                client_token=self.cleaned_data["client_token"],
                after=attempt.number,
            )
        except ValidationError as error:
            self._add_errors(error)
            return None


class IndicationForm(TapForm):
    kind = Kind.INDICATION_CONFIRMED

    def event_data(self):
        return {"answer": "met"}


class SiteForm(TapForm):
    """A site of this attempt's checklist version and population, and a side."""

    kind = Kind.SITE_CHOSEN
    site = forms.IntegerField(
        error_messages={
            "required": "Choose a site.",
            "invalid": "Choose one of the sites shown.",
        }
    )
    side = forms.ChoiceField(
        choices=Attempt.Side.choices,
        error_messages={
            "required": "Choose left or right.",
            "invalid_choice": "Choose left or right.",
        },
    )

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.sites = {site.pk: site for site in sites}

    def clean_site(self):
        site = self.sites.get(self.cleaned_data["site"])
        if site is None:
            raise forms.ValidationError(
                "Choose one of the sites shown for this patient."
            )
        return site

    def show_chosen(self, attempt):
        # The screen card names the site: the version's own object, not another query.
        site = self.cleaned_data["site"]
        if attempt.site_id == site.pk:
            attempt.site = site

    def event_data(self):
        site = self.cleaned_data["site"]
        return {
            "site": site.pk,
            "site_name": site.name,
            "bone": site.bone,
            "side": self.cleaned_data["side"],
        }


class ScreenForm(TapForm):
    """The per-limb contraindication screen.

    "Do not use" ticked: the only way on is another site. "Avoid unless no alternative"
    ticked: going ahead needs a reason, and the attempt is flagged for review (design §4).
    """

    kind = Kind.CONTRAINDICATIONS_SCREENED
    prefix_for_ids = "screen"
    shown_fields = ("present", "override_reason")
    present = forms.MultipleChoiceField(
        label="Tick anything present at this limb",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    override_reason = forms.CharField(
        label="Reason to go ahead at this site (only for “avoid unless no alternative”)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, contraindications, recorded=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.contraindications = {str(item.pk): item for item in contraindications}
        # What the record itself says is present (an earlier IO in this bone): a fact, not a
        # judgement, so unticking its box does not take it away.
        self.recorded = {str(pk) for pk in recorded} & set(self.contraindications)
        self.fields["present"].choices = [
            (pk, item.text) for pk, item in self.contraindications.items()
        ]
        self.fields["present"].error_messages["invalid_choice"] = (
            "Tick only the contraindications shown."
        )

    def rows(self):
        """(checkbox, contraindication) pairs: the card draws each with its severity and its
        "Why / source" beside the box, not inside the label."""
        return list(zip(self["present"], self.contraindications.values(), strict=True))

    @property
    def drawing_key(self):
        """What the unbound form's boxes depend on besides the version: the contraindications
        shown (the site's, for this patient) and the ones pre-ticked."""
        return (
            tuple(self.contraindications),
            tuple(sorted(self.initial.get("present", ()))),
        )

    @property
    def any_ticked(self):
        """Whether a box is ticked (pre-ticked from an earlier attempt, or as posted)."""
        return any(
            str(pk) in self.contraindications for pk in self["present"].value() or ()
        )

    def clean(self):
        cleaned = super().clean()
        if "present" in cleaned:
            posted = cleaned["present"]
            cleaned["present"] = [
                *posted,
                *sorted(
                    self.recorded - set(posted), key=list(self.contraindications).index
                ),
            ]
        present = [self.contraindications[pk] for pk in cleaned.get("present", ())]
        if forbidding := [item for item in present if _forbids(item)]:
            self.add_error(
                "present",
                "Do not use this site ("
                + "; ".join(item.text for item in forbidding)
                + "). Choose another site.",
            )
        elif present and not cleaned.get("override_reason", "").strip():
            self.add_error(
                "override_reason",
                "A contraindication is ticked: choose another site, or give the reason "
                "to go ahead here.",
            )
        return cleaned

    def event_data(self):
        present = self.cleaned_data["present"]
        return {
            "present": [int(pk) for pk in present],
            "present_text": [self.contraindications[pk].text for pk in present],
            "override_reason": self.cleaned_data["override_reason"].strip(),
        }


def _forbids(contraindication):
    return contraindication.severity == contraindication.Severity.DO_NOT_USE


class NeedleForm(TapForm):
    """A needle of this version; one other than the suggestion needs a reason."""

    kind = Kind.NEEDLE_CHOSEN
    prefix_for_ids = "needle"
    shown_fields = ("needle", "reason")
    TISSUE_CHOICES = (("normal", "Normal"), ("deep", "Significant overlying tissue"))
    needle = forms.TypedChoiceField(
        label="Needle",
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a needle.",
            "invalid_choice": "Choose one of the needles shown.",
        },
    )
    tissue = forms.ChoiceField(
        choices=TISSUE_CHOICES,
        initial="normal",
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": STALE_FORM, "required": STALE_FORM},
    )
    reason = forms.CharField(
        label="Reason for another needle",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, needles, advice, **kwargs):
        super().__init__(*args, **kwargs)
        self.needles = {needle.pk: needle for needle in needles}
        self.advice = advice
        self.fields["needle"].choices = [
            (needle.pk, f"{needle} — {needle.band_label}") for needle in needles
        ]

    def clean(self):
        cleaned = super().clean()
        needle = self.needles.get(cleaned.get("needle"))
        tissue = cleaned.get("tissue")
        if needle and tissue:
            expected = self.advice.expected(tissue)
            cleaned["suggested"] = expected
            if (
                self.advice.needs_reason(needle, tissue)
                and not cleaned.get("reason", "").strip()
            ):
                self.add_error(
                    "reason",
                    f"{expected} is suggested: give the reason for {needle}."
                    if expected
                    else f"The checklist suggests no needle here: give the reason for {needle}.",
                )
        return cleaned

    def show_chosen(self, attempt):
        # The cards after it name the needle: the version's own object, not another query.
        needle = self.needles[self.cleaned_data["needle"]]
        if attempt.needle_id == needle.pk:
            attempt.needle = needle

    def event_data(self):
        needle = self.needles[self.cleaned_data["needle"]]
        suggested = self.cleaned_data["suggested"]
        return {
            "needle": needle.pk,
            "needle_name": str(needle),
            "tissue": self.cleaned_data["tissue"],
            "suggested": suggested.pk if suggested else None,
            "reason": self.cleaned_data["reason"].strip(),
        }


class StepToggleForm(TapForm):
    """Tick or untick one check of the current card."""

    kind = Kind.STEP_CHECKED
    step = forms.IntegerField(
        error_messages={
            "required": "Tap one of the checks shown.",
            "invalid": "Tap one of the checks shown.",
        }
    )
    checked = forms.BooleanField(required=False)

    def __init__(self, *args, steps, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = {step.pk: step for step in steps}

    def clean_step(self):
        step = self.steps.get(self.cleaned_data["step"])
        if step is None:
            raise forms.ValidationError("Tap one of the checks shown on this card.")
        return step

    def event(self):
        step = self.cleaned_data["step"]
        return {
            "kind": self.kind,
            "step": step,
            "data": {"step": step.pk, "checked": self.cleaned_data["checked"]},
        }


class ChecksDoneForm(TapForm):
    """Finish a card of checks: ticked ones confirmed, the rest recorded as not confirmed."""

    all_confirmed = forms.BooleanField(required=False)

    def __init__(self, *args, kind, steps, ticked, **kwargs):
        self.kind = kind
        super().__init__(*args, **kwargs)
        self.steps, self.ticked = list(steps), set(ticked)

    def event_data(self):
        if self.cleaned_data["all_confirmed"]:
            confirmed = [step.pk for step in self.steps]
        else:
            confirmed = [step.pk for step in self.steps if step.pk in self.ticked]
        unconfirmed = [step.pk for step in self.steps if step.pk not in confirmed]
        return {"confirmed": confirmed, "not_confirmed": unconfirmed}


class OutcomeForm(TapForm):
    """Success (from the outcome card), or stop: failed or abandoned, with the reason."""

    kind = Kind.OUTCOME_RECORDED
    prefix_for_ids = "outcome"
    shown_fields = ("reason",)
    outcome = forms.ChoiceField(
        choices=[(o.value, o.label) for o in Outcome if o != Outcome.IN_PROGRESS],
        error_messages={
            "required": "Choose the outcome.",
            "invalid_choice": "Choose success, failed or abandoned.",
        },
    )
    reason = forms.CharField(
        label="Why it failed or was abandoned",
        required=False,
        max_length=500,
        error_messages={"max_length": "Keep the reason to 500 characters."},
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def event_data(self):
        return {
            "outcome": self.cleaned_data["outcome"],
            "reason": self.cleaned_data["reason"].strip(),
        }


class TroubleshootOpenForm(TapForm):
    kind = Kind.TROUBLESHOOTING_OPENED

    def __init__(self, *args, stage, **kwargs):
        super().__init__(*args, **kwargs)
        self.stage = stage

    def event_data(self):
        # The stage the server holds, never one the page posts.
        return {"stage": self.stage}


class TroubleshootActionForm(TapForm):
    kind = Kind.TROUBLESHOOTING_ACTION
    item = forms.IntegerField(
        error_messages={
            "required": "Tap one of the problems shown.",
            "invalid": "Tap one of the problems shown.",
        }
    )

    def __init__(self, *args, items, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = {item.pk: item for item in items}

    def clean_item(self):
        item = self.items.get(self.cleaned_data["item"])
        if item is None:
            raise forms.ValidationError("Tap one of the problems shown.")
        return item

    def event_data(self):
        item = self.cleaned_data["item"]
        return {"item": item.pk, "problem": item.problem, "action": item.action}


NOT_ON_THE_CLOCK = (
    "The clocks went forward then: that time never showed here. Enter the time the clock "
    "showed."
)


class ClockTimeField(forms.DateTimeField):
    """A time as the ward's clock showed it, to the minute, in the hospital's zone.

    On the night the clocks go back, an hour is shown twice: a time in it is taken as the
    first (the earlier moment; for an insertion, the removal clock then runs from the earlier
    time, the safe side). On the night they go forward, an hour never shows: said so."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
            naive = error.params["datetime"]
        zone = timezone.get_current_timezone()
        # In UTC: an aware time in a repeated hour compares unequal to every other zone's
        # (PEP 495), which the record's checks would trip on.
        first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if first.astimezone(zone).replace(tzinfo=None) != naive:
            raise ValidationError(NOT_ON_THE_CLOCK, code="not_on_the_clock")
        return first


class CorrectionForm(TapForm):
    """Amend weight, side, insertion or removal time, with a reason; the original stays.

    This form only reads the input; which corrections the record accepts is
    `flow.check_correction`'s rule, applied under the row lock.
    """

    kind = Kind.CORRECTION
    prefix_for_ids = "correction"
    shown_fields = ("field", "weight_kg", "side", "inserted_at", "removed_at", "reason")
    FIELDS = (
        ("weight_kg", "Weight"),
        ("side", "Side"),
        ("inserted_at", "Insertion time"),
        ("removed_at", "Removal time"),
    )
    field = forms.ChoiceField(
        label="What to correct",
        choices=[("", "— choose —"), *FIELDS],
        error_messages={
            "required": "Choose what to correct.",
            "invalid_choice": "Choose what to correct.",
        },
    )
    weight_kg = WeightField(
        label="Correct weight (kg)",
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    side = forms.ChoiceField(
        label="Correct side",
        choices=[("", "—"), *Attempt.Side.choices],
        required=False,
        error_messages={"invalid_choice": "Choose left or right."},
    )
    inserted_at = ClockTimeField(
        label="Correct insertion time",
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
        error_messages={"invalid": "Enter the date and time, e.g. 2026-11-24 14:05."},
    )
    removed_at = ClockTimeField(
        label="Correct removal time",
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
        error_messages={"invalid": "Enter the date and time, e.g. 2026-11-24 14:05."},
    )
    reason = forms.CharField(
        label="Reason for the correction",
        required=False,
        max_length=500,
        error_messages={"max_length": "Keep the reason to 500 characters."},
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, attempt, **kwargs):
        super().__init__(*args, **kwargs)
        if attempt.removed_at is None:
            self.fields["field"].choices = self.fields["field"].choices[:-1]

    def event_data(self):
        field = self.cleaned_data["field"]
        return {
            "field": field,
            "new": flow.as_text(self.cleaned_data[field]),
            "reason": self.cleaned_data["reason"].strip(),
        }


def tap_token(data):
    """The client token a tap's form will read from `data`, or None if it holds none."""
    try:
        return TapForm.base_fields["client_token"].clean(data.get("client_token"))
    except ValidationError:
        return None


def _screen_form(data, attempt, content):
    if not attempt.site_id:
        return ScreenForm(data, contraindications=[])
    items, pre_ticked, _ = content.screen_for(attempt.site, attempt.side)
    return ScreenForm(data, contraindications=items, recorded=pre_ticked)


def tap_form(action, data, *, attempt, content):
    """The form for one tap on the attempt page, bound to `data` (None: unbound).

    What a card's checks are comes from the attempt's stage as the server holds it.
    """
    check_steps = content.check_steps_for(attempt.stage)
    builders = {
        "indication": lambda: IndicationForm(data),
        "site": lambda: SiteForm(data, sites=content.sites),
        "screen": lambda: _screen_form(data, attempt, content),
        "needle": lambda: NeedleForm(
            data, needles=content.needles, advice=content.needle_advice
        ),
        "check": lambda: StepToggleForm(data, steps=check_steps),
        "checks-done": lambda: ChecksDoneForm(
            data, kind=Kind.STAGE_COMPLETED, steps=check_steps, ticked=content.ticked
        ),
        "needle-in-bone": lambda: ChecksDoneForm(
            data, kind=Kind.NEEDLE_IN_BONE, steps=check_steps, ticked=content.ticked
        ),
        "confirm": lambda: ChecksDoneForm(
            data,
            kind=Kind.PLACEMENT_CONFIRMED,
            steps=check_steps,
            ticked=content.ticked,
        ),
        "outcome": lambda: OutcomeForm(data),
        "troubleshoot": lambda: TroubleshootOpenForm(data, stage=attempt.stage),
        "troubleshoot-action": lambda: TroubleshootActionForm(
            data, items=content.troubleshooting_items()
        ),
        "correction": lambda: CorrectionForm(data, attempt=attempt),
    }
    return builders[action]()


TAP_ACTIONS = (
    "indication",
    "site",
    "screen",
    "needle",
    "check",
    "checks-done",
    "needle-in-bone",
    "confirm",
    "outcome",
    "troubleshoot",
    "troubleshoot-action",
    "correction",
)
# The card a tap's answer belongs on, where it differs from the attempt's own stage: a 422
# shows the form again there, with the message at its field.
ACTION_CARD = {"site": Stage.SITE, "needle": Stage.NEEDLE}
# The tap that answers each card a tablet can draw ahead, by the move it records: what a tap
# kept offline leads to (attempts.views.offline_cards, static/js/taps.js).
CARD_ACTIONS = {
    "indication": Kind.INDICATION_CONFIRMED,
    "site": Kind.SITE_CHOSEN,
    "screen": Kind.CONTRAINDICATIONS_SCREENED,
    "needle": Kind.NEEDLE_CHOSEN,
    "checks-done": Kind.STAGE_COMPLETED,
    "needle-in-bone": Kind.NEEDLE_IN_BONE,
    "confirm": Kind.PLACEMENT_CONFIRMED,
}


def card_forms(attempt, content, shown):
    """Unbound forms for the fields `shown`'s card draws (Django renders them)."""
    forms_ = {}
    if shown == Stage.SCREEN and attempt.site_id:
        items, pre_ticked, _ = content.screen_for(attempt.site, attempt.side)
        forms_["screen"] = ScreenForm(
            contraindications=items, initial={"present": [str(pk) for pk in pre_ticked]}
        )
    elif shown == Stage.NEEDLE:
        forms_["needle"] = NeedleForm(
            needles=content.needles, advice=content.needle_advice
        )
    elif shown in (Stage.OUTCOME, flow.STOP_CARD):
        forms_["outcome"] = OutcomeForm()
    if flow.allows(attempt.stage, Kind.CORRECTION):
        forms_["correction"] = CorrectionForm(attempt=attempt)
    return forms_


class RemovalForm(TapForm):
    """Record removal: the site's condition and any complications (the attempt's version)."""

    kind = Kind.REMOVED
    prefix_for_ids = "removal"
    shown_fields = ("condition", "complications", "other_complication")
    condition = forms.CharField(
        label="Site condition after removal",
        max_length=200,
        error_messages={
            "required": "Describe the site after removal (e.g. clean, no swelling).",
            "max_length": "Keep the description to 200 characters.",
        },
    )
    complications = forms.MultipleChoiceField(
        label="Complications seen (if any)",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    other_complication = forms.CharField(
        label="Other complication",
        required=False,
        max_length=200,
        error_messages={"max_length": "Keep it to 200 characters."},
    )

    def __init__(self, *args, complications, **kwargs):
        super().__init__(*args, **kwargs)
        self.complication_steps = {str(step.pk): step for step in complications}
        self.fields["complications"].choices = [
            (pk, step.text) for pk, step in self.complication_steps.items()
        ]
        self.fields["complications"].error_messages["invalid_choice"] = (
            "Tick only the complications shown."
        )

    def event_data(self):
        return {
            "condition": self.cleaned_data["condition"].strip(),
            "complications": [
                self.complication_steps[pk].text
                for pk in self.cleaned_data["complications"]
            ],
            "other_complication": self.cleaned_data["other_complication"].strip(),
        }


class TransferForm(TapForm):
    """Move the patient's IO needles to another location."""

    prefix_for_ids = "transfer"
    shown_fields = ("location",)
    # Where the page showed the needles: a move from a page another tablet's move has
    # overtaken is refused, not recorded on top of it.
    shown_at = forms.IntegerField(
        widget=forms.HiddenInput,
        error_messages={"required": STALE_FORM, "invalid": STALE_FORM},
    )
    location = forms.ModelChoiceField(
        label="Move to",
        queryset=None,
        empty_label=None,
        error_messages={
            "required": "Choose the location.",
            "invalid_choice": "Choose one of the locations shown.",
        },
    )

    def __init__(self, *args, attempt, locations, **kwargs):
        super().__init__(*args, initial={"shown_at": attempt.location_id}, **kwargs)
        self.attempt = attempt
        self.fields["location"].queryset = locations

    def clean_location(self):
        location = self.cleaned_data["location"]
        if location.pk == self.attempt.location_id:
            raise forms.ValidationError("The patient is already at this location.")
        return location

    def transfer(self, *, by):
        """Move the needles; the number moved, or None with the message on the form."""
        if self._drawn_for_another(by):
            self.refusal = DRAWN_FOR_ANOTHER
            return None
        if not self.is_valid():
            return None
        try:
            return self.attempt.episode.transfer_needles(
                by=by,
                to=self.cleaned_data["location"],
                client_token=self.cleaned_data["client_token"],
                shown_at=self.cleaned_data["shown_at"],
            )
        except flow.Refused as refusal:
            self.refusal = refusal.messages[0]
            return None
        except ValidationError as error:
            self._add_errors(error)
            return None
