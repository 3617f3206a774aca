"""The tablet's place: one of the clinician's active locations, or no fixed place."""

from django import forms

NOWHERE = "nowhere"


class TabletPlaceForm(forms.Form):
    """The choice "This tablet is at …": one of the given locations, or no fixed place."""

    place = forms.ChoiceField(
        label="This tablet is at",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose where this tablet is, or Not at a fixed place.",
            "invalid_choice": "Choose one of the places shown.",
        },
    )

    def __init__(self, *args, locations, **kwargs):
        kwargs.setdefault("auto_id", "tablet-%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.locations = {str(location.pk): location for location in locations}
        self.fields["place"].choices = [
            *((pk, location.name) for pk, location in self.locations.items()),
            (NOWHERE, "Not at a fixed place"),
        ]

    def chosen(self):
        """The chosen location, or None for no fixed place (call after is_valid())."""
        return self.locations.get(self.cleaned_data["place"])
