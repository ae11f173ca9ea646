"""``manage.py scan_notifications [--at ISO-DATETIME]``: the notification scanner
(``docs/notifications.md``), printing counts."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from notifications.scanner import scan
from workflows.errors import DomainError
from workflows.inputs import parse_instant


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
                "read in PORTAL_TIME_ZONE. Default: now. Never later than now."
            ),
        )

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        try:
            at = now if options["at"] is None else parse_instant(options["at"], "--at")
        except DomainError as exc:
            raise CommandError(" ".join(str(exc.detail).split())) from None
        if at > now:
            # Notifications are persisted with their moment: none may be dated ahead of now.
            raise CommandError(
                f"--at is in the future; scan_notifications evaluates now or a past instant (now is {now.isoformat()})."
            )
        try:
            counts = scan(at)
        except DomainError as exc:
            raise CommandError(" ".join(str(exc.detail).split())) from None
        self.stdout.write(f"Scanned at {at.isoformat()}:")
        for type, count in counts.items():
            self.stdout.write(f"  {type}: {count}")
        self.stdout.write(f"  total: {sum(counts.values())}")
