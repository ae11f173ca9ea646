"""``manage.py validate_export DIR``: check an export against every rule (see docs/export.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.exchange.validate import validate_export
from portal.models import ExportCheck


class Command(BaseCommand):
    help = (
        "Check an export: each line parses, required fields, unique ids, references, date formats, manifest "
        "counts and hashes, no secret, no done task missing its proof. Prints each problem as "
        "FILE:LINE FIELD: what is wrong, and exits non-zero when there is any."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", help="The export's folder.")

    def handle(self, *args, dir: str, **options) -> None:
        report = validate_export(dir)
        ExportCheck.record(report, source=ExportCheck.Source.COMMAND, location=dir)
        for problem in report.problems:
            self.stdout.write(str(problem))
        if not report.ok:
            raise CommandError(report.summary())
        self.stdout.write(report.summary())
