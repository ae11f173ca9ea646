"""``manage.py scan_notifications [--at ISO-DATETIME]``: the notification scanner
(``docs/notifications.md``), printing counts."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from notifications.scanner import scan
from workflows.errors import DomainError

# The ``--at`` rule shared with ``run_schedules``: ISO 8601 extended form, date 'T' (or space)
# hh:mm[:ss[.ffffff]], optional 'Z' or ±hh:mm; bare dates and basic forms are refused.
INSTANT_FORMAT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)


def parse_instant(value: str) -> dt.datetime:
    """An ISO 8601 date-time (``INSTANT_FORMAT``); without an offset it is read in
    ``PORTAL_TIME_ZONE``."""
    text = value.strip()
    try:
        if not INSTANT_FORMAT.fullmatch(text):
            raise ValueError(text)
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--at: '{value}' is not an ISO 8601 date-time (e.g. 2028-02-02T09:00:00+00:00).") from None
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
            metavar="ISO-DATETIME",
            help=(
                "Scan as of this instant, ISO 8601 (e.g. 2028-02-02T09:00:00+00:00); without an offset it is "
                "read in PORTAL_TIME_ZONE. Default: now."
            ),
        )

    def handle(self, *args, **options) -> None:
        at = parse_instant(options["at"]) if options["at"] else timezone.now()
        try:
            counts = scan(at)
        except DomainError as exc:
            raise CommandError(" ".join(str(exc.detail).split())) from None
        self.stdout.write(f"Scanned at {at.isoformat()}:")
        for type, count in counts.items():
            self.stdout.write(f"  {type}: {count}")
        self.stdout.write(f"  total: {sum(counts.values())}")
