"""Backfill: generating the windows of an explicit date range, on a paused schedule too, never
ahead of their fire time, with one summary notification (``docs/schedules.md``)."""

from __future__ import annotations

import datetime as dt
import logging
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from workflows.errors import DomainError
from workflows.models import Task

from .. import cron
from ..models import GenerationTrigger
from .failures import _error_text, _record_failures, _resolve_failures
from .notices import _notify_backfill_summary, _notify_template_backfill_summary
from .results import GenerationResult, _log_result, _new_generation_run
from .schedules import Schedule, _require_trigger, _user_id, schedule_of
from .windows import _existing_config_windows, _existing_template_windows, _generate_config, _generate_template

log = logging.getLogger("portal.scheduler")


#: A backfill covers at most this many days (start and end included).
BACKFILL_MAX_DAYS = 366


def check_backfill_range(start: dt.date, end: dt.date) -> None:
    """Refuse a range that ends before it starts or spans more than 366 days."""
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise DomainError("invalid_range", "A backfill needs a start and an end date (YYYY-MM-DD).")
    if end < start:
        raise DomainError(
            "invalid_range", f"The end date {end.isoformat()} is before the start date {start.isoformat()}."
        )
    days = (end - start).days + 1
    if days > BACKFILL_MAX_DAYS:
        raise DomainError(
            "backfill_range_too_long",
            f"A backfill covers at most {BACKFILL_MAX_DAYS} days; {start.isoformat()} to {end.isoformat()} "
            f"is {days} days. Split it into several backfills.",
            max_days=BACKFILL_MAX_DAYS,
        )


def backfill(
    schedule: Schedule,
    *,
    start: dt.date,
    end: dt.date,
    dry_run: bool = False,
    by=None,
    trigger: str = GenerationTrigger.BACKFILL,
) -> GenerationResult:
    """Generate the windows of ``start``–``end`` (templates: trigger dates). Ignores the pause
    watermark (works on a paused schedule without resuming it), is bounded by ``starts_on``,
    leaves out windows whose fire time is still ahead (listed in ``future_windows``), keeps
    idempotency, and raises one summary notification rather than one per task. Refused on an
    archived schedule (409). A dry run writes nothing and reports what would happen."""
    _require_trigger(trigger)
    check_backfill_range(start, end)
    adapter = schedule_of(schedule)
    kind = adapter.kind
    if schedule.archived_at is not None:
        if adapter.is_config:
            raise DomainError(
                "recurring_config_archived", "This recurring config is archived; it cannot be backfilled.", status=409
            )
        raise DomainError("template_archived", "This template is archived; it cannot be backfilled.", status=409)
    if not adapter.is_config and not schedule.is_automatic:
        raise DomainError(
            "template_not_automatic",
            "Only an automatic template has trigger dates to backfill; launch a run for an anchor date instead.",
        )
    try:
        sched = adapter.compile()
    except cron.CronError as exc:
        raise DomainError("invalid_schedule", _error_text(exc, schedule), field="cron_expression") from None

    now = timezone.now()
    started_at = now
    result = GenerationResult(kind=kind, schedule=schedule, dry_run=dry_run)
    starts_on = adapter.starts_on
    if start < starts_on:
        result.notes.append(
            f"The schedule starts on {starts_on.isoformat()}; earlier dates of the range are not generated."
        )
    days: list[dt.date] = []
    for day in sched.windows(max(start, starts_on), end):
        if sched.fire_time(day) <= now:
            days.append(day)
        else:
            result.future_windows.append(day)
    if result.future_windows:
        result.notes.append(
            f"{len(result.future_windows)} window(s) from {result.future_windows[0].isoformat()} on are left out: "
            "their fire time is still ahead; the scheduler generates them when they are due."
        )

    if dry_run:
        _preview(schedule, days, result)
        _log_result(result, operation="backfill", trigger=trigger, by=by, at=now)
        return result

    range_ = (start, end)
    attempted: list[dt.date] = []
    try:
        with transaction.atomic():
            if adapter.is_config:
                existing = _existing_config_windows(schedule, days)
                attempted = [day for day in days if day not in existing]
                _generate_config(schedule, days, existing, result, by=by)
                failures = []
            else:
                failures = _generate_template(schedule, days, result, by=by, announce=False)
            if failures:
                _record_failures(
                    schedule,
                    result,
                    [(day, _error_text(exc, schedule)) for day, exc in failures],
                    at=now,
                    trigger=trigger,
                    by=by,
                    started_at=started_at,
                    range_=range_,
                    scheduler=False,
                )
            elif not result.is_empty:
                run = _new_generation_run(
                    schedule, result, at=now, trigger=trigger, by=by, started_at=started_at, range_=range_
                )
                run.save()
                result.generation_run = run
            if result.generation_run is not None:
                _resolve_failures(schedule, [d for d in days if d not in set(result.failed_windows)])
            if adapter.is_config:
                _notify_backfill_summary(schedule, result)
            else:
                _notify_template_backfill_summary(schedule, result)
    except Exception as exc:  # noqa: BLE001 — recorded, and reported to the caller in the result
        log.exception(
            "backfill of %s %s failed",
            kind,
            schedule.pk,
            extra={
                "operation": "backfill",
                "trigger": trigger,
                "user_id": _user_id(by),
                **schedule_of(schedule).log_ids,
            },
        )
        failed = GenerationResult(kind=kind, schedule=schedule, failed_windows=attempted, notes=result.notes)
        failed.future_windows = result.future_windows
        error = _error_text(exc, schedule)
        with transaction.atomic():
            _record_failures(
                schedule,
                failed,
                [(day, error) for day in attempted] or [(None, error)],
                at=now,
                trigger=trigger,
                by=by,
                started_at=started_at,
                range_=range_,
                scheduler=False,
            )
        result = failed
    _log_result(result, operation="backfill", trigger=trigger, by=by, at=now)
    return result


def _preview(schedule: Schedule, days: list[dt.date], result: GenerationResult) -> None:
    """Dry run: which windows would be generated and which already exist (templates: how many
    missing tasks existing runs would get back). Reads only."""
    if schedule_of(schedule).is_config:
        existing = _existing_config_windows(schedule, days)
    else:
        existing = _existing_template_windows(schedule, days)
        runs = [existing[day] for day in days if day in existing]
        if runs:
            refs = set(schedule.tasks.values_list("ref", flat=True))
            present: dict[UUID, set[str]] = {pk: set() for pk in runs}
            for run_id, ref in Task.objects.filter(run_id__in=runs).values_list("run_id", "template_task_ref"):
                present[run_id].add(ref)
            result.recovered = sum(len(refs - present[pk]) for pk in runs)
    result.windows = [day for day in days if day not in existing]
    result.existing = [day for day in days if day in existing]
    result.generated, result.skipped = len(result.windows), len(result.existing)
