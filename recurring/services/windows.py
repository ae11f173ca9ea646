"""Writing windows: the tasks of a config's windows (in bulk, idempotent by the database's
unique (config, window)) and the runs of a template's trigger dates (each in its own savepoint)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from uuid import UUID

from django.db import transaction
from django.db.models import Q

from workflows import services as workflow_services
from workflows.models import Run, Task, WorkflowTemplate

from ..models import RecurringConfig
from .results import GenerationResult
from .schedules import _date_span, _user_id

log = logging.getLogger("portal.scheduler")


#: Rows per INSERT; the database backend lowers it further when its parameter limit requires.
BULK_BATCH_SIZE = 1000


def _stored_config_windows(
    wanted: Iterable[tuple[RecurringConfig, Iterable[dt.date]]],
) -> dict[UUID, dict[dt.date, UUID]]:
    """The stored tasks of several configs, each over the span of its days, as config id →
    window → task id. One query whatever the number of configs: configs asking for the same span
    (the usual case of a scheduler pass) share one condition."""
    by_span: dict[tuple[dt.date, dt.date], list[UUID]] = {}
    for config, days in wanted:
        span = _date_span(days)
        if span is not None:
            by_span.setdefault(span, []).append(config.pk)
    if not by_span:
        return {}
    condition = Q()
    for (low, high), ids in by_span.items():
        condition |= Q(recurring_config_id__in=ids, window_date__gte=low, window_date__lte=high)
    stored: dict[UUID, dict[dt.date, UUID]] = {}
    for config_id, day, pk in (
        Task.objects.filter(condition).order_by().values_list("recurring_config_id", "window_date", "id")
    ):
        stored.setdefault(config_id, {})[day] = pk
    return stored


def _existing_config_windows(config: RecurringConfig, days: Iterable[dt.date]) -> dict[dt.date, UUID]:
    return _stored_config_windows([(config, days)]).get(config.pk, {})


def _existing_template_windows(template: WorkflowTemplate, days: Iterable[dt.date]) -> dict[dt.date, UUID]:
    """Trigger (run) dates whose run exists, mapped to the run id: by the trigger date the run
    was created for, so a changed lead does not hide it."""
    span = _date_span(days)
    if span is None:
        return {}
    rows = (
        Run.objects.filter(template=template, trigger_date__gte=span[0], trigger_date__lte=span[1])
        .order_by()
        .values_list("trigger_date", "id")
    )
    return dict(rows)


def _insert_tasks_of_configs(
    wanted: list[tuple[RecurringConfig, list[dt.date]]], *, by=None
) -> dict[UUID, tuple[dict[dt.date, UUID], list[dt.date]]]:
    """Create the tasks of several configs' days in bulk; return, per config id, (window → id of
    the task we created, the windows another writer created first). One INSERT per batch of rows
    and one read-back query, whatever the number of configs."""
    created_by_id = _user_id(by)
    tasks = [config.task_for_window(day, created_by_id=created_by_id) for config, days in wanted for day in days]
    # One order for every writer, so concurrent passes on PostgreSQL wait on each other's rows in
    # the same order rather than deadlocking.
    tasks.sort(key=lambda task: (str(task.recurring_config_id), task.window_date))
    outcome: dict[UUID, tuple[dict[dt.date, UUID], list[dt.date]]] = {config.pk: ({}, []) for config, _ in wanted}
    if not tasks:
        return outcome
    Task.objects.bulk_create(tasks, batch_size=BULK_BATCH_SIZE, ignore_conflicts=True)
    stored = _stored_config_windows(wanted)
    for task in tasks:
        stored_id = stored.get(task.recurring_config_id, {}).get(task.window_date)
        if stored_id is None:
            # ignore_conflicts also swallows CHECK failures on some databases: never hide that.
            raise RuntimeError(f"the task of window {task.window_date.isoformat()} could not be stored")
        created, lost = outcome[task.recurring_config_id]
        if stored_id == task.pk:
            created[task.window_date] = task.pk
        else:
            lost.append(task.window_date)
    return outcome


def _insert_config_tasks(config: RecurringConfig, days: list[dt.date], *, by=None) -> tuple[dict[dt.date, UUID], list]:
    """``_insert_tasks_of_configs`` for one config."""
    return _insert_tasks_of_configs([(config, days)], by=by)[config.pk]


def _generate_config(
    config: RecurringConfig, days: list[dt.date], existing: Iterable[dt.date], result: GenerationResult, *, by=None
) -> None:
    existing = set(existing)
    to_create = [day for day in days if day not in existing]
    created, lost = _insert_config_tasks(config, to_create, by=by)
    result.windows = sorted(created)
    result.task_ids = [created[day] for day in result.windows]
    result.existing = sorted([day for day in days if day in existing] + lost)
    result.generated, result.skipped = len(created), len(result.existing)


def _generate_template(
    template: WorkflowTemplate, days: list[dt.date], result: GenerationResult, *, by=None, announce: bool = True
) -> list[tuple[dt.date, BaseException]]:
    """Create or top up the run of each trigger date, each in its own savepoint so one failing
    window neither half-creates its run nor blocks the others. Returns the failed windows.
    ``announce=False`` (a backfill): no workflow-created per run; the caller raises a summary."""
    lead = dt.timedelta(days=template.trigger_lead_days)
    failures: list[tuple[dt.date, BaseException]] = []
    for day in days:
        try:
            with transaction.atomic():
                outcome = workflow_services.instantiate_run(
                    template=template, anchor_date=day + lead, by=by, trigger_date=day, announce=announce
                )
        except Exception as exc:  # noqa: BLE001 — recorded as a failure of this window
            log.exception(
                "template window failed",
                extra={"operation": "generate", "template_id": str(template.pk), "window": day.isoformat()},
            )
            failures.append((day, exc))
            continue
        if outcome.created:
            result.generated += 1
            result.windows.append(day)
        else:
            result.skipped += 1
            result.existing.append(day)
            result.recovered += outcome.recovered
        if outcome.created or outcome.recovered:
            result.run_ids.append(outcome.run.pk)
            result.task_ids.extend(outcome.task_ids)
    result.failed_windows = [day for day, _ in failures]
    result.failed = len(failures)
    return failures
