"""Sign-in with a personal PIN on a tablet at a bay.

Listed after django-axes' backend, so a PIN is throttled exactly like a password: axes refuses a
locked-out username before this backend runs, and Django's `user_login_failed` signal (sent when
every backend returns None) counts a wrong PIN as a failure for that username.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts import tablet
from accounts.models import Pin

BACKEND_PATH = "accounts.backends.PinBackend"


def pin_allowed(request, user, *, at=None):
    """May `user` sign in with their PIN on this request's tablet now?

    Only on a tablet that stands at a location (not on any browser that reaches the app) and only
    within a shift of a sign-in with the password.
    """
    if tablet.placed_at(request) is None:
        return False
    pin = Pin.objects.filter(user=user).first()
    return pin is not None and pin.usable(at=at or timezone.now())


class PinBackend(BaseBackend):
    # No **kwargs: Django then skips this backend for username + password credentials.
    def authenticate(self, request, username=None, pin=None):
        if request is None or not username or not pin:
            return None
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            user = None
        now = timezone.now()
        if user is None or not user.is_active or not pin_allowed(request, user, at=now):
            # Hash anyway, so the answer takes as long as for a real user's wrong PIN.
            make_password(pin)
            return None
        return user if user.pin.matches(pin) else None

    def get_user(self, user_id):
        user_model = get_user_model()
        user = user_model._default_manager.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None
