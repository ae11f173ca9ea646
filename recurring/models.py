"""Recurring duties and the history of the automation (generation runs).

The rules about one config or one generation run live here, as model properties and QuerySet
methods, so the API, the admin, the pages and Operations Home read them from one place
(``docs/schedules.md``)."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone as dj_timezone

from workflows.models import Priority, ScheduleState, Task, TaskSource

from . import cron

#: How many upcoming fire times a config shows (API, admin).
NEXT_FIRE_TIMES = 5


def schedule_description(expression: str) -> str:
    """A cron expression in words, or why it cannot be read (configs and templates alike)."""
    try:
        return cron.explain(expression)
    except cron.CronError as exc:
        return f"Invalid schedule: {exc}"


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

    def with_history(self):
        """Configs annotated with ``generated_count`` (one subquery) and their latest real
        generation run prefetched as ``latest_runs`` (one query for the whole page): what lists
        of configs show, in a number of queries that does not grow with their length."""
        generated = (
            Task.objects.filter(recurring_config=OuterRef("pk"))
            .order_by()
            .values("recurring_config")
            .annotate(n=Count("pk"))
            .values("n")
        )
        latest = GenerationRun.objects.filter(dry_run=False).order_by("-started_at", "-at")[:1]
        return (
            self.select_related("assignee")
            .annotate(generated_count=Coalesce(Subquery(generated, output_field=IntegerField()), Value(0)))
            .prefetch_related(Prefetch("generation_runs", queryset=latest, to_attr="latest_runs"))
        )


def last_run_of(schedule) -> GenerationRun | None:
    """The latest real (not dry-run) generation run of a config or an automatic template: the
    prefetched ``latest_runs`` when a list loaded them, else one query."""
    runs = getattr(schedule, "latest_runs", None)
    if runs is None:
        return schedule.generation_runs.filter(dry_run=False).order_by("-started_at", "-at").first()
    return runs[0] if runs else None


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
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def schedule_active(self) -> bool:
        return self.enabled and self.archived_at is None

    @property
    def is_paused(self) -> bool:
        return not self.enabled

    @property
    def schedule_description(self) -> str:
        """The cron expression in words, or why it cannot be read."""
        return schedule_description(self.cron_expression)

    def upcoming_fire_times(self, *, after: dt.datetime, count: int = NEXT_FIRE_TIMES) -> list[dt.datetime]:
        """The schedule's next ``count`` fire times after ``after`` (aware datetimes in the
        schedule's zone), never before ``starts_on``. Shown whether or not the config is paused:
        it is what the schedule means, not a promise that work will be created."""
        try:
            schedule = cron.compile_schedule(self.cron_expression, self.timezone)
        except cron.CronError:
            return []
        if self.starts_on:
            # Fire times of window D fall on local date D, so starting just before D's midnight
            # keeps windows before starts_on out.
            start_of_first_window = dt.datetime.combine(self.starts_on, dt.time.min, tzinfo=self.zone)
            after = max(after, start_of_first_window - dt.timedelta(seconds=1))
        return [fire.astimezone(self.zone) for fire in schedule.next_fire_times(after, count=count)]

    @property
    def last_run(self) -> GenerationRun | None:
        """The latest real (not dry-run) generation run; prefetched by ``with_history()``."""
        return last_run_of(self)

    def task_for_window(self, day: dt.date, *, created_by_id: int | None = None) -> Task:
        """The (unsaved) task this config generates for window ``day``, due that day."""
        return Task(
            title=self.title,
            instructions=self.instructions,
            instructions_url=self.instructions_url,
            priority=self.priority,
            due_date=day,
            assignee_id=self.assignee_id,
            area=self.area,
            estimate_minutes=self.estimate_minutes,
            source=TaskSource.RECURRING,
            recurring_config_id=self.pk,
            window_date=day,
            requires_link=self.requires_link,
            requires_file=self.requires_file,
            requires_proof_note=self.requires_proof_note,
            created_by_id=created_by_id,
        )


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


class GenerationRunQuerySet(models.QuerySet):
    def needing_attention(self):
        """Failures nobody has acknowledged and no later success has resolved (the rule of
        ``GenerationRun.needs_attention``; ``docs/home.md``)."""
        return self.filter(status=GenerationStatus.FAILED, resolved_at__isnull=True, acknowledged_at__isnull=True)


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

    objects = GenerationRunQuerySet.as_manager()

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

    @property
    def needs_attention(self) -> bool:
        """One row of ``GenerationRun.objects.needing_attention()``."""
        return self.status == GenerationStatus.FAILED and self.resolved_at is None and self.acknowledged_at is None
