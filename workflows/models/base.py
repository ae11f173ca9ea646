"""What every part of the work engine shares: the choices, input bounds, the operators'
calendar and the schedule bookkeeping of automatic templates and recurring configs."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone

from ..errors import DomainError

User = settings.AUTH_USER_MODEL


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


class TaskStatus(models.TextChoices):
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting", "Waiting"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


OPEN_STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.WAITING)
ACTIONABLE_STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS)
RESOLVED_STATUSES = (TaskStatus.DONE, TaskStatus.SKIPPED)

#: A task's proof requirements: fixed once the task is done or skipped.
REQUIREMENT_FIELDS = ("requires_link", "requires_file", "requires_proof_note")

NOT_A_PORTAL_MEMBER = (
    "Only active members of Operators or Admins can be assigned work; '{username}' is not one, so they "
    "would never see it."
)


class TaskSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    RECURRING = "recurring", "Recurring"
    TEMPLATE = "template", "Template"


class TriggerType(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTOMATIC = "automatic", "Automatic"


class RunStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"


#: Bounds on free input, so nothing a person types can overflow a column or a date: long text
#: (instructions, notes, reasons, comments), estimates in minutes (a PostgreSQL integer holds
#: about two billion) and day offsets of template tasks (anchor ± ten years stays a real date).
MAX_TEXT_LENGTH = 20_000
MAX_ESTIMATE_MINUTES = 100_000
MAX_OFFSET_DAYS = 3650
#: Task definitions one template may hold: far more than any workflow needs, and few enough that
#: a body is refused before anything per task is checked.
MAX_TEMPLATE_TASKS = 500


def check_text_length(value: str | None, field: str, *, limit: int = MAX_TEXT_LENGTH) -> None:
    """Refuse text longer than ``limit`` characters, or holding a control character
    (``workflows.inputs.check_plain_text``), with ``validation_error`` naming the field."""
    from ..inputs import check_plain_text

    check_plain_text(value, field)
    if value and len(value) > limit:
        raise DomainError(
            "validation_error",
            f"{field} is too long ({len(value):,} characters); the limit is {limit:,}.",
            field=field,
            limit=limit,
        )


def check_estimate_minutes(value, field: str = "estimate_minutes") -> int | None:
    """``None`` or a whole number of minutes from 0 to ``MAX_ESTIMATE_MINUTES``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError("validation_error", f"{field} must be a whole number of minutes; got '{value}'.", field=field)
    if not 0 <= value <= MAX_ESTIMATE_MINUTES:
        raise DomainError(
            "validation_error", f"{field} must be between 0 and {MAX_ESTIMATE_MINUTES:,} minutes.", field=field
        )
    return value


def _default_trigger_timezone() -> str:
    """A template's schedule reads in the operators' calendar unless it names another zone."""
    return settings.PORTAL_TIME_ZONE


def portal_today() -> dt.date:
    """Today in the operators' calendar (``PORTAL_TIME_ZONE``)."""
    from zoneinfo import ZoneInfo

    return timezone.now().astimezone(ZoneInfo(settings.PORTAL_TIME_ZONE)).date()


def _choices_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class CommentKind(models.TextChoices):
    COMMENT = "comment", "Comment"
    STATUS = "status", "Status change"
    FOLLOW_UP = "follow_up", "Follow-up sent"
    RESPONSE = "response", "Response received"
    PROOF = "proof", "Proof added"
    EVENT = "event", "Event"


class ProofKind(models.TextChoices):
    LINK = "link", "Link"
    FILE = "file", "File"
    NOTE = "note", "Note"


def _person(by):
    return by if getattr(by, "is_authenticated", False) else None


def _history_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.get_username() if hasattr(value, "get_username") else str(value.pk)
    return value


def _as_date(value, name: str) -> dt.date:
    """A date given to a model method, read by the one strict parser (``workflows.inputs``); a
    refusal is the method's ``validation_error`` naming the field."""
    from ..inputs import parse_date

    try:
        return parse_date(value, name)
    except DomainError as exc:
        raise DomainError("validation_error", exc.detail, field=name) from None


class ScheduleState(models.Model):
    """Where a schedule stands. The scheduler only considers windows whose fire time is after
    ``max(created_at, resumed_at)`` (creation counts as a resume); ``next_fire_at`` is what the
    per-minute reconcile task looks at (indexed); ``retry_at``/``failure_streak`` hold the
    exponential back-off of a failing schedule."""

    resumed_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    retry_at = models.DateTimeField(null=True, blank=True, editable=False)
    failure_streak = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        abstract = True

    @property
    def schedule_watermark(self) -> dt.datetime:
        if self.resumed_at and self.resumed_at > self.created_at:
            return self.resumed_at
        return self.created_at


def object_path(name: str, pk: Any) -> str:
    """``reverse(name, args=[pk])``, remembered: a page that lists many tasks asks for the same
    few URLs again and again (Home's rows, 110 µs a row when reversed each time). Keyed by the
    script prefix and the URL configuration too, so an application mounted under a path (or a
    request with URLs of its own) still gets its own URLs."""
    return _object_path(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF, name, pk)


@functools.lru_cache(maxsize=8192)
def _object_path(prefix: str, urlconf: str, name: str, pk: Any) -> str:
    return reverse(name, urlconf=urlconf, args=[pk])
