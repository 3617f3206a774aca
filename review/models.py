"""What the supervisor adds to a logged attempt: sign-offs with feedback (design §6)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from attempts.models import AppendOnly, Attempt

OWN_ATTEMPT = "You cannot sign off your own attempt: another supervisor must review it."
IN_PROGRESS = (
    "This attempt is still in progress: sign it off once it has an outcome "
    "(success, failed or abandoned)."
)
# Generous for a review note, yet a bound: the clinician reads it, and the page prints it.
FEEDBACK_MAX = 5000


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
        max_length=FEEDBACK_MAX,
        help_text="What went well and what to work on; the clinician reads it.",
    )
    competent = models.BooleanField(
        "competent for unsupervised IO",
        default=False,
        help_text="The operator may place IO needles without supervision.",
    )
    # The sign-off form's own token: the same form sent again (a retry, a second tab) is the
    # sign-off it made, not a second one, which append-only would keep for ever. Empty for
    # sign-offs made before it and in the admin.
    client_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

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
        # A sign-off judges a finished attempt; one in progress would also leave
        # "Not yet reviewed" before anything was there to review.
        if self.attempt_id and self.attempt.outcome == Attempt.Outcome.IN_PROGRESS:
            raise ValidationError(IN_PROGRESS, code="in_progress")

    def clean_fields(self, exclude=None):
        super().clean_fields(exclude=exclude)
        # A form leaves out a field it already refused: its message stands alone.
        if "feedback" in (exclude or ()):
            return
        if not (self.feedback or "").strip():
            raise ValidationError({"feedback": "Write the feedback for the clinician."})
        if len(self.feedback) > FEEDBACK_MAX:
            raise ValidationError({"feedback": too_long(len(self.feedback))})

    def save(self, *args, **kwargs):
        # The rules hold however a sign-off is made (form, admin, shell).
        if self.attempt.operator_id == self.by_id:
            raise ValidationError(OWN_ATTEMPT)
        if self.attempt.outcome == Attempt.Outcome.IN_PROGRESS:
            raise ValidationError(IN_PROGRESS, code="in_progress")
        # A TextField's max_length binds only forms. Not a database constraint: sign-offs
        # stored before the limit are kept as written (append-only), and one would refuse them.
        if len(self.feedback) > FEEDBACK_MAX:
            raise ValidationError({"feedback": too_long(len(self.feedback))})
        super().save(*args, **kwargs)


def too_long(length):
    return (
        f"Shorten the feedback to {FEEDBACK_MAX} characters or fewer (it has {length})."
    )
