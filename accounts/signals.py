from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

from accounts import lock
from accounts.backends import BACKEND_PATH
from accounts.models import Pin


@receiver(user_logged_in, dispatch_uid="accounts.signed_in")
def signed_in(sender, request, user, **kwargs):
    """A sign-in with the password opens a shift for the PIN; every sign-in starts the session."""
    now = timezone.now()
    if getattr(user, "backend", None) != BACKEND_PATH:
        Pin.password_verified(user=user, at=now)
    if request is not None and hasattr(request, "session"):
        lock.signed_in(request.session, now=now.timestamp())
