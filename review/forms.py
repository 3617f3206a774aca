import uuid
from typing import ClassVar

from django import forms

from review.models import SignOff

STALE_FORM = "This form is out of date: reload the page and sign off again."


class SignOffForm(forms.ModelForm):
    """The supervisor's review of an attempt: feedback, and optionally a competence mark."""

    class Meta:
        model = SignOff
        fields = ("feedback", "competent")
        labels: ClassVar = {"feedback": "Feedback for the clinician"}
        widgets: ClassVar = {"feedback": forms.Textarea(attrs={"rows": 4})}
        error_messages: ClassVar = {
            "feedback": {
                "required": "Write the feedback for the clinician.",
                "max_length": "Shorten the feedback to %(limit_value)s characters or "
                "fewer (it has %(show_value)s).",
            }
        }

    token = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={"required": STALE_FORM, "invalid": STALE_FORM},
    )

    def __init__(self, *args, attempt, by, **kwargs):
        super().__init__(
            *args, label_suffix="", initial={"token": uuid.uuid4()}, **kwargs
        )
        self.instance.attempt = attempt
        self.instance.by = by

    def already_made(self):
        """The sign-off this form's token made, if it was sent before; None otherwise."""
        try:
            token = self.fields["token"].clean(self.data.get("token"))
        except forms.ValidationError:
            return None
        return SignOff.objects.filter(client_token=token).first()

    def save(self, commit=True):
        self.instance.client_token = self.cleaned_data["token"]
        return super().save(commit=commit)
