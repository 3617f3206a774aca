"""Authentication backends: Django's model backend with the permissions read alongside the user,
and sign-in with a personal PIN on a tablet at a bay.

The PIN backend is listed after django-axes' backend, so a PIN is throttled exactly like a
password: axes refuses a locked-out username before this backend runs, and Django's
`user_login_failed` signal (sent when every backend returns None) counts a wrong PIN as a failure
for that username.
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.db.models import OuterRef, StringAgg, Subquery, Value
from django.db.models.functions import Concat
from django.utils import timezone

from accounts import tablet
from accounts.models import Pin

BACKEND_PATH = "accounts.backends.PinBackend"
# No app label or codename holds a line break (both are identifiers).
_SEPARATOR = "\n"


def _names(permissions, grouped_by):
    """The "app_label.codename" of `permissions`, as one text value (NULL for none)."""
    return Subquery(
        permissions.order_by()
        .values(grouped_by)
        .annotate(
            names=StringAgg(
                Concat("content_type__app_label", Value("."), "codename"),
                Value(_SEPARATOR),
            )
        )
        .values("names")
    )


def _split(names):
    return set(names.split(_SEPARATOR)) if names else set()


class RoleBackend(ModelBackend):
    """Django's ModelBackend, with the user's permissions read in the same query as the user.

    Every page checks a role (`accounts.roles.role_required`), which made ModelBackend read the
    user's own and their groups' permissions: two queries per request. Read with the user, they
    are as current as the user row itself, in every worker: a clinician taken out of the
    Clinician group is refused at their next request. A cache kept across requests would need a
    store shared by the gunicorn workers and invalidation on every group or grant change.
    """

    def get_user(self, user_id):
        user = user_with_permissions(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


@cache
def _users_with_permission_names():
    """The users, each with their own and their groups' permission names: built once per
    process (building its two subqueries cost more than running them); each request filters a
    clone of it, so what it reads is read at every request."""
    return get_user_model()._default_manager.annotate(
        own_permission_names=_names(
            Permission.objects.filter(user=OuterRef("pk")), "user"
        ),
        group_permission_names=_names(
            Permission.objects.filter(group__user=OuterRef("pk")), "group__user"
        ),
    )


def user_with_permissions(user_id):
    """The user with this id, with the permission names ModelBackend would read on the first
    `has_perm`, in one query; None if there is no such user."""
    # [:1] rather than first(): the id is unique, and an ORDER BY would cost a sort to plan.
    user = next(iter(_users_with_permission_names().filter(pk=user_id)[:1]), None)
    # A superuser holds every permission: read only if asked.
    if user is not None and not user.is_superuser:
        user._user_perm_cache = _split(user.own_permission_names)
        user._group_perm_cache = _split(user.group_permission_names)
        user._perm_cache = user._user_perm_cache | user._group_perm_cache
    return user


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
        # Most tablet sessions are signed in with a PIN: their role checks cost no query either.
        user = user_with_permissions(user_id)
        return user if user is not None and user.is_active else None
