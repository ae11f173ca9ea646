"""Failures of generation: the failed generation run and its automation-failure notification
(one per schedule and window however often it is retried), their resolution by a later success,
and their acknowledgement with a note (``docs/schedules.md``, ``docs/home.md``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from uuid import UUID

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from notifications.models import Notification, NotificationType
from notifications.services import schedule_recipients
from workflows.errors import DomainError

from .. import cron
from ..models import GenerationRun, GenerationStatus
from .cursor import _back_off, _stop_retrying, _stop_retrying_acknowledged
from .notices import _notify_failure
from .results import GenerationResult, _new_generation_run
from .schedules import ADAPTERS, Schedule, _person, _user_id, schedule_of

log = logging.getLogger("portal.scheduler")


def _resolve_failures(schedule: Schedule, succeeded: Iterable[dt.date]) -> int:
    """A window that now exists resolves the failures recorded for it (and a successful pass
    resolves schedule-wide failures such as an invalid expression) with their notifications."""
    return _resolve_failures_of(schedule_of(schedule).model, {schedule.pk: succeeded})


def _resolve_failures_of(model: type[Schedule], succeeded: dict[UUID, Iterable[dt.date]]) -> int:
    """``_resolve_failures`` for several schedules of one kind (schedule id → windows that now
    exist): one query finds their open failures, whatever their number."""
    if not succeeded:
        return 0
    column = ADAPTERS[model].subject_column
    windows = {pk: set(days) for pk, days in succeeded.items()}
    open_failures = [
        (pk, key)
        for pk, schedule_id, failed_window, key in GenerationRun.objects.filter(
            **{f"{column}__in": list(windows)}, status=GenerationStatus.FAILED, resolved_at__isnull=True
        )
        .order_by()
        .values_list("pk", column, "failed_window", "failure_key")
        if failed_window is None or failed_window in windows[schedule_id]
    ]
    if not open_failures:
        return 0  # the usual case: one query
    keys = {key for _, key in open_failures if key}
    now = timezone.now()
    resolved = GenerationRun.objects.filter(pk__in=[pk for pk, _ in open_failures]).update(resolved_at=now)
    if keys:
        Notification.objects.filter(
            type=NotificationType.AUTOMATION_FAILURE, dedup_key__in=keys, resolved_at__isnull=True
        ).update(resolved_at=now)
    return resolved


def _failure_key(schedule: Schedule, window: dt.date | None) -> str:
    """One automation-failure notification per (schedule, window). A failure with no window (an
    invalid expression, an error before any window) is one *episode* until resolved or
    acknowledged: keyed by the first failed generation run of that episode. An acknowledged
    episode stays the same episode until a success resolves it, so its repeats keep its key and
    raise nothing new."""
    kind = schedule_of(schedule).kind
    if window is not None:
        return f"automation-failure:{kind}:{schedule.pk}:{window.isoformat()}"
    ongoing = (
        GenerationRun.objects.filter(
            **schedule_of(schedule).subject,
            status=GenerationStatus.FAILED,
            failed_window__isnull=True,
            resolved_at__isnull=True,
        )
        .exclude(failure_key="")
        .order_by("started_at", "id")
        .values_list("failure_key", flat=True)
        .first()
    )
    return ongoing or ""


def _record_failures(
    schedule: Schedule,
    result: GenerationResult,
    failures: list[tuple[dt.date | None, str]],
    *,
    at: dt.datetime,
    trigger: str,
    by,
    started_at: dt.datetime,
    range_: tuple[dt.date, dt.date] | None = None,
    scheduler: bool = True,
) -> None:
    """Write the failed generation run (one per execution, naming its first failed window) and
    the automation-failure notifications, keyed per (schedule, window). Windows that failed with
    the same error in one execution (a bulk insert fails as a whole) share one notification,
    keyed by the first of them, so a failing year-long backfill is one notice, not 366.
    Scheduler passes also back off; a person's backfill leaves the retry state alone."""
    by_error: dict[str, list[dt.date | None]] = {}
    for window, error in failures:
        by_error.setdefault(error, []).append(window)
    first_window, first_error = failures[0]
    result.failed = max(result.failed, len(failures))
    result.error = first_error
    if len(by_error) > 1:
        result.error += f" (and {len(by_error) - 1} other error(s) on other windows)"
    run = _new_generation_run(
        schedule,
        result,
        at=at,
        trigger=trigger,
        by=by,
        started_at=started_at,
        status=GenerationStatus.FAILED,
        range_=range_,
    )
    run.failed_window = first_window
    run.error = result.error
    run.failure_key = _failure_key(schedule, first_window) or _failure_key_for_new_episode(schedule, run)
    keys = {
        error: run.failure_key if windows[0] == first_window else _failure_key(schedule, windows[0])
        for error, windows in by_error.items()
    }
    acknowledged = _acknowledged_failures(schedule, keys.values())
    if run.failure_key in acknowledged:
        # The same failure again after someone acknowledged it: born acknowledged, so it does not
        # come back on Operations Home.
        run.acknowledged_at, run.acknowledged_by_id, run.acknowledgement_note = acknowledged[run.failure_key]
    run.save()
    result.generation_run = run
    recipients = schedule_recipients(schedule_of(schedule).assignees())
    for error, windows in by_error.items():
        if keys[error] in acknowledged:
            continue  # acknowledged already: no new notification
        _notify_failure(
            schedule, windows=windows, error=error, key=keys[error], generation_run=run, recipients=recipients
        )
    if scheduler and all(key in acknowledged for key in keys.values()):
        # Only acknowledged failures: no back-off retries; the next regular fire time tries again.
        _stop_retrying(schedule, at=at)
    elif scheduler:
        fires = [_safe_fire(schedule, w) for w, _ in failures if w is not None]
        fires = [f for f in fires if f is not None]
        _back_off(schedule, at=at, earliest_fire=min(fires) if fires else None)


