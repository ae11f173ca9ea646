"""Workflow templates and their task definitions."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..errors import DomainError
from ..signals import template_saved
from .base import (
    MAX_ESTIMATE_MINUTES,
    MAX_OFFSET_DAYS,
    MAX_TEXT_LENGTH,
    Priority,
    ScheduleState,
    TriggerType,
    User,
    _choices_check,
    _default_trigger_timezone,
)


def find_dependency_cycle(depends_on: dict[str, Iterable[str]]) -> list[str] | None:
    """Return one dependency cycle as a list of refs ending where it started, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(depends_on, WHITE)
    stack: list[str] = []

    def visit(ref: str) -> list[str] | None:
        colour[ref] = GREY
        stack.append(ref)
        for nxt in depends_on.get(ref, ()):
            if nxt not in colour:
                continue
            if colour[nxt] == GREY:
                return stack[stack.index(nxt) :] + [nxt]
            if colour[nxt] == WHITE and (found := visit(nxt)):
                return found
        stack.pop()
        colour[ref] = BLACK
        return None

    for ref in sorted(depends_on):
        if colour[ref] == WHITE and (found := visit(ref)):
            return found
    return None


class WorkflowTemplateQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived_at__isnull=True)

    def automatic(self):
        return self.filter(trigger_type=TriggerType.AUTOMATIC)


class WorkflowTemplate(ScheduleState):
    """A reusable multi-step piece of work: ordered stages, task definitions, run links and an
    optional automatic trigger (cron + lead days)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_TEXT_LENGTH)])
    category = models.CharField(max_length=100, blank=True, db_index=True)
    stages = models.JSONField(default=list, blank=True, help_text="Ordered stage names.")
    run_links = models.JSONField(default=list, blank=True, help_text="Names of links shared by a run.")
    trigger_type = models.CharField(max_length=10, choices=TriggerType.choices, default=TriggerType.MANUAL)
    trigger_schedule = models.CharField(max_length=200, blank=True, help_text="Five-field cron expression.")
    trigger_timezone = models.CharField(max_length=64, default=_default_trigger_timezone)
    trigger_lead_days = models.PositiveIntegerField(default=0)
    trigger_enabled = models.BooleanField(default=True)
    trigger_starts_on = models.DateField(null=True, blank=True)
    catch_up = models.CharField(
        max_length=10, choices=[("latest", "Latest missed window"), ("all", "All missed windows")], default="latest"
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = WorkflowTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            _choices_check("trigger_type", TriggerType, "template_trigger_type_valid"),
            models.CheckConstraint(
                condition=Q(trigger_type=TriggerType.MANUAL) | ~Q(trigger_schedule=""),
                name="template_automatic_has_schedule",
            ),
            models.CheckConstraint(condition=Q(catch_up__in=["latest", "all"]), name="template_catch_up_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    @property
    def is_automatic(self) -> bool:
        return self.trigger_type == TriggerType.AUTOMATIC

    @property
    def schedule_active(self) -> bool:
        return self.is_automatic and self.trigger_enabled and self.archived_at is None

    @property
    def starts_on(self) -> dt.date:
        """``trigger_starts_on``, else the creation date in the template's own zone (the UTC date
        would be a day off around midnight)."""
        if self.trigger_starts_on:
            return self.trigger_starts_on
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            zone = ZoneInfo(self.trigger_timezone or settings.PORTAL_TIME_ZONE)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo(settings.PORTAL_TIME_ZONE)
        return timezone.localdate(self.created_at, timezone=zone)

    def stage_order(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.stages or [])}

    # ---- lifecycle ---------------------------------------------------------------------------
    # Every change announces ``template_saved`` once (whoever keeps schedules in sync reacts).

    def archive(self, *, by=None) -> None:
        """Hide the template from launching and stop its schedule; its runs are kept."""
        self._set_archived(True)

    def restore(self, *, by=None) -> None:
        """Undo :meth:`archive`."""
        self._set_archived(False)

    def _set_archived(self, archived: bool) -> None:
        if (self.archived_at is not None) == archived:
            return
        self.archived_at = timezone.now() if archived else None
        self.save(update_fields=["archived_at", "updated_at"])
        template_saved.send(sender=WorkflowTemplate, template=self)

    def set_trigger_enabled(self, enabled: bool, *, by=None) -> None:
        """Pause or enable the automatic trigger; enabling counts as a resume (only later fire
        times count). Goes through ``save_template``, so the same validation applies."""
        from ..services import save_template

        if not self.is_automatic:
            raise DomainError("invalid_transition", "This template has no automatic trigger.")
        save_template(template=self, data={"trigger_enabled": enabled}, by=by)


class TemplateTask(models.Model):
    """One task definition of a template; ``ref`` is its stable key within the template."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="tasks")
    ref = models.SlugField(max_length=100)
    title = models.CharField(max_length=300)
    instructions = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_TEXT_LENGTH)])
    stage = models.CharField(max_length=100, blank=True)
    offset_days = models.IntegerField(
        default=0,
        validators=[MinValueValidator(-MAX_OFFSET_DAYS), MaxValueValidator(MAX_OFFSET_DAYS)],
        help_text="Due date = anchor date + offset (usually ≤ 0).",
    )
    position = models.PositiveIntegerField(default=0)
    assignee = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    area = models.CharField(max_length=100, blank=True)
    depends_on = models.JSONField(default=list, blank=True, help_text="Refs of prerequisite tasks.")
    requires_link = models.CharField(max_length=200, blank=True, help_text="Label of a required link proof.")
    requires_file = models.BooleanField(default=False)
    requires_proof_note = models.BooleanField(default=False)
    requires_run_links = models.JSONField(default=list, blank=True)
    estimate_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_ESTIMATE_MINUTES)]
    )

    class Meta:
        ordering = ["template", "position", "offset_days", "ref"]
        constraints = [
            models.UniqueConstraint(fields=["template", "ref"], name="template_task_ref_unique"),
            _choices_check("priority", Priority, "template_task_priority_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.ref}: {self.title}"
