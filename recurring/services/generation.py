"""The scheduler's passes: what is due for one schedule (``generate_due``), for every schedule
(``run_schedules``) and for the schedules whose cursor has passed (``reconcile``); the rules are
those of ``docs/schedules.md``.

Rules enforced here (every caller — beat, the reconcile task, ``run_schedules``, the API, the
admin and the pages — goes through these functions, so they can never disagree):

* **Windows** come from ``recurring.cron`` only. A config generates the task of window D at D's
  fire time, due on D; an automatic template generates, for run date R, the run anchored on
  R + lead days (``workflows.services.instantiate_run``).
* **Creation counts as a resume.** The scheduler only considers windows on or after ``starts_on``
  whose fire time is after the *watermark* ``max(created_at, resumed_at)``. Enabling a paused
  schedule, or changing its cron expression or time zone, sets ``resumed_at`` (only later fire
  times count). Older windows are reachable only by backfill and are never reported as missed.
* **The cursor.** ``next_fire_at`` is the fire time of the earliest window the scheduler has not
  decided yet; a successful pass at instant ``at`` moves it to the first fire time after ``at``
  (never backwards). The reconcile task picks the schedules whose cursor has passed. Windows
  between the cursor and ``at`` are the pass's *new* windows: each is generated, or — when the
  catch-up policy leaves it out — recorded once as *missed* (never again on later passes).
* **Catch-up.** ``latest``: the pass targets the most recent due window only. ``all``: every due
  window dated within 31 days before ``at``'s date (in the schedule's zone). Targets that already
  exist are reported as *skipped* (so re-running at the same instant generates nothing and
  reports the existing due windows), and for templates an existing run is topped up with the
  tasks it lacks (*recovered*).
* **Idempotency is the database's**: unique (config, window_date) and (template, anchor_date).
  Tasks are written with one ``bulk_create(ignore_conflicts=True)`` per batch and read back, so a
  window another worker created first is reported as a skipped duplicate.
* **Passes at scale.** ``reconcile`` and ``run_schedules`` generate their configs in batches
  (``PASS_BATCH_SIZE`` per transaction), in a constant number of queries per batch, recording
  exactly what a pass of each config alone records (its own generation run, notices, cursor).
  When anything in a batch fails, the batch is rolled back and its configs are generated one at
  a time, each in its own transaction, so a failure is recorded against its own schedule and
  never undoes another's work. Templates and schedules being retried always go one at a time.
* **Failures**: an invalid schedule or an exception records a failed ``GenerationRun`` (error
  text, failed window) and at most one ``automation-failure`` notification per (schedule,
  window) however often it is retried (windows failing together with the same error share one);
  the pass is rolled back (a template's other windows, each in its own savepoint, still
  succeed), other schedules continue, and the reconcile task retries with exponential back-off
  (1 minute doubling to 1 hour). A later success of that window resolves the failed generation
  runs and their notifications; an admin may acknowledge them with a note.
* **History.** A pass that did anything (generated, missed, recovered or failed) writes one
  ``GenerationRun``; a pass with nothing due, or that only found its windows already there
  (reported as skipped: a re-run, or a pass that lost a race), writes none. A backfill dry run writes nothing
  at all (no generation run either); it only reports.
* Structured log lines (logger ``portal.scheduler``; JSON in production) on every generation and
  every error path, with the operation, user id, schedule id, windows and counts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from notifications.services import Notice, notify_batch
from workflows.models import WorkflowTemplate

from .. import cron
from ..models import GenerationRun, GenerationTrigger, RecurringConfig
from .cursor import _advance, _advance_all, _lock_cursors
from .failures import _error_text, _record_failures, _resolve_failures, _resolve_failures_of
from .notices import _Audience, _missed_notice, _notify_missed, _recurring_due_notices
from .results import GenerationResult, _log_result, _new_generation_run
from .schedules import (
    _PERSON_TRIGGERS,
    Schedule,
    _due_windows,
    _refuse_future,
    _reported_existing,
    _require_aware,
    _require_trigger,
    _user_id,
    due_configs,
    due_templates,
    schedule_of,
    scheduled_templates,
)
from .windows import _existing_template_windows, _generate_template, _insert_tasks_of_configs, _stored_config_windows

log = logging.getLogger("portal.scheduler")


@dataclass
class _ConfigShare:
    """One config's part of a pass: its compiled schedule, the windows the catch-up policy
    targets and the windows no earlier pass decided, and what the pass did (``result``)."""

    config: RecurringConfig
    sched: cron.Schedule
    target_days: list[dt.date]
    new_days: list[dt.date]
    result: GenerationResult
    #: Targets that did not exist before the insert: the windows a failure is recorded against.
    attempted: list[dt.date] = field(default_factory=list)


def _plan_config(config: RecurringConfig, *, at: dt.datetime, result: GenerationResult | None = None) -> _ConfigShare:
    """Evaluate a config's schedule at ``at`` (no query). Raises ``cron.CronError`` for a stored
    expression that cannot be evaluated."""
    sched = schedule_of(config).compile()
    due = _due_windows(config, sched, at=at)
    return _ConfigShare(
        config=config,
        sched=sched,
        target_days=[day for day, _ in due.targets],
        new_days=[day for day, _ in due.new],
        result=result or GenerationResult(kind="recurring", schedule=config),
    )


def _generate_configs(
    shares: list[_ConfigShare], *, at: dt.datetime, trigger: str, by, started_at: dt.datetime
) -> None:
    """Generate the due windows of several configs together, with what one config's pass does
    (tasks, a generation run when it found anything, resolved failures, ``recurring-due`` and
    ``missed-windows`` notices, the cursor) in a constant number of queries whatever the number
    of configs: one read of the windows that exist, one INSERT per batch of tasks and its
    read-back, one INSERT of generation runs, one of notifications, one UPDATE per new cursor.
    Raises on any error; the caller's transaction then rolls all of them back."""
    existing = _stored_config_windows((share.config, share.target_days + share.new_days) for share in shares)
    for share in shares:
        stored = existing.get(share.config.pk, {})
        share.attempted = [day for day in share.target_days if day not in stored]
    inserted = _insert_tasks_of_configs([(share.config, share.attempted) for share in shares], by=by)
    runs: list[GenerationRun] = []
    for share in shares:
        stored, result = existing.get(share.config.pk, {}), share.result
        created, lost = inserted[share.config.pk]
        result.windows = sorted(created)
        result.task_ids = [created[day] for day in result.windows]
        reported = _reported_existing(share.target_days, share.new_days)
        result.existing = sorted([day for day in share.target_days if day in stored and day in reported] + lost)
        result.generated, result.skipped = len(created), len(result.existing)
        targeted = set(share.target_days)
        result.missed_windows = [day for day in share.new_days if day not in targeted and day not in stored]
        result.missed = len(result.missed_windows)
        if result.changed_anything:
            result.generation_run = _new_generation_run(
                share.config, result, at=at, trigger=trigger, by=by, started_at=started_at
            )
            runs.append(result.generation_run)
    if runs:
        GenerationRun.objects.bulk_create(runs)
        recorded = [share for share in shares if share.result.generation_run is not None]
        _resolve_failures_of(RecurringConfig, {share.config.pk: share.target_days for share in recorded})
        audience = _Audience()
        due_notices: list[Notice] = []
        missed_notices: list[Notice] = []
        for share in recorded:
            result = share.result
            if result.windows:
                created = dict(zip(result.windows, result.task_ids, strict=True))
                due_notices += _recurring_due_notices(share.config, created, audience.of_task_notice(share.config))
            if result.missed_windows:
                missed_notices.append(
                    _missed_notice(
                        share.config,
                        result.missed_windows,
                        result.generation_run,
                        audience.of_schedule_notice(share.config),
                    )
                )
        # Each recurring-due key names a task created just now, so none can exist yet.
        notify_batch(due_notices, new_keys=True)
        notify_batch(missed_notices)
    _advance_all(RecurringConfig, [(share.config, share.sched) for share in shares], at=at)


