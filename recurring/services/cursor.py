"""Where a schedule stands after a pass: its cursor (``next_fire_at``), moved forward after a
success and held on the failed windows after a failure, and its retry back-off: 1 minute,
doubling, capped at 1 hour (``docs/schedules.md``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from workflows.models import WorkflowTemplate

from .. import cron
from ..models import RecurringConfig
from .schedules import Schedule, _next_fire, schedule_of

#: Retry back-off of a failing schedule: 1 minute, doubling, capped at 1 hour.
RETRY_FIRST = dt.timedelta(minutes=1)
RETRY_MAX = dt.timedelta(hours=1)


def _advance(schedule: Schedule, sched: cron.Schedule, *, at: dt.datetime) -> None:
    """After a successful pass: the cursor moves to the first fire time after ``at`` (never
    backwards, so a pass at an earlier instant cannot re-open decided windows) and the retry
    back-off is cleared. A queryset update: no model signals, no celery-beat resync."""
    _advance_all(schedule_of(schedule).model, [(schedule, sched)], at=at)


def _advance_all(model: type[Schedule], moves: list[tuple[Schedule, cron.Schedule]], *, at: dt.datetime) -> None:
    """``_advance`` for several schedules of one kind: one UPDATE per distinct new cursor (the
    schedules of one pass mostly share it), writing only what changes."""
    groups: dict[tuple[dt.datetime | None, bool], list[Schedule]] = {}
    for schedule, sched in moves:
        nxt = _next_fire(schedule, sched, after=max(at, schedule.schedule_watermark))
        settled = schedule.failure_streak == 0 and schedule.retry_at is None
        if settled and schedule.next_fire_at is not None and (nxt is None or schedule.next_fire_at >= nxt):
            continue  # already there (e.g. run_schedules over a schedule with nothing due): no write
        groups.setdefault((nxt, not settled), []).append(schedule)
    for (nxt, clear_retry), schedules in groups.items():
        updates: dict[str, Any] = {}
        if nxt is not None:
            # Never backwards, even past a cursor a concurrent pass has just moved further.
            updates["next_fire_at"] = Case(
                When(next_fire_at__gt=nxt, then=F("next_fire_at")), default=Value(nxt, output_field=DateTimeField())
            )
        if clear_retry:
            updates.update(retry_at=None, failure_streak=0)
        model.objects.filter(pk__in=[schedule.pk for schedule in schedules]).update(**updates)
        for schedule in schedules:
            if nxt is not None and (schedule.next_fire_at is None or schedule.next_fire_at < nxt):
                schedule.next_fire_at = nxt
            schedule.retry_at, schedule.failure_streak = None, 0


def _back_off(schedule: Schedule, *, at: dt.datetime, earliest_fire: dt.datetime | None) -> None:
    """After a failed pass: keep the cursor on the failed windows (so the retry sees them again),
    count the streak, and schedule the retry 1 minute later, doubling up to 1 hour."""
    model = schedule_of(schedule).model
    streak, cursor = model.objects.filter(pk=schedule.pk).values_list("failure_streak", "next_fire_at").get()
    streak += 1
    delay = min(RETRY_FIRST * (2 ** min(streak - 1, 10)), RETRY_MAX)
    anchor = earliest_fire or at
    if cursor is None or cursor > anchor:
        cursor = anchor
    retry_at = at + delay
    model.objects.filter(pk=schedule.pk).update(failure_streak=streak, retry_at=retry_at, next_fire_at=cursor)
    schedule.failure_streak, schedule.retry_at, schedule.next_fire_at = streak, retry_at, cursor


def _stop_retrying(schedule: Schedule, *, at: dt.datetime) -> None:
    """An acknowledged failure is not retried: clear the back-off and move the cursor to the
    next regular fire time after ``at`` (the acknowledged windows are left to a backfill)."""
    model = schedule_of(schedule).model
    updates: dict[str, Any] = {"retry_at": None, "failure_streak": 0}
    try:
        nxt = _next_fire(schedule, schedule_of(schedule).compile(), after=max(at, schedule.schedule_watermark))
    except cron.CronError:
        nxt = None  # an invalid expression: only a fix (a save) gives it a cursor again
    if schedule.schedule_active:
        updates["next_fire_at"] = nxt
    model.objects.filter(pk=schedule.pk).update(**updates)
    for name, value in updates.items():
        setattr(schedule, name, value)


def _stop_retrying_acknowledged(runs) -> None:
    """After an acknowledgement: stop retrying the schedules of the acknowledged ``runs``."""
    now = timezone.now()
    pairs = set(runs.values_list("recurring_config_id", "template_id"))
    config_ids = [config_id for config_id, _ in pairs if config_id]
    template_ids = [template_id for _, template_id in pairs if template_id]
    retrying = Q(failure_streak__gt=0) | Q(retry_at__isnull=False)
    schedules = [
        *RecurringConfig.objects.filter(retrying, pk__in=config_ids),
        *WorkflowTemplate.objects.filter(retrying, pk__in=template_ids),
    ]
    for schedule in schedules:
        _stop_retrying(schedule, at=now)


def _lock_cursors(model: type[Schedule], schedules: list[Schedule]) -> None:
    """Inside a pass's transaction: lock the schedules' rows (in one order, so concurrent passes
    queue rather than deadlock) and re-read their cursor and retry state. A concurrent pass that
    committed meanwhile has moved the cursor past the windows it decided, so this pass neither
    records them as missed again nor counts them as new. One query whatever the number."""
    if not schedules:
        return
    rows = {
        pk: (cursor, retry_at, streak)
        for pk, cursor, retry_at, streak in model.objects.select_for_update()
        .filter(pk__in=[schedule.pk for schedule in schedules])
        .order_by("pk")
        .values_list("pk", "next_fire_at", "retry_at", "failure_streak")
    }
    for schedule in schedules:
        if schedule.pk in rows:
            schedule.next_fire_at, schedule.retry_at, schedule.failure_streak = rows[schedule.pk]
