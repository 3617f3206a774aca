"""Demo accounts for local development (design.md §9): never created unless DEBUG is on."""

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR, group_for

DEMO_PASSWORD = "ioaccess-demo"  # noqa: S105 - published in the README, development only
DEMO_ACCOUNTS = (
    ("clinician", "Demo", "Clinician", CLINICIAN),
    ("supervisor", "Demo", "Supervisor", SUPERVISOR),
    ("editor", "Demo", "Editor", CONTENT_EDITOR),
    ("editor2", "Second", "Editor", CONTENT_EDITOR),
)


@transaction.atomic
def create_demo_accounts():
    """Create the demo users in their role groups; existing ones keep their password. Returns the created."""
    created_users = []
    for username, first_name, last_name, role in DEMO_ACCOUNTS:
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                # Only content editors enter the admin.
                "is_staff": role is CONTENT_EDITOR,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            created_users.append(user)
        user.groups.add(group_for(role))
    return created_users