def generate_due(schedule: Schedule, *, at: dt.datetime, trigger: str, by=None) -> GenerationResult:
    """Generate what is due for one config or automatic template at instant ``at`` (the rules
    above, ``docs/schedules.md``). A paused, archived or manual schedule generates nothing. Never
    raises for a generation error: the failure is recorded and returned (``result.error``).
    A person's pass (command, API, admin, page) for an instant after now is refused
    (``future_instant``, nothing written); the workers always pass the clock's now."""
    _require_aware(at)
    _require_trigger(trigger)
    if trigger in _PERSON_TRIGGERS:
        _refuse_future(at)
    adapter = schedule_of(schedule)
    result = GenerationResult(kind=adapter.kind, schedule=schedule)
    if not schedule.schedule_active:
        return result
    started_at = timezone.now()
    share: _ConfigShare | None = None
    try:
        with transaction.atomic():
            _lock_cursors(adapter.model, [schedule])
            if adapter.is_config:
                share = _plan_config(schedule, at=at, result=result)
                _generate_configs([share], at=at, trigger=trigger, by=by, started_at=started_at)
            else:
                _generate_template_due(schedule, result, at=at, trigger=trigger, by=by, started_at=started_at)
    except Exception as exc:  # noqa: BLE001 — one schedule's failure never stops the others
        log.exception(
            "generation of %s %s failed",
            result.kind,
            schedule.pk,
            extra={
                "operation": "generate",
                "trigger": trigger,
                "user_id": _user_id(by),
                **schedule_of(schedule).log_ids,
            },
        )
        attempted = share.attempted if share is not None else []
        failed = GenerationResult(kind=result.kind, schedule=schedule, failed_windows=attempted)
        failed.failed = max(1, len(attempted))
        error = _error_text(exc, schedule)
        failures_by_window = [(day, error) for day in attempted] or [(None, error)]
        with transaction.atomic():
            _record_failures(schedule, failed, failures_by_window, at=at, trigger=trigger, by=by, started_at=started_at)
        result = failed
    _log_result(result, operation="generate", trigger=trigger, by=by, at=at)
    return result


