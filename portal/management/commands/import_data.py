"""``manage.py import_data DIR [--dry-run]``: restore an export into a new, empty portal
(see docs/export.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.exchange.load import ImportRefused, import_export


class Command(BaseCommand):
    help = (
        "Validate an export and load it into this portal, which must hold no data yet, in one transaction with "
        "the original ids; re-creates the celery-beat rows. Imported users get unusable passwords."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", help="The export's folder.")
        parser.add_argument("--dry-run", action="store_true", help="Load and roll back: shows what would happen.")

    def handle(self, *args, dir: str, dry_run: bool, **options) -> None:
        try:
            result = import_export(dir, dry_run=dry_run)
        except ImportRefused as error:
            for problem in error.problems:
                self.stdout.write(str(problem))
            raise CommandError(str(error)) from error
        for line in result.summary():
            self.stdout.write(line)
