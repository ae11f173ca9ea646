"""``manage.py seed_v1_duties``: the V1 recurring duties and automatic templates."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from recurring.models import RecurringConfig
from recurring.seeds import ensure_v1_configs
from workflows.errors import DomainError
from workflows.seeds import ensure_v1_templates


def seed_v1_duties(*, assignee=None) -> dict[str, int]:
    """Create whatever V1 duty or template is missing and leave existing ones untouched, so running
    it any number of times yields the same rows. Saving goes through the domain services, which
    keep the celery-beat schedule rows in sync. Returns counts for the summary line."""
    with transaction.atomic():
        templates, templates_created = ensure_v1_templates()
        configs_before = RecurringConfig.objects.count()
        configs = ensure_v1_configs(assignee=assignee)
        configs_created = RecurringConfig.objects.count() - configs_before
    return {
        "templates": len(templates),
        "templates_created": templates_created,
        "configs": len(configs),
        "configs_created": configs_created,
    }


class Command(BaseCommand):
    help = "Create the V1 recurring duties and automatic workflow templates (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--assignee", metavar="USERNAME", help="Assign newly created recurring duties to this user."
        )

    def handle(self, *args, assignee: str | None = None, **options) -> None:
        user = None
        if assignee:
            user = get_user_model().objects.filter(username=assignee).first()
            if user is None:
                raise CommandError(f"No user named '{assignee}'.")
        try:
            counts = seed_v1_duties(assignee=user)
        except DomainError as exc:
            # e.g. the assignee is no active portal member: one line, nothing created (atomic).
            raise CommandError(" ".join(str(exc.detail).split())) from None
        self.stdout.write(
            f"V1 duties: {counts['configs']} recurring configs ({counts['configs_created']} created), "
            f"{counts['templates']} automatic templates ({counts['templates_created']} created)."
        )