def _generate_template_due(
    template: WorkflowTemplate,
    result: GenerationResult,
    *,
    at: dt.datetime,
    trigger: str,
    by,
    started_at: dt.datetime,
) -> None:
    """A template's pass: each due trigger date in its own savepoint (``_generate_template``), so
    a failing window is recorded while the others are kept."""
    sched = schedule_of(template).compile()
    due = _due_windows(template, sched, at=at)
    target_days = [day for day, _ in due.targets]
    new_days = [day for day, _ in due.new]
    existing = _existing_template_windows(template, target_days + new_days)
    failures = _generate_template(template, target_days, result, by=by)
    reported = _reported_existing(target_days, new_days)
    result.existing = [day for day in result.existing if day in reported]
    result.skipped = len(result.existing)
    targeted = set(target_days)
    result.missed_windows = [day for day in new_days if day not in targeted and day not in existing]
    result.missed = len(result.missed_windows)
    if failures:
        _record_failures(
            template,
            result,
            [(day, _error_text(exc, template)) for day, exc in failures],
            at=at,
            trigger=trigger,
            by=by,
            started_at=started_at,
        )
        _resolve_failures(template, [d for d in target_days if d not in set(result.failed_windows)])
        _notify_missed(template, result.missed_windows, result.generation_run)
        return
    if result.changed_anything:
        run = _new_generation_run(template, result, at=at, trigger=trigger, by=by, started_at=started_at)
        run.save()
        result.generation_run = run
        _resolve_failures(template, target_days)
        _notify_missed(template, result.missed_windows, run)
    _advance(template, sched, at=at)


#: Configs generated together in one transaction by a scheduler pass.
PASS_BATCH_SIZE = 200


def _generate_config_batch(
    configs: list[RecurringConfig], *, at: dt.datetime, trigger: str, by=None
) -> dict[UUID, GenerationResult]:
    """Generate several healthy configs in one transaction (``_generate_configs``). Returns the
    results of the configs it generated. A config whose schedule cannot be evaluated is left
    out, and when anything fails the whole batch is rolled back and none is returned: the caller
    then generates those configs one at a time, each in its own transaction, so a failure is
    recorded against its own schedule and never undoes the others' work."""
    shares: list[_ConfigShare] = []
    for config in configs:
        try:
            shares.append(_plan_config(config, at=at))
        except Exception:  # noqa: BLE001 — generate_due records it against that schedule
            continue
    if not shares:
        return {}
    cursors = [
        (share.config, share.config.next_fire_at, share.config.retry_at, share.config.failure_streak)
        for share in shares
    ]
    try:
        with transaction.atomic():
            _lock_cursors(RecurringConfig, [share.config for share in shares])
            # Planned again from the cursors as stored now (no query; it evaluated once already).
            shares = [_plan_config(share.config, at=at, result=share.result) for share in shares]
            _generate_configs(shares, at=at, trigger=trigger, by=by, started_at=timezone.now())
    except Exception:  # noqa: BLE001 — retried one schedule at a time by the caller
        log.warning(
            "generating %d configs together failed; generating them one at a time",
            len(shares),
            exc_info=True,
            extra={"operation": "generate_batch", "trigger": trigger, "user_id": _user_id(by), "at": at.isoformat()},
        )
        for config, next_fire_at, retry_at, failure_streak in cursors:  # as stored: the writes were undone
            config.next_fire_at, config.retry_at, config.failure_streak = next_fire_at, retry_at, failure_streak
        return {}
    for share in shares:
        _log_result(share.result, operation="generate", trigger=trigger, by=by, at=at)
    return {share.config.pk: share.result for share in shares}


