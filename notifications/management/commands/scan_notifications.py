"""``manage.py scan_notifications [--at ISO-DATETIME]``: the §5 scanner, printing counts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from notifications.scanner import scan


def parse_instant(value: str) -> dt.datetime:
    """An ISO 8601 date-time; without an offset it is read in ``PORTAL_TIME_ZONE``."""
    try:
        instant = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(f"--at: '{value}' is not an ISO 8601 date-time (e.g. 2028-02-02T09:00+01:00).")
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=ZoneInfo(settings.PORTAL_TIME_ZONE))
    return instant


class Command(BaseCommand):
    help = (
        "Raise task-due, task-overdue, follow-up-due and missing-evidence notifications as of now (or --at). "
        "Safe to run any number of times: nothing is raised twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            help="Scan as of this instant (ISO 8601; without an offset, in PORTAL_TIME_ZONE). Default: now.",
        )

    def handle(self, *args, **options) -> None:
        at = parse_instant(options["at"]) if options["at"] else timezone.now()
        counts = scan(at)
        self.stdout.write(f"Scanned at {at.isoformat()}:")
        for type, count in counts.items():
            self.stdout.write(f"  {type}: {count}")
        self.stdout.write(f"  total: {sum(counts.values())}")