def _acknowledged_failures(schedule: Schedule, keys: Iterable[str]) -> dict[str, tuple]:
    """Of ``keys``, the failures of ``schedule`` someone acknowledged and no success resolved,
    as key → (acknowledged_at, acknowledged_by_id, acknowledgement_note) of that acknowledgement."""
    keys = [key for key in keys if key]
    if not keys:
        return {}
    rows = (
        GenerationRun.objects.filter(
            **schedule_of(schedule).subject,
            status=GenerationStatus.FAILED,
            failure_key__in=keys,
            resolved_at__isnull=True,
            acknowledged_at__isnull=False,
        )
        .order_by("acknowledged_at", "id")
        .values_list("failure_key", "acknowledged_at", "acknowledged_by_id", "acknowledgement_note")
    )
    return {key: (at, by_id, note) for key, at, by_id, note in rows}


def _failure_key_for_new_episode(schedule: Schedule, run: GenerationRun) -> str:
    return f"automation-failure:{schedule_of(schedule).kind}:{schedule.pk}:schedule:{run.pk}"


def _safe_fire(schedule: Schedule, window: dt.date) -> dt.datetime | None:
    try:
        return schedule_of(schedule).compile().fire_time(window)
    except cron.CronError:
        return None


def _error_text(exc: BaseException, schedule: Schedule) -> str:
    if isinstance(exc, cron.CronError):
        return f"Invalid schedule '{schedule_of(schedule).expression}' ({schedule_of(schedule).zone_name}): {exc}"
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.detail}"
    return f"{type(exc).__name__}: {exc}"


@transaction.atomic
def acknowledge_failure(generation_run: GenerationRun, *, by, note: str) -> None:
    """Close an automation failure with a note (who and when are recorded). Every unresolved
    attempt of the same (schedule, window) and its notifications are closed together."""
    note = (note or "").strip()
    if not note:
        raise DomainError("note_required", "Acknowledging a failure needs a note.", missing=["note"])
    if generation_run.status != GenerationStatus.FAILED:
        raise DomainError("invalid_transition", "Only a failed generation run can be acknowledged.")
    if generation_run.resolved_at is not None:
        raise DomainError("invalid_transition", "This failure was already resolved by a later successful generation.")
    if generation_run.acknowledged_at is not None:
        raise DomainError("invalid_transition", "This failure is already acknowledged.")
    now = timezone.now()
    person = _person(by)
    same = GenerationRun.objects.filter(
        recurring_config_id=generation_run.recurring_config_id,
        template_id=generation_run.template_id,
        status=GenerationStatus.FAILED,
        resolved_at__isnull=True,
        acknowledged_at__isnull=True,
    )
    if generation_run.failure_key:
        same = same.filter(Q(pk=generation_run.pk) | Q(failure_key=generation_run.failure_key))
    else:
        same = same.filter(pk=generation_run.pk)
    same.update(acknowledged_at=now, acknowledged_by=person, acknowledgement_note=note)
    _stop_retrying_acknowledged(GenerationRun.objects.filter(pk=generation_run.pk))
    if generation_run.failure_key:
        Notification.objects.filter(
            type=NotificationType.AUTOMATION_FAILURE, dedup_key=generation_run.failure_key, acknowledged_at__isnull=True
        ).update(
            acknowledged_at=now,
            acknowledged_by=person,
            acknowledgement_note=note,
            read_at=Case(When(read_at__isnull=True, then=Value(now)), default=F("read_at")),
        )
    generation_run.refresh_from_db()
    log.info(
        "acknowledge failure %s",
        generation_run.pk,
        extra={
            "operation": "acknowledge_failure",
            "user_id": _user_id(by),
            "generation_run_id": str(generation_run.pk),
            "schedule_kind": generation_run.kind,
            "failed_window": generation_run.failed_window.isoformat() if generation_run.failed_window else None,
        },
    )


def acknowledge_failures_by_key(failure_key: str, *, by, note: str) -> int:
    """The other door: someone acknowledged an automation-failure *notification* (its dedup key
    is the failure key). Close the failed generation runs that raised it, so the admin, the API
    and Operations Home agree the failure is handled. Returns how many runs were closed."""
    note = (note or "").strip()
    if not failure_key or not note:
        return 0
    closed = GenerationRun.objects.filter(
        status=GenerationStatus.FAILED, failure_key=failure_key, resolved_at__isnull=True, acknowledged_at__isnull=True
    ).update(acknowledged_at=timezone.now(), acknowledged_by=_person(by), acknowledgement_note=note)
    if closed:
        _stop_retrying_acknowledged(GenerationRun.objects.filter(failure_key=failure_key))
        log.info(
            "acknowledge failure %s",
            failure_key,
            extra={"operation": "acknowledge_failure", "user_id": _user_id(by), "failure_key": failure_key},
        )
    return closed
