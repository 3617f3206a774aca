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
from django.contrib.auth.models import Group, Permission
from django.db.models import OuterRef, StringAgg, Subquery, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from accounts import tablet
from accounts.models import Pin

BACKEND_PATH = "accounts.backends.PinBackend"


def _permission_ids(through, user_path):
    """The ids of the permissions `through` grants the outer user, as one text value such as
    "12,40" (NULL for none)."""
    return Subquery(
        through.objects.filter(**{user_path: OuterRef("pk")})
        .order_by()
        .values(user_path)
        .annotate(ids=StringAgg(Cast("permission_id", TextField()), Value(",")))
        .values("ids")
    )


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
def _users_with_permission_ids():
    """The users, each with the ids of their own and their groups' permissions: built once per
    process (building its two subqueries cost more than running them); each request filters a
    clone of it, so what it reads is read at every request."""
    user_model = get_user_model()
    return user_model._default_manager.annotate(
        own_permission_ids=_permission_ids(user_model.user_permissions.through, "user"),
        group_permission_ids=_permission_ids(Group.permissions.through, "group__user"),
    )


# id → "app_label.codename" of every permission, read once per process: permissions are
# made by migrations and never renamed in place; an id not seen yet reads them again.
_permission_names = {}


def _names(ids):
    """The "app_label.codename" of the permissions with these ids ("12,40"; None for none)."""
    if not ids:
        return set()
    wanted = [int(pk) for pk in ids.split(",")]
    if any(pk not in _permission_names for pk in wanted):
        _permission_names.update(
            (pk, f"{app_label}.{codename}")
            for pk, app_label, codename in Permission.objects.values_list(
                "pk", "content_type__app_label", "codename"
            )
        )
    return {_permission_names[pk] for pk in wanted if pk in _permission_names}


def user_with_permissions(user_id):
    """The user with this id, with the permission names ModelBackend would read on the first
    `has_perm`, in one query; None if there is no such user."""
    # [:1] rather than first(): the id is unique, and an ORDER BY would cost a sort to plan.
    user = next(iter(_users_with_permission_ids().filter(pk=user_id)[:1]), None)
    # A superuser holds every permission: read only if asked.
    if user is not None and not user.is_superuser:
        user._user_perm_cache = _names(user.own_permission_ids)
        user._group_perm_cache = _names(user.group_permission_ids)
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
