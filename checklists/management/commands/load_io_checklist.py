from django.core.management.base import BaseCommand

from checklists.loader import DATA_FILE, load_io_checklist


class Command(BaseCommand):
    help = "Load the reference IO checklist and publish it as reference content (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", default=str(DATA_FILE), help="Content file (JSON)."
        )

    def handle(self, *args, **options):
        result = load_io_checklist(path=options["file"])
        style = self.style.SUCCESS if result.created else self.style.NOTICE
        self.stdout.write(style(result.message))
