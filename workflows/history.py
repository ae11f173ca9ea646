"""What a task's history says: when it was resolved, and how long work like it usually takes.

* A task's **resolution instant** is when it reached its current resolved status: ``completed_at``
  for done work, the time of the skip for skipped work; open work has none.
* A task's **typical duration** is the median time (started → completed, each capped at
  ``TYPICAL_CAP``) of the completed occurrences of the same duty — the same recurring config, or
  the same template task (template + ref) — completed in the last ``TYPICAL_DAYS`` days, when there
  are at least ``TYPICAL_MIN_SAMPLES`` of them; otherwise the task's own ``estimate_minutes``.

See docs/task-states.md (history) and docs/concepts.md (typical duration).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import (
    Case,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    UUIDField,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .calendar_sql import MinutesBetween
from .models import RESOLVED_STATUSES, Run, Task, TaskComment, TaskStatus

TYPICAL_DAYS = 90
TYPICAL_MIN_SAMPLES = 3
TYPICAL_CAP = dt.timedelta(hours=8)

#: The duty a task is an occurrence of: ("config", config id) or ("template", template id, ref).
DutyKey = tuple


def with_resolved_at(tasks: QuerySet) -> QuerySet:
    """Annotate ``resolved_at``: the instant the task reached its current resolved status (NULL
    while it is open)."""
    skipped_at = (
        TaskComment.objects.filter(task=OuterRef("pk"), to_status=TaskStatus.SKIPPED)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    resolved = Coalesce("completed_at", Subquery(skipped_at))
    return tasks.annotate(resolved_at=Case(When(status__in=RESOLVED_STATUSES, then=resolved), default=None))


def duration_expression() -> ExpressionWrapper:
    """started → completed as a duration (SQL)."""
    return ExpressionWrapper(F("completed_at") - F("started_at"), output_field=DurationField())


def duty_key(task: Task) -> DutyKey | None:
    """The duty ``task`` is an occurrence of, or None for one-off work."""
    if task.recurring_config_id:
        return ("config", task.recurring_config_id)
    if task.run_id and task.template_task_ref:
        template_id = getattr(task, "run_template_id", None)
        if template_id is None:
            template_id = task.run.template_id
        return ("template", template_id, task.template_task_ref)
    return None


def median_minutes(durations: Iterable[dt.timedelta], *, cap: dt.timedelta | None = TYPICAL_CAP) -> int | None:
    """The median of ``durations`` in whole minutes (each capped at ``cap``), None when empty."""
    values = [min(d, cap) if cap else d for d in durations if d is not None and d >= dt.timedelta(0)]
    if not values:
        return None
    return round(statistics.median(v.total_seconds() for v in values) / 60)


def typical_durations(keys: Iterable[DutyKey], *, now: dt.datetime | None = None) -> dict[DutyKey, int]:
    """Typical minutes per duty for every key that has at least ``TYPICAL_MIN_SAMPLES`` completed
    occurrences in the last ``TYPICAL_DAYS`` days. One query, whatever the number of keys."""
    keys = {key for key in keys if key}
    if not keys:
        return {}
    now = now or timezone.now()
    config_ids = {key[1] for key in keys if key[0] == "config"}
    template_ids = {key[1] for key in keys if key[0] == "template"}
    timed = (
        Task.objects.filter(
            status=TaskStatus.DONE,
            started_at__isnull=False,
            completed_at__gte=now - dt.timedelta(days=TYPICAL_DAYS),
            completed_at__lte=now,
            # Completing straight from to do stamps both instants at once: that is no timing.
            started_at__lt=F("completed_at"),
        )
        # Minutes computed by the database itself (no per-row callbacks on SQLite).
        .annotate(duration=MinutesBetween("started_at", "completed_at"))
        .order_by()
    )
    # Two halves in one query (UNION ALL), each read along its own index (``task_typical_config``,
    # ``task_typical_run``) instead of every completed task.
    of_configs = timed.filter(recurring_config_id__in=config_ids).annotate(
        template=Value(None, output_field=UUIDField())
    )
    # A task of a recurring config is that config's occurrence (``duty_key``), whatever its run.
    of_templates = (
        timed.filter(run__in=Run.objects.filter(template_id__in=template_ids).values("pk"))
        .filter(recurring_config__isnull=True)
        .annotate(template=F("run__template_id"))
    )
    fields = ("recurring_config_id", "template", "template_task_ref", "duration")
    rows = of_configs.values_list(*fields).union(of_templates.values_list(*fields), all=True)
    samples: dict[DutyKey, list[float]] = defaultdict(list)
    for config_id, template_id, ref, duration in rows:
        key = ("config", config_id) if config_id else ("template", template_id, ref)
        if key in keys:
            samples[key].append(duration)
    return {
        key: median_minutes(dt.timedelta(minutes=value) for value in values)
        for key, values in samples.items()
        if len(values) >= TYPICAL_MIN_SAMPLES
    }


def attach_typical_minutes(tasks: list[Task], *, now: dt.datetime | None = None) -> list[Task]:
    """Set ``typical_minutes`` (history median, else own estimate, else None) and
    ``typical_from_history`` on each task; one query for the whole list. The tasks should have
    ``run`` selected (or ``run_template_id`` annotated) so template keys cost no query."""
    keys = {task.pk: duty_key(task) for task in tasks}
    typical = typical_durations(keys.values(), now=now)
    for task in tasks:
        from_history = typical.get(keys[task.pk])
        task.typical_from_history = from_history is not None
        task.typical_minutes = from_history if from_history is not None else task.estimate_minutes
    return tasks


def typical_minutes_of(task: Task) -> tuple[int | None, bool]:
    """(typical minutes, whether from history) for one task."""
    attach_typical_minutes([task])
    return task.typical_minutes, task.typical_from_history
