from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, create_demo_accounts


class Command(BaseCommand):
    help = "Create the demo accounts clinician, supervisor, editor and editor2 (DEBUG only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "Refusing to create demo accounts with a known password: DJANGO_DEBUG is off. "
                "Demo accounts are for local development only."
            )
        created = create_demo_accounts()
        for user in created:
            self.stdout.write(f"Created demo account {user.username}")
        names = ", ".join(username for username, *_ in DEMO_ACCOUNTS)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo accounts ready: {names} (password {DEMO_PASSWORD})"
            )
        )
