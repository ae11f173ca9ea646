"""Recurring duties and the history of the automation (generation runs)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from workflows.models import Priority, ScheduleState


class CatchUp(models.TextChoices):
    LATEST = "latest", "Latest missed window only"
    ALL = "all", "Every missed window (up to 31 days)"


class RecurringConfigQuerySet(models.QuerySet):
    def active(self):
        """Not archived (archived configs are hidden from default lists)."""
        return self.filter(archived_at__isnull=True)

    def scheduled(self):
        """Enabled and not archived: the ones the scheduler looks at."""
        return self.filter(enabled=True, archived_at__isnull=True)


def _default_portal_timezone() -> str:
    return settings.PORTAL_TIME_ZONE


class RecurringConfig(ScheduleState):
    """A standalone duty on a five-field cron schedule; each matching window yields one task."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=300)
    instructions = models.TextField(blank=True)
    instructions_url = models.URLField(max_length=2000, blank=True)
    cron_expression = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default=_default_portal_timezone)
    starts_on = models.DateField(null=True, blank=True, help_text="Default: the creation date.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    area = models.CharField(max_length=100, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    estimate_minutes = models.PositiveIntegerField(null=True, blank=True)
    requires_link = models.CharField(max_length=200, blank=True, help_text="Label of a required link proof.")
    requires_file = models.BooleanField(default=False)
    requires_proof_note = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    catch_up = models.CharField(max_length=10, choices=CatchUp.choices, default=CatchUp.LATEST)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    objects = RecurringConfigQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(condition=Q(catch_up__in=CatchUp.values), name="recurring_catch_up_valid"),
            models.CheckConstraint(condition=Q(priority__in=Priority.values), name="recurring_priority_valid"),
            models.CheckConstraint(condition=~Q(cron_expression=""), name="recurring_has_cron"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        self.updated_at = dj_timezone.now()
        if self.starts_on is None:
            self.starts_on = dj_timezone.localdate(self.created_at or dj_timezone.now(), timezone=self.zone)
        super().save(*args, **kwargs)

    @property
    def zone(self):
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)

    @property
    def schedule_active(self) -> bool:
        return self.enabled and self.archived_at is None

    @property
    def is_paused(self) -> bool:
        return not self.enabled


class GenerationStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"


class GenerationTrigger(models.TextChoices):
    BEAT = "beat", "Beat"
    RECONCILE = "reconcile", "Reconcile"
    COMMAND = "command", "Management command"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    UI = "ui", "Portal page"
    BACKFILL = "backfill", "Backfill"
    RETRY = "retry", "Retry"


class GenerationRun(models.Model):
    """One execution of the scheduler for one config or template: what it generated, skipped,
    missed, recovered or failed. The history table of the automation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recurring_config = models.ForeignKey(
        RecurringConfig, null=True, blank=True, on_delete=models.PROTECT, related_name="generation_runs"
    )
    template = models.ForeignKey(
        "workflows.WorkflowTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="generation_runs"
    )
    trigger = models.CharField(max_length=10, choices=GenerationTrigger.choices)
    status = models.CharField(max_length=10, choices=GenerationStatus.choices, db_index=True)
    dry_run = models.BooleanField(default=False)
    at = models.DateTimeField(help_text="The instant the scheduler evaluated.")
    range_start = models.DateField(null=True, blank=True)
    range_end = models.DateField(null=True, blank=True)
    generated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    recovered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    windows = models.JSONField(default=list, blank=True, help_text="Window dates generated.")
    skipped_windows = models.JSONField(default=list, blank=True)
    missed_windows = models.JSONField(default=list, blank=True)
    failed_window = models.DateField(null=True, blank=True)
    error = models.TextField(blank=True)
    failure_key = models.CharField(
        max_length=300,
        blank=True,
        help_text="Dedup key of the automation-failure notification this failure raised (one per schedule "
        "and window); retries of the same window share it, so acknowledging or resolving closes them together.",
    )
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="A later success of the window.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True)
    started_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recurring_config__isnull=False, template__isnull=True)
                | Q(recurring_config__isnull=True, template__isnull=False),
                name="generation_run_one_schedule",
            ),
            models.CheckConstraint(condition=Q(status__in=GenerationStatus.values), name="generation_status_valid"),
            models.CheckConstraint(condition=Q(trigger__in=GenerationTrigger.values), name="generation_trigger_valid"),
        ]
        indexes = [
            models.Index(fields=["recurring_config", "-started_at"], name="generation_config_recent"),
            models.Index(fields=["template", "-started_at"], name="generation_template_recent"),
        ]

    def __str__(self) -> str:
        schedule = self.recurring_config or self.template
        return f"{schedule} @ {self.at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def kind(self) -> str:
        return "recurring" if self.recurring_config_id else "template"
