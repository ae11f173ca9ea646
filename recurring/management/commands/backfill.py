"""``manage.py backfill (--config ID | --template ID) --start D --end D [--dry-run] [--json]``
(``docs/schedules.md``, ``docs/api.md``)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from recurring import services
from recurring.management.commands.run_schedules import describe, one_line, report
from recurring.models import GenerationTrigger, RecurringConfig
from workflows.errors import DomainError
from workflows.inputs import parse_date
from workflows.models import WorkflowTemplate


def why_nothing(result) -> list[str]:
    """The reasons a backfill had nothing to generate: the service's notes, or that no window
    of the schedule falls in the range."""
    if result.generated or result.existing or result.failed or result.error:
        return []
    return list(result.notes) or ["no window of the schedule falls in the range."]


def find(model, pk: str, what: str):
    try:
        found = model.objects.filter(pk=pk).first()
    except Exception:  # a malformed UUID is just as unknown
        found = None
    if found is None:
        raise CommandError(f"There is no {what} with id '{pk}'.")
    return found


class Command(BaseCommand):
    help = (
        "Generate the windows of a date range (templates: trigger dates) for one recurring config or automatic "
        "template: at most 366 days, bounded by its start date, never windows whose fire time is still ahead; "
        "works on a paused schedule without resuming it. --dry-run shows what would be generated and what "
        'already exists, and writes nothing. --json prints the run_schedules object plus "dry_run" and "notes" '
        "(why dates of the range were left out)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--config", metavar="ID", help="Recurring config id.")
        parser.add_argument("--template", metavar="ID", help="Automatic workflow template id.")
        # Checked in handle(): a missing one gets a one-line reason, not argparse's usage text.
        parser.add_argument("--start", metavar="YYYY-MM-DD", help="First date of the range (required).")
        parser.add_argument("--end", metavar="YYYY-MM-DD", help="Last date of the range, included (required).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would happen; write nothing.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object (see docs/api.md).")

    def handle(self, *args, **options) -> None:
        if bool(options["config"]) == bool(options["template"]):
            raise CommandError("Give exactly one of --config ID or --template ID.")
        if not options["start"] or not options["end"]:
            raise CommandError("--start and --end are required (YYYY-MM-DD).")
        try:
            start = parse_date(options["start"], "--start")
            end = parse_date(options["end"], "--end")
        except DomainError as exc:
            raise CommandError(one_line(exc.detail)) from None
        if options["config"]:
            schedule = find(RecurringConfig, options["config"], "recurring config")
        else:
            schedule = find(WorkflowTemplate, options["template"], "workflow template")
        try:
            result = services.backfill(
                schedule, start=start, end=end, dry_run=options["dry_run"], trigger=GenerationTrigger.COMMAND
            )
        except DomainError as exc:
            raise CommandError(one_line(exc.detail)) from None
        at = result.generation_run.at if result.generation_run else timezone.now()
        if options["json"]:
            self.stdout.write(json.dumps(report([result], at=at, dry_run=result.dry_run, notes=list(result.notes))))
        else:
            heading = "Dry run (nothing written)" if result.dry_run else "Backfill"
            self.stdout.write(f"{heading} of {start.isoformat()} to {end.isoformat()}:")
            self.stdout.write("  " + describe(result))
            if result.existing:
                shown = ", ".join(day.isoformat() for day in result.existing[:10])
                more = f" … (+{len(result.existing) - 10})" if len(result.existing) > 10 else ""
                self.stdout.write(f"  already existing: {shown}{more}")
            reasons = why_nothing(result)
            if reasons:
                self.stdout.write("  Nothing was generated: " + " ".join(reasons))
            else:
                for note in result.notes:
                    self.stdout.write(f"  note: {note}")
        if result.error:
            raise CommandError(f"Backfill failed: {result.error}")
