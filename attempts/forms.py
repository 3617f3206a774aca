"""One form per tap. Each validates against what the page offered and says which event it records.

Messages speak to a clinician in a hurry: what is wrong and what to do.
"""

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from attempts.models import (
    MAX_PLAUSIBLE_WEIGHT_KG,
    AgeGroup,
    Attempt,
    AttemptEvent,
    Episode,
)

Kind = AttemptEvent.Kind
STALE_FORM = "This screen is out of date. Reload the page and tap again."


class TapForm(forms.Form):
    """Every recording form carries the token minted when it was rendered."""

    client_token = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={"required": STALE_FORM, "invalid": STALE_FORM},
    )
    kind = None

    def event_data(self):
        return {}

    def event(self):
        """Keyword arguments for Attempt.record_event (besides who and the token)."""
        return {"kind": self.kind, "data": self.event_data()}

    def record(self, attempt, *, by):
        """Validate and record this tap on `attempt`; False, with the message on the form, if not."""
        if not self.is_valid():
            return False
        try:
            attempt.record_event(
                by=by, client_token=self.cleaned_data["client_token"], **self.event()
            )
        except ValidationError as error:
            self.add_error(None, error)
            return False
        return True


class WeightField(forms.CharField):
    """Weight in kg; a decimal comma is accepted (70,5 is 70.5)."""

    def to_python(self, value):
        value = (
            super()
            .to_python(value)
            .strip()
            .replace(",", ".")
            .removesuffix("kg")
            .strip()
        )
        if not value:
            return None
        try:
            weight = Decimal(value)
        except InvalidOperation:
            raise forms.ValidationError(
                "Enter the weight in kg as a number, e.g. 72 or 72.5.", code="invalid"
            ) from None
        if not weight.is_finite() or weight <= 0:
            raise forms.ValidationError("Enter a weight above 0 kg.", code="min_value")
        if weight > MAX_PLAUSIBLE_WEIGHT_KG:
            raise forms.ValidationError(
                "That is more than any patient weighs: check the number (in kg).",
                code="max_value",
            )
        return weight.quantize(Decimal("0.1"))


