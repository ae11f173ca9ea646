"""celery-beat rows of the schedules (``docs/schedules.md``).

Every enabled, unarchived recurring config and automatic template owns one django-celery-beat
``PeriodicTask`` per day field set (named ``recurring:<id>:<n>`` / ``template:<id>:<n>``) on a
``CrontabSchedule`` in the schedule's time zone, calling ``recurring.tasks.generate_schedule``
with ``{"kind", "id"}``. celery's crontab ANDs day-of-month with day-of-week while cron ORs them,
so an expression restricting both gets two rows (``cron.Schedule.beat_field_sets``): the union of
their firing dates is exactly the schedule's windows. Beat only *triggers*: ``cron.py`` decides
which windows are due, so celery's DST quirks cost nothing.

``sync_beat`` is the one code path that creates, updates, disables (paused) and removes
(archived, manual template, deleted) these rows; it runs after every save of a config or a
template, whatever saved it (admin, API, pages, a plain ``model.save()``), and writes only what
differs, so django-celery-beat reloads its schedule only when something really changed.

**When to switch per-schedule rows off.** django-celery-beat reloads *every* entry whenever one
changes (about 0.6 ms per entry: 10,000 entries ≈ 6 s per reload). Installations with thousands
of schedules set ``PORTAL_BEAT_PER_SCHEDULE=0``: no per-schedule rows exist (existing ones are
removed at the next ``migrate`` and on each save) and the per-minute reconcile task is the clock
— windows then start at most a minute after their fire time, and never get lost.

**System entries** are PeriodicTask rows too, ensured after every ``migrate`` (``post_migrate``)
rather than in ``beat_schedule``, so they are visible and adjustable in the admin like any other
entry (an admin may disable one; it is never silently re-enabled):

* ``portal: reconcile schedules`` — ``recurring.tasks.reconcile`` every minute;
* ``portal: scan notifications`` — ``notifications.tasks.scan_notifications`` every 15 minutes;
* ``portal: refresh database statistics`` — ``recurring.tasks.refresh_database_statistics``
  at 03:30 UTC (SQLite's query-planner statistics);
* ``portal: daily notification digest`` — ``notifications.tasks.send_daily_digests`` at 07:00
  in ``PORTAL_TIME_ZONE``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from workflows.models import TriggerType, WorkflowTemplate

from . import cron
from .models import RecurringConfig

GENERATE_TASK = "recurring.tasks.generate_schedule"
RECONCILE_TASK = "recurring.tasks.reconcile"
SCHEDULE_PREFIXES = ("recurring:", "template:")


@dataclass(frozen=True)
class SystemEntry:
    name: str
    task: str
    crontab: dict[str, str]
    timezone: str
    description: str


def system_entries() -> list[SystemEntry]:
    every_minute = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
    return [
        SystemEntry(
            "portal: reconcile schedules",
            RECONCILE_TASK,
            every_minute,
            "UTC",
            "Generates every schedule whose next fire time has passed (the safety net, or the clock "
            "when PORTAL_BEAT_PER_SCHEDULE is off).",
        ),
        SystemEntry(
            "portal: scan notifications",
            "notifications.tasks.scan_notifications",
            {**every_minute, "minute": "*/15"},
            "UTC",
            "Raises task-due, task-overdue, follow-up-due and missing-evidence notifications.",
        ),
        SystemEntry(
            "portal: refresh database statistics",
            "recurring.tasks.refresh_database_statistics",
            {**every_minute, "minute": "30", "hour": "3"},
            "UTC",
            "Refreshes SQLite's query-planner statistics (ANALYZE); nothing on PostgreSQL.",
        ),
        SystemEntry(
            "portal: daily notification digest",
            "notifications.tasks.send_daily_digests",
            {**every_minute, "minute": "0", "hour": "7"},
            settings.PORTAL_TIME_ZONE,
            "Sends the daily digest e-mail to people who chose it.",
        ),
    ]


def entry_prefix(kind: str, pk: UUID | str) -> str:
    return f"{kind}:{pk}:"


def _kind(schedule) -> str:
    from .services.schedules import schedule_kind  # the services sync beat: imported when used

    return schedule_kind(schedule)


def _wanted(schedule) -> tuple[list[dict[str, str]], str, bool]:
    """(crontab field sets, time zone, enabled) the schedule should have; no sets = no rows."""
    if not settings.PORTAL_BEAT_PER_SCHEDULE or schedule.archived_at is not None:
        return [], "UTC", False
    from .services.schedules import schedule_of  # the services sync beat: imported when used

    adapter = schedule_of(schedule)
    if not adapter.is_config and not schedule.is_automatic:
        return [], "UTC", False
    expression, zone = adapter.expression, adapter.zone_name
    try:
        field_sets = cron.compile_schedule(expression, zone).beat_field_sets()
    except cron.CronError:
        # No row can express it; the reconcile task reports the schedule as failing instead.
        return [], "UTC", False
    return field_sets, zone, schedule.schedule_active


def _crontab(fields: dict[str, str], zone: str, current: CrontabSchedule | None) -> CrontabSchedule:
    if (
        current is not None
        and str(current.timezone) == zone
        and all(getattr(current, name) == value for name, value in fields.items())
    ):
        return current
    found = CrontabSchedule.objects.filter(timezone=zone, **fields).order_by("id").first()
    return found or CrontabSchedule.objects.create(timezone=zone, **fields)


def sync_beat(schedule) -> None:
    """Make the schedule's PeriodicTask rows match it: one per beat field set, enabled while the
    schedule is active, disabled while paused, none when archived, manual, deleted, invalid or
    when per-schedule rows are switched off. Writes only the differences."""
    kind = _kind(schedule)
    prefix = entry_prefix(kind, schedule.pk)
    field_sets, zone, enabled = _wanted(schedule)
    existing = {
        entry.name: entry for entry in PeriodicTask.objects.filter(name__startswith=prefix).select_related("crontab")
    }
    kwargs = json.dumps({"kind": kind, "id": str(schedule.pk)}, sort_keys=True)
    description = f"{'Recurring config' if kind == 'recurring' else 'Workflow template'}: {schedule}"[:1000]
    replaced_crontabs: set[int] = set()
    for index, fields in enumerate(field_sets):
        name = f"{prefix}{index}"
        entry = existing.pop(name, None)
        crontab = _crontab(fields, zone, entry.crontab if entry else None)
        if entry is None:
            try:
                with transaction.atomic():
                    PeriodicTask.objects.create(
                        name=name,
                        task=GENERATE_TASK,
                        crontab=crontab,
                        kwargs=kwargs,
                        enabled=enabled,
                        description=description,
                    )
                continue
            except IntegrityError:  # a concurrent save of the same schedule created it first
                entry = PeriodicTask.objects.select_related("crontab").get(name=name)
        wanted = {
            "task": GENERATE_TASK,
            "crontab_id": crontab.pk,
            "kwargs": kwargs,
            "enabled": enabled,
            "description": description,
            "interval_id": None,
            "solar_id": None,
            "clocked_id": None,
        }
        if any(getattr(entry, attr) != value for attr, value in wanted.items()):
            if entry.crontab_id and entry.crontab_id != crontab.pk:
                replaced_crontabs.add(entry.crontab_id)
            for attr, value in wanted.items():
                setattr(entry, attr, value)
            entry.save()  # PeriodicTask.save marks the schedule changed for beat
    if existing:
        replaced_crontabs.update(entry.crontab_id for entry in existing.values() if entry.crontab_id)
        PeriodicTask.objects.filter(pk__in=[entry.pk for entry in existing.values()]).delete()
        PeriodicTasks.update_changed()
    _drop_unused_crontabs(replaced_crontabs)


def remove_beat(kind: str, pk: UUID | str) -> int:
    """Remove every row of one schedule (deleted or archived); returns how many there were."""
    entries = PeriodicTask.objects.filter(name__startswith=entry_prefix(kind, pk))
    crontabs = set(entries.exclude(crontab=None).values_list("crontab_id", flat=True))
    removed, _ = entries.delete()
    if removed:
        PeriodicTasks.update_changed()
    _drop_unused_crontabs(crontabs)
    return removed


def _drop_unused_crontabs(ids: set[int]) -> None:
    if ids:
        CrontabSchedule.objects.filter(pk__in=ids, periodictask__isnull=True).delete()


def schedule_entries():
    """Every per-schedule PeriodicTask row (not the system entries)."""
    return PeriodicTask.objects.filter(Q(name__startswith="recurring:") | Q(name__startswith="template:"))


def sync_all() -> None:
    """Bring every schedule's rows in line after a deploy or a settings change: with per-schedule
    rows off, remove them all; on, remove rows of schedules that no longer exist and create the
    rows of active schedules that lack them. Schedules already in sync cost nothing."""
    entries = schedule_entries()
    if not settings.PORTAL_BEAT_PER_SCHEDULE:
        crontabs = set(entries.exclude(crontab=None).values_list("crontab_id", flat=True))
        if entries.delete()[0]:
            PeriodicTasks.update_changed()
        _drop_unused_crontabs(crontabs)
        return
    owners = {name.rsplit(":", 1)[0] for name in entries.values_list("name", flat=True)}
    configs = {
        f"recurring:{pk}"
        for pk in RecurringConfig.objects.filter(archived_at__isnull=True).values_list("pk", flat=True)
    }
    templates = {
        f"template:{pk}"
        for pk in WorkflowTemplate.objects.filter(
            archived_at__isnull=True, trigger_type=TriggerType.AUTOMATIC
        ).values_list("pk", flat=True)
    }
    for owner in owners - configs - templates:
        kind, pk = owner.split(":", 1)
        remove_beat(kind, pk)
    missing_configs = [owner.split(":", 1)[1] for owner in configs - owners]
    missing_templates = [owner.split(":", 1)[1] for owner in templates - owners]
    for config in RecurringConfig.objects.filter(pk__in=missing_configs):
        sync_beat(config)
    for template in WorkflowTemplate.objects.filter(pk__in=missing_templates):
        sync_beat(template)


def ensure_system_entries() -> None:
    """Create the system entries, and keep their task and timing current; an admin's choice to
    disable one is respected."""
    for spec in system_entries():
        entry = PeriodicTask.objects.filter(name=spec.name).select_related("crontab").first()
        crontab = _crontab(spec.crontab, spec.timezone, entry.crontab if entry else None)
        if entry is None:
            PeriodicTask.objects.create(
                name=spec.name, task=spec.task, crontab=crontab, description=spec.description, enabled=True
            )
        elif entry.task != spec.task or entry.crontab_id != crontab.pk:
            entry.task, entry.crontab = spec.task, crontab
            entry.interval = entry.solar = entry.clocked = None
            entry.save()


def on_post_migrate(sender, using: str = "default", **kwargs) -> None:
    """After ``migrate``: the system entries exist and per-schedule rows match the setting."""
    if using != "default":
        return
    tables = set(connections[using].introspection.table_names())
    needed = {PeriodicTask._meta.db_table, CrontabSchedule._meta.db_table, "recurring_recurringconfig"}
    if not needed <= tables:
        return  # migrating backwards, or the beat tables are not there yet
    ensure_system_entries()
    sync_all()