def generate_each(
    schedules: Iterable[Schedule], *, at: dt.datetime, trigger: Callable[[Schedule], str], by=None
) -> list[GenerationResult]:
    """Generate ``schedules`` at ``at``, results in their order. Active configs without an open
    failure streak go in batches (``_generate_config_batch``); the others — templates, retries,
    anything a batch could not take — one at a time (``generate_due``), so one schedule's
    failure never stops the others."""
    schedules = list(schedules)
    healthy: dict[str, list[RecurringConfig]] = {}
    for schedule in schedules:
        if schedule_of(schedule).is_config and schedule.schedule_active and not schedule.failure_streak:
            healthy.setdefault(trigger(schedule), []).append(schedule)
    batched: dict[UUID, GenerationResult] = {}
    for name, configs in healthy.items():
        for start in range(0, len(configs), PASS_BATCH_SIZE):
            batch = configs[start : start + PASS_BATCH_SIZE]
            batched.update(_generate_config_batch(batch, at=at, trigger=name, by=by))
    results = []
    for schedule in schedules:
        result = batched.get(schedule.pk) if schedule_of(schedule).is_config else None
        if result is None:
            result = _generate_isolated(schedule, at=at, trigger=trigger(schedule), by=by)
        results.append(result)
    return results


def run_schedules(*, at: dt.datetime, trigger: str = GenerationTrigger.COMMAND, by=None) -> list[GenerationResult]:
    """What beat and the workers would do at ``at`` for every enabled schedule: configs (by
    title), then automatic templates (by name). One schedule's failure never stops the others.
    Refused (``future_instant``, changing nothing) for an instant after the real now: that would
    persist tasks, missed windows and cursors for fire times that have not come, and later passes
    would lose those windows."""
    _require_aware(at)
    _refuse_future(at)
    configs = RecurringConfig.objects.scheduled().select_related("assignee").order_by("title", "id")
    templates = scheduled_templates().order_by("name", "id")
    return generate_each([*configs, *templates], at=at, trigger=lambda schedule: trigger, by=by)


def _generate_isolated(schedule: Schedule, *, at: dt.datetime, trigger: str, by=None) -> GenerationResult:
    """``generate_due`` records its own failures; this also survives a failure to record one
    (e.g. the database went away mid-pass), so the remaining schedules still get their turn."""
    try:
        return generate_due(schedule, at=at, trigger=trigger, by=by)
    except Exception as exc:  # noqa: BLE001 — reported in the result and the log, never raised
        log.exception(
            "generation of %s %s could not be recorded",
            schedule_of(schedule).kind,
            schedule.pk,
            extra={
                "operation": "generate",
                "trigger": trigger,
                "user_id": _user_id(by),
                **schedule_of(schedule).log_ids,
            },
        )
        return GenerationResult(
            kind=schedule_of(schedule).kind, schedule=schedule, failed=1, error=_error_text(exc, schedule)
        )


def _reconcile_trigger(schedule: Schedule) -> str:
    return GenerationTrigger.RETRY if schedule.failure_streak else GenerationTrigger.RECONCILE


def reconcile(*, at: dt.datetime) -> list[GenerationResult]:
    """The per-minute safety net and, without per-schedule beat entries, the clock: generate the
    schedules whose next fire time (or retry time) has passed. One indexed query per kind, and
    the due configs are generated in batches, so its cost follows what is due, not how many
    schedules exist, in a constant number of queries per batch."""
    _require_aware(at)
    return generate_each([*due_configs(at), *due_templates(at)], at=at, trigger=_reconcile_trigger)
