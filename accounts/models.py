from datetime import timedelta
from itertools import pairwise

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import models


class RoleAccess(models.Model):
    """Holds the three role permissions, which belong to no record model.

    The model exists so the permissions have a content type and can be granted to the role
    groups (data migration 0002) and managed in the admin like any other permission. Its table
    stays empty; it exists because code that reaches a model through its content type (the
    admin's "view on site" link, /admin/r/<type>/<id>/) reads it, and a missing table answered
    that with a database error instead of 404.
    """

    class Meta:
        default_permissions = ()
        permissions = (
            ("work_at_bay", "Can use the clinician pages at the bay"),
            ("supervise", "Can use the supervisor pages"),
            ("edit_content", "Can edit checklist content in the admin"),
        )

    def __str__(self):
        return "Role access"


PIN_PATTERN = r"\A[0-9]{4,8}\Z"


def pin_is_guessable(raw_pin):
    """Is this a PIN someone would try first on a tablet left at a bay?

    One digit or a block repeated (0000, 1212, 123123), or digits counting up or down by one,
    round past 9 (1234, 98765, 7890). Such PINs are the first few guesses, and django-axes
    allows a few before it locks the account.
    """
    length = len(raw_pin)
    if any(
        raw_pin == raw_pin[:block] * (length // block)
        for block in range(1, length // 2 + 1)
        if length % block == 0
    ):
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(raw_pin)}
    return steps in ({1}, {9})


class Pin(models.Model):
    """A short personal PIN for the shared tablet, and when its user last proved their password.

    The PIN alone is weak (4 to 8 digits), so it only resumes or takes over a session on a tablet
    that stands at a bay, and only within a shift of a sign-in with the full password. A row may
    exist without a PIN: the password time is kept from the first sign-in on.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pin"
    )
    # Hashed with the password hashers; "" while the user has set no PIN.
    hashed = models.CharField(max_length=256, blank=True, default="")
    set_at = models.DateTimeField(null=True, blank=True)
    password_verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "PIN"
        verbose_name_plural = "PINs"

    def __str__(self):
        return f"PIN of {self.user}"

    @classmethod
    def password_verified(cls, *, user, at):
        """Record that `user` just proved their password: their PIN works for a shift from now."""
        cls.objects.update_or_create(user=user, defaults={"password_verified_at": at})

    @classmethod
    def set_for(cls, *, user, raw_pin, at):
        """Set `user`'s PIN; setting it needs the password, so that counts as verified too."""
        pin, _ = cls.objects.update_or_create(
            user=user,
            defaults={
                "hashed": make_password(raw_pin),
                "set_at": at,
                "password_verified_at": at,
            },
        )
        return pin

    def usable(self, *, at):
        """A PIN is set and the password was verified within the shift before `at`."""
        shift = timedelta(hours=settings.IOACCESS_SHIFT_HOURS)
        return bool(
            self.hashed
            and self.password_verified_at is not None
            and at - shift <= self.password_verified_at <= at
        )

    def matches(self, raw_pin):
        # No setter: a PIN is never rehashed on sign-in (the row's set_at would lie).
        return bool(self.hashed) and check_password(raw_pin, self.hashed, setter=None)
