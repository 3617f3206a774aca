from typing import ClassVar

from django import forms

from review.models import SignOff


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

    def __init__(self, *args, attempt, by, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.instance.attempt = attempt
        self.instance.by = by
