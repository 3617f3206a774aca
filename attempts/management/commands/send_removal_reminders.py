import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from attempts.reminders import send_due_reminders


class Command(BaseCommand):
    help = "Send removal reminders for IO needles due soon or overdue: one pass, or --loop."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true", help="Keep sweeping until SIGTERM."
        )
        parser.add_argument(
            "--interval",
            type=int,
            default=settings.IOACCESS_REMINDER_INTERVAL_SECONDS,
            help="Seconds between passes with --loop.",
        )

    def handle(self, *args, loop=False, interval=60, **options):
        stop = threading.Event()
        if loop:
            # Finish the notice in hand, then stop: a service manager's stop loses nothing.
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            self.stdout.write(f"Sweeping every {interval} s until stopped.")
        while True:
            if loop:
                # A long-running process: drop connections the database has since closed.
                close_old_connections()
            result = send_due_reminders(now=timezone.now())
            if result.created or result.sent or result.failed or not loop:
                self.stdout.write(
                    f"{timezone.localtime():%H:%M:%S} reminders: {result.created} new, "
                    f"{result.sent} sent, {result.failed} failed (retried next pass)"
                )
            if not loop or stop.wait(interval):
                break
        if loop:
            self.stdout.write("Sweeper stopped.")
