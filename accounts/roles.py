"""The three roles: each a Django group holding one role permission, and a home page.

Code checks permissions (`user.has_perm`), never role or group names.
"""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied


@dataclass(frozen=True)
class Role:
    """A kind of user: the group that grants it, its permission and its home page."""

    key: str
    label: str
    group_name: str
    permission: str
    home_url_name: str
    summary: str

    def __str__(self):
        return self.label


CLINICIAN = Role(
    key="clinician",
    label="Clinician",
    group_name="Clinician",
    permission="accounts.work_at_bay",
    home_url_name="attempts:home",
    summary="Start and log IO attempts at the bay, watch the 24-hour removal clock.",
)
SUPERVISOR = Role(
    key="supervisor",
    label="Supervisor",
    group_name="Supervisor",
    permission="accounts.supervise",
    home_url_name="review:home",
    summary="Review logged attempts, sign them off and watch the unit's numbers.",
)
CONTENT_EDITOR = Role(
    key="content-editor",
    label="Content editor",
    group_name="Content editor",
    permission="accounts.edit_content",
    home_url_name="checklists:home",
    summary="Draft, review and publish the checklist content.",
)
ROLES = (CLINICIAN, SUPERVISOR, CONTENT_EDITOR)


def group_for(role):
    """The role's group with its permission, created if missing (data migration 0002 makes them)."""
    app_label, codename = role.permission.split(".")
    group, created = Group.objects.get_or_create(name=role.group_name)
    if created:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return group


def roles_of(user):
    """The roles a user holds, in a fixed order. Reads the user's permission cache."""
    if not user.is_authenticated:
        return []
    return [role for role in ROLES if user.has_perm(role.permission)]


def role_required(*roles):
    """View decorator: 403 naming the role needed unless the user holds one of `roles`.

    The first role the user holds becomes the page's role (shown in the header).
    """
    needed = " or ".join(role.label for role in roles)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            held = next((r for r in roles if request.user.has_perm(r.permission)), None)
            if held is None:
                raise PermissionDenied(needed)
            request.role = held
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
