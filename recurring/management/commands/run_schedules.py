"""``manage.py run_schedules [--at ISO-DATETIME] [--json]`` (``docs/api.md``)."""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from recurring import services
from recurring.models import GenerationTrigger
from workflows.errors import DomainError
from workflows.inputs import parse_instant

AT_HELP = (
    "The instant to evaluate, ISO 8601 (e.g. 2028-02-02T09:00:00+00:00); without an offset it is "
    "read in PORTAL_TIME_ZONE."
)


def one_line(text: str) -> str:
    """``text`` on a single line (a command gives a one-line reason on bad input)."""
    return " ".join(str(text).split())


def report(results: list[services.GenerationResult], *, at: dt.datetime, **extra) -> dict:
    """The one JSON object of ``run_schedules --json`` and ``backfill --json``."""
    return {
        "at": at.isoformat(),
        **extra,
        "schedules": [result.as_json() for result in results],
        "totals": services.totals(results),
    }


def describe(result: services.GenerationResult) -> str:
    """One human line per schedule."""
    counts = ", ".join(f"{getattr(result, name)} {name}" for name in services.COUNT_NAMES)
    line = f"{result.kind} {result.schedule.pk} “{result.title}”: {counts}"
    if result.windows:
        shown = ", ".join(day.isoformat() for day in result.windows[:10])
        more = f" … (+{len(result.windows) - 10})" if len(result.windows) > 10 else ""
        line += f" [windows: {shown}{more}]"
    if result.missed_windows:
        first, last = result.missed_windows[0], result.missed_windows[-1]
        line += f" [missed: {first.isoformat()}" + (f" … {last.isoformat()}]" if last != first else "]")
    if result.error:
        line += f" — ERROR: {result.error}"
    return line


class Command(BaseCommand):
    help = (
        "Do what celery-beat and the workers would do at an instant for every enabled schedule: generate the "
        "windows due by then (starts_on, pause/resume and catch-up rules applied) and print, per schedule, "
        "generated / skipped / missed / recovered / failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            metavar="ISO-DATETIME",
            help=AT_HELP + " Default: now. Never later than now: generation does not run ahead of time.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object (see docs/api.md).")

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        try:
            at = now if options["at"] is None else parse_instant(options["at"], "--at")
        except DomainError as exc:
            raise CommandError(one_line(exc.detail)) from None
        if at > now:
            # What is generated here is persisted: windows must not be produced ahead of time.
            raise CommandError(
                f"--at is in the future; run_schedules evaluates now or a past instant (now is {now.isoformat()})."
            )
        try:
            results = services.run_schedules(at=at, trigger=GenerationTrigger.COMMAND)
        except DomainError as exc:
            raise CommandError(one_line(exc.detail)) from None
        if options["json"]:
            self.stdout.write(json.dumps(report(results, at=at)))
            return
        self.stdout.write(f"Schedules at {at.isoformat()}:")
        for result in results:
            self.stdout.write("  " + describe(result))
        summed = services.totals(results)
        self.stdout.write("Totals: " + ", ".join(f"{value} {name}" for name, value in summed.items()))