class StartForm(TapForm):
    """The Start card: location, age group, weight (or empty for unknown), reference, context."""

    location = forms.ModelChoiceField(
        queryset=None,
        empty_label=None,
        error_messages={
            "required": "Choose the location.",
            "invalid_choice": "Choose one of your locations.",
        },
    )
    age_group = forms.ChoiceField(
        choices=AgeGroup.choices,
        error_messages={
            "required": "Choose adult or child.",
            "invalid_choice": "Choose adult or child.",
        },
    )
    weight_kg = WeightField(
        label="Weight (kg)",
        required=False,
        help_text="Leave empty if unknown.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    patient_reference = forms.CharField(
        label="Patient reference (optional)",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    context = forms.ChoiceField(
        choices=Episode.Context.choices,
        initial=Episode.Context.CARDIAC_ARREST,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose the situation.",
            "invalid_choice": "Choose one of the situations shown.",
        },
    )

    def __init__(self, *args, locations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations


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

    def event_data(self):
        site = self.cleaned_data["site"]
        return {
            "site": site.pk,
            "site_name": site.name,
            "bone": site.bone,
            "side": self.cleaned_data["side"],
        }


class ScreenForm(TapForm):
    """The per-limb contraindication screen: anything ticked needs a reason to go ahead."""

    kind = Kind.CONTRAINDICATIONS_SCREENED
    present = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple
    )
    override_reason = forms.CharField(
        label="Reason to go ahead at this site",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, contraindications, **kwargs):
        super().__init__(*args, **kwargs)
        self.contraindications = {str(item.pk): item for item in contraindications}
        self.fields["present"].choices = [
            (pk, item.text) for pk, item in self.contraindications.items()
        ]
        self.fields["present"].error_messages["invalid_choice"] = (
            "Tick only the contraindications shown."
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("present") and not cleaned.get("override_reason", "").strip():
            self.add_error(
                "override_reason",
                "A contraindication is ticked: choose another site, or give the reason to go ahead here.",
            )
        return cleaned

    def event_data(self):
        present = self.cleaned_data["present"]
        return {
            "present": [int(pk) for pk in present],
            "present_text": [self.contraindications[pk].text for pk in present],
            "override_reason": self.cleaned_data["override_reason"].strip(),
        }


class NeedleForm(TapForm):
    """A needle of this version; one other than the suggestion needs a reason."""

    kind = Kind.NEEDLE_CHOSEN
    TISSUE_CHOICES = (("normal", "Normal"), ("deep", "Significant overlying tissue"))
    needle = forms.IntegerField(
        error_messages={
            "required": "Choose a needle.",
            "invalid": "Choose one of the needles shown.",
        }
    )
    tissue = forms.ChoiceField(choices=TISSUE_CHOICES, initial="normal")
    reason = forms.CharField(
        label="Reason for another needle",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, needles, suggest, **kwargs):
        super().__init__(*args, **kwargs)
        self.needles = {needle.pk: needle for needle in needles}
        self.suggest = suggest

    def clean_needle(self):
        needle = self.needles.get(self.cleaned_data["needle"])
        if needle is None:
            raise forms.ValidationError("Choose one of the needles shown.")
        return needle

    def clean(self):
        cleaned = super().clean()
        needle, tissue = cleaned.get("needle"), cleaned.get("tissue")
        if needle and tissue:
            suggested = self.suggest(tissue)
            cleaned["suggested"] = suggested
            if (
                suggested
                and needle != suggested
                and not cleaned.get("reason", "").strip()
            ):
                self.add_error(
                    "reason", f"{suggested} is suggested: give the reason for {needle}."
                )
        return cleaned

    def event_data(self):
        suggested = self.cleaned_data["suggested"]
        return {
            "needle": self.cleaned_data["needle"].pk,
            "needle_name": str(self.cleaned_data["needle"]),
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
        super().__init__(*args, **kwargs)
        self.kind, self.steps, self.ticked = kind, list(steps), set(ticked)

    def event_data(self):
        if self.cleaned_data["all_confirmed"]:
            confirmed = [step.pk for step in self.steps]
        else:
            confirmed = [step.pk for step in self.steps if step.pk in self.ticked]
        unconfirmed = [step.pk for step in self.steps if step.pk not in confirmed]
        return {"confirmed": confirmed, "not_confirmed": unconfirmed}


class OutcomeForm(TapForm):
    kind = Kind.OUTCOME_RECORDED
    outcome = forms.ChoiceField(
        choices=[
            (value, label)
            for value, label in Attempt.Outcome.choices
            if value != "in_progress"
        ],
        error_messages={
            "required": "Choose the outcome.",
            "invalid_choice": "Choose success, failed or abandoned.",
        },
    )
    reason = forms.CharField(
        label="Why it failed",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("outcome") == Attempt.Outcome.FAILED
            and not cleaned.get("reason", "").strip()
        ):
            self.add_error(
                "reason", "Say briefly why it failed (e.g. no flow, extravasation)."
            )
        return cleaned

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


class CorrectionForm(TapForm):
    """Amend weight, side or insertion time, with a reason; the original stays in the record."""

    kind = Kind.CORRECTION
    FIELDS = (
        ("weight_kg", "Weight"),
        ("side", "Side"),
        ("inserted_at", "Insertion time"),
        ("removed_at", "Removal time"),
    )
    field = forms.ChoiceField(
        choices=FIELDS, error_messages={"invalid_choice": "Choose what to correct."}
    )
    weight_kg = WeightField(
        required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    side = forms.ChoiceField(choices=[("", "—"), *Attempt.Side.choices], required=False)
    inserted_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
        error_messages={"invalid": "Enter the date and time, e.g. 2026-11-24 14:05."},
    )
    removed_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
        error_messages={"invalid": "Enter the date and time, e.g. 2026-11-24 14:05."},
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for the correction",
    )

    def __init__(self, *args, attempt, **kwargs):
        super().__init__(*args, **kwargs)
        self.attempt = attempt

    def clean(self):
        cleaned = super().clean()
        field = cleaned.get("field")
        if not cleaned.get("reason", "").strip():
            self.add_error("reason", "Give the reason for the correction.")
        if field == "side" and not cleaned.get("side"):
            self.add_error("side", "Choose the correct side.")
        if field == "inserted_at":
            self._clean_inserted_at(cleaned.get("inserted_at"))
        if field == "removed_at":
            self._clean_removed_at(cleaned.get("removed_at"))
        return cleaned

    def _clean_removed_at(self, value):
        if "removed_at" in self.errors:
            return
        if self.attempt.removed_at is None:
            self.add_error("field", "There is no removal time to correct yet.")
        elif value is None:
            self.add_error("removed_at", "Enter the corrected removal time.")
        elif value > timezone.now() + timedelta(minutes=1):
            self.add_error("removed_at", "The removal time cannot be in the future.")
        elif value < self.attempt.inserted_at:
            self.add_error(
                "removed_at", "The removal time cannot be before the insertion."
            )

    def _clean_inserted_at(self, value):
        if "inserted_at" in self.errors:
            return
        if not self.attempt.is_inserted:
            self.add_error("field", "There is no insertion time to correct yet.")
        elif value is None:
            self.add_error("inserted_at", "Enter the corrected insertion time.")
        elif value > timezone.now() + timedelta(minutes=1):
            self.add_error("inserted_at", "The insertion time cannot be in the future.")
        elif value < self.attempt.started_at - timedelta(minutes=1):
            self.add_error(
                "inserted_at",
                "The insertion time cannot be before the attempt started.",
            )

    def event_data(self):
        field = self.cleaned_data["field"]
        old = {
            "weight_kg": self.attempt.episode.weight_kg,
            "side": self.attempt.side,
            "inserted_at": self.attempt.inserted_at,
            "removed_at": self.attempt.removed_at,
        }[field]
        new = self.cleaned_data[field]
        return {
            "field": field,
            "old": _as_text(old),
            "new": _as_text(new),
            "reason": self.cleaned_data["reason"].strip(),
            "later": field == "inserted_at" and new > self.attempt.inserted_at,
        }


def _as_text(value):
    """A corrected value as the event stores it: ISO for times, text otherwise."""
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def tap_form(action, data, *, attempt, content, stage):
    """The form for one tap on the attempt page, bound to `data` (None: unbound)."""
    check_steps = content.check_steps_for(stage)
    builders = {
        "indication": lambda: IndicationForm(data),
        "site": lambda: SiteForm(data, sites=content.sites),
        "screen": lambda: ScreenForm(
            data,
            contraindications=content.screen_for(attempt.site)[0]
            if attempt.site_id
            else [],
        ),
        "needle": lambda: NeedleForm(
            data, needles=content.needles, suggest=content.suggest_needle
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
        "troubleshoot": lambda: TroubleshootOpenForm(data, stage=stage),
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


class RemovalForm(TapForm):
    """Record removal: the site's condition and any complications (from the published list)."""

    kind = Kind.REMOVED
    condition = forms.CharField(
        label="Site condition after removal",
        max_length=200,
        error_messages={
            "required": "Describe the site after removal (e.g. clean, no swelling)."
        },
    )
    complications = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple
    )
    other_complication = forms.CharField(
        label="Other complication", required=False, max_length=200
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

    kind = Kind.TRANSFERRED
    location = forms.ModelChoiceField(
        queryset=None,
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the locations shown."},
    )

    def __init__(self, *args, attempt, locations, **kwargs):
        super().__init__(*args, **kwargs)
        self.attempt = attempt
        self.fields["location"].queryset = locations

    def clean_location(self):
        location = self.cleaned_data["location"]
        if location.pk == self.attempt.location_id:
            raise forms.ValidationError("The patient is already at this location.")
        return location

    def event_data(self):
        location = self.cleaned_data["location"]
        return {
            "from": self.attempt.location_id,
            "to": location.pk,
            "to_name": location.name,
        }
