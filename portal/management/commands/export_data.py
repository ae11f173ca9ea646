"""``manage.py export_data OUTDIR``: the whole runtime state as plain JSONL (see docs/export.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.exchange.export import ExportError, write_export


class Command(BaseCommand):
    help = (
        "Write every record of the portal into OUTDIR (created; refused when not empty): manifest.json and "
        "one JSONL file per entity. Passwords, sessions, tokens, secrets and file contents are never written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("outdir", help="Folder to create (or an empty one).")

    def handle(self, *args, outdir: str, **options) -> None:
        try:
            result = write_export(outdir)
        except ExportError as error:
            raise CommandError(str(error)) from error
        except OSError as error:
            raise CommandError(f"Cannot write the export to {outdir}: {error.strerror or error}.") from error
        self.stdout.write(result.summary())
