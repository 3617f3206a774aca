"""Demo accounts for local development (design.md §9): never created unless DEBUG is on."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.module_loading import autodiscover_modules

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR, group_for

DEMO_PASSWORD = "ioaccess-demo"  # noqa: S105 - published in the README, development only
DEMO_ACCOUNTS = (
    ("clinician", "Demo", "Clinician", CLINICIAN),
    ("supervisor", "Demo", "Supervisor", SUPERVISOR),
    ("editor", "Demo", "Editor", CONTENT_EDITOR),
    ("editor2", "Demo", "Reviewer", CONTENT_EDITOR),  # a second editor, who approves
)


# Other apps add their demo data (e.g. locations) here, through their own `demo` module, so
# this lowest app never imports a higher one.
DEMO_DATA = []


def demo_data(function):
    """Register `function(users_by_username)` to run after the demo accounts exist."""
    DEMO_DATA.append(function)
    return function


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
    autodiscover_modules("demo")
    users = {
        user.username: user
        for user in get_user_model().objects.filter(
            username__in=[username for username, *_ in DEMO_ACCOUNTS]
        )
    }
    for function in DEMO_DATA:
        function(users)
    return created_users
