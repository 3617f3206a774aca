"""What the supervisor adds to a logged attempt: sign-offs with feedback (design §6)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from attempts.models import AppendOnly, Attempt

OWN_ATTEMPT = "You cannot sign off your own attempt: another supervisor must review it."


class SignOff(AppendOnly):
    """A supervisor's review of one attempt. Append-only: a later note adds, never overwrites."""

    attempt = models.ForeignKey(
        Attempt, on_delete=models.PROTECT, related_name="sign_offs"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now, editable=False)
    feedback = models.TextField(
        help_text="What went well and what to work on; the clinician reads it."
    )
    competent = models.BooleanField(
        "competent for unsupervised IO",
        default=False,
        help_text="The operator may place IO needles without supervision.",
    )

    class Meta:
        ordering = ("at", "pk")
        verbose_name = "sign-off"
        constraints = (
            models.CheckConstraint(
                condition=~models.Q(feedback=""),
                name="%(app_label)s_%(class)s_feedback_not_empty",
            ),
        )

    def __str__(self):
        return f"Sign-off of {self.attempt} by {self.by} at {self.at:%Y-%m-%d %H:%M}"

    def clean(self):
        if self.attempt_id and self.by_id and self.attempt.operator_id == self.by_id:
            raise ValidationError(OWN_ATTEMPT)
        if not (self.feedback or "").strip():
            raise ValidationError({"feedback": "Write the feedback for the clinician."})

    def save(self, *args, **kwargs):
        # The rule holds however a sign-off is made (form, admin, shell).
        if self.attempt.operator_id == self.by_id:
            raise ValidationError(OWN_ATTEMPT)
        super().save(*args, **kwargs)
