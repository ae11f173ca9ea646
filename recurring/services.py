"""The scheduler: which windows of a recurring config or automatic template are due, generating
them exactly once, backfill, failures, and the lifecycle of a config (SPEC §4.2–§4.4).

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
* **History.** A pass that found anything (generated, skipped, missed, recovered or failed) writes
  one ``GenerationRun``; a pass with nothing due writes none. A backfill dry run writes nothing
  at all (no generation run either); it only reports.
* Structured log lines (logger ``portal.scheduler``; JSON in production) on every generation and
  every error path, with the operation, user id, schedule id, windows and counts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from notifications.models import Notification, NotificationType
from notifications.services import Notice, admins, notify, notify_batch, portal_members, schedule_recipients
from workflows.errors import DomainError
from workflows.members import members as portal_member_queryset
from workflows.models import Priority, Run, Task, TaskSource, TriggerType, WorkflowTemplate
from workflows.services import instantiate_run

from . import beat, cron
from .models import CatchUp, GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig

log = logging.getLogger("portal.scheduler")

Schedule = RecurringConfig | WorkflowTemplate

#: ``catch_up = all`` generates missed windows dated up to this many days before the run's date.
CATCH_UP_ALL_DAYS = 31
#: A backfill covers at most this many days (start and end included).
BACKFILL_MAX_DAYS = 366
#: Retry back-off of a failing schedule: 1 minute, doubling, capped at 1 hour.
RETRY_FIRST = dt.timedelta(minutes=1)
RETRY_MAX = dt.timedelta(hours=1)
#: Rows per INSERT; the database backend lowers it further when its parameter limit requires.
BULK_BATCH_SIZE = 1000
#: Longer window lists are summarised (first, last, count) in log lines.
LOG_WINDOWS_MAX = 40

_ONE_DAY = dt.timedelta(days=1)
_TINY = dt.timedelta(microseconds=1)

CONFIG_FIELDS = (
    "title",
    "instructions",
    "instructions_url",
    "cron_expression",
    "timezone",
    "starts_on",
    "assignee",
    "area",
    "priority",
    "estimate_minutes",
    "requires_link",
    "requires_file",
    "requires_proof_note",
    "enabled",
    "catch_up",
)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class GenerationResult:
    """What one execution did for one schedule (a config or an automatic template)."""

    kind: str  # "recurring" | "template"
    schedule: Schedule
    generated: int = 0
    skipped: int = 0
    missed: int = 0
    recovered: int = 0
    failed: int = 0
    #: Newly generated windows (templates: trigger/run dates of the new runs); in a dry run, the
    #: windows that would be generated.
    windows: list[dt.date] = field(default_factory=list)
    #: Due or requested windows that already existed (skipped duplicates).
    existing: list[dt.date] = field(default_factory=list)
    missed_windows: list[dt.date] = field(default_factory=list)
    #: Failed windows (empty when the whole schedule failed, e.g. an invalid expression).
    failed_windows: list[dt.date] = field(default_factory=list)
    #: Backfill only: windows in the range left out because their fire time is still ahead.
    future_windows: list[dt.date] = field(default_factory=list)
    task_ids: list[UUID] = field(default_factory=list)
    #: Templates: runs created or topped up.
    run_ids: list[UUID] = field(default_factory=list)
    error: str | None = None
    dry_run: bool = False
    generation_run: GenerationRun | None = None
    #: Plain-words remarks for people (e.g. why some windows of a backfill range were left out).
    notes: list[str] = field(default_factory=list)

    @property
    def schedule_id(self) -> UUID:
        return self.schedule.pk

    @property
    def title(self) -> str:
        return _title(self.schedule)

    @property
    def is_empty(self) -> bool:
        return not (self.generated or self.skipped or self.missed or self.recovered or self.failed)

    def as_json(self) -> dict[str, Any]:
        """The per-schedule object of ``run_schedules --json`` / ``backfill --json`` (§9.2)."""
        return {
            "kind": self.kind,
            "id": str(self.schedule.pk),
            "title": self.title,
            "generated": self.generated,
            "skipped": self.skipped,
            "missed": self.missed,
            "recovered": self.recovered,
            "failed": self.failed,
            "windows": [d.isoformat() for d in self.windows],
            "task_ids": [str(pk) for pk in self.task_ids],
            "run_ids": [str(pk) for pk in self.run_ids],
            "error": self.error,
        }


COUNT_NAMES = ("generated", "skipped", "missed", "recovered", "failed")


def totals(results: Iterable[GenerationResult]) -> dict[str, int]:
    """Summed counts of several results (the ``totals`` object of §9.2)."""
    summed = dict.fromkeys(COUNT_NAMES, 0)
    for result in results:
        for name in COUNT_NAMES:
            summed[name] += getattr(result, name)
    return summed


# --------------------------------------------------------------------------------------------
# What a schedule is, whichever model holds it
# --------------------------------------------------------------------------------------------


def schedule_kind(schedule: Schedule) -> str:
    return "recurring" if isinstance(schedule, RecurringConfig) else "template"


def _title(schedule: Schedule) -> str:
    return schedule.title if isinstance(schedule, RecurringConfig) else schedule.name


def _expression(schedule: Schedule) -> str:
    return schedule.cron_expression if isinstance(schedule, RecurringConfig) else schedule.trigger_schedule


def _zone_name(schedule: Schedule) -> str:
    return schedule.timezone if isinstance(schedule, RecurringConfig) else schedule.trigger_timezone


def _starts_on(schedule: Schedule) -> dt.date:
    if isinstance(schedule, RecurringConfig):
        return schedule.starts_on or timezone.localdate(schedule.created_at, timezone=ZoneInfo(schedule.timezone))
    return schedule.starts_on


def _compile(schedule: Schedule) -> cron.Schedule:
    """The compiled schedule; ``cron.CronError`` names what is wrong with a stored expression."""
    expression = _expression(schedule)
    if not expression:
        raise cron.CronError("the schedule has no cron expression")
    return cron.compile_schedule(expression, _zone_name(schedule))


def _schedule_filter(schedule: Schedule) -> dict[str, Schedule]:
    return {"recurring_config": schedule} if isinstance(schedule, RecurringConfig) else {"template": schedule}


def _model(schedule: Schedule) -> type[RecurringConfig] | type[WorkflowTemplate]:
    return type(schedule)


def _assignees(schedule: Schedule) -> list:
    if isinstance(schedule, RecurringConfig):
        return [schedule.assignee] if schedule.assignee_id else []
    User = get_user_model()
    return list(User.objects.filter(pk__in=schedule.tasks.exclude(assignee=None).values("assignee")))


def _user_id(by) -> int | None:
    return by.pk if getattr(by, "is_authenticated", False) else None


def _person(by):
    return by if getattr(by, "is_authenticated", False) else None


def active_templates():
    """Automatic, enabled, unarchived templates: the ones the scheduler looks at."""
    return WorkflowTemplate.objects.filter(
        trigger_type=TriggerType.AUTOMATIC, trigger_enabled=True, archived_at__isnull=True
    )


def load_schedule(kind: str, pk: str | UUID) -> Schedule | None:
    """The config or template named by a beat entry's kwargs, or None when it no longer exists."""
    model = {"recurring": RecurringConfig, "template": WorkflowTemplate}.get(kind)
    if model is None:
        raise ValueError(f"unknown schedule kind {kind!r}")
    try:
        return model.objects.filter(pk=pk).first()
    except ValidationError:  # not a UUID
        return None


def _require_aware(value: dt.datetime, name: str = "at") -> None:
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        raise ValueError(f"{name} must be a timezone-aware datetime")


#: Passes a person asks for, at an instant they choose (the workers always pass the clock's now).
_PERSON_TRIGGERS = frozenset(
    {GenerationTrigger.COMMAND, GenerationTrigger.API, GenerationTrigger.ADMIN, GenerationTrigger.UI}
)


def _refuse_future(at: dt.datetime) -> None:
    """A pass a person asks for may replay the past but never the future: it would persist
    tasks, missed windows and a cursor for fire times that have not come, and later passes would
    then lose those windows. Refused (``future_instant``), changing nothing."""
    now = timezone.now()
    if at > now:
        raise DomainError(
            "future_instant",
            f"The instant {at.isoformat()} is in the future (now is {now.isoformat()}); the scheduler only "
            "generates windows whose fire time has passed.",
            field="at",
        )


def _require_trigger(trigger: str) -> None:
    if trigger not in GenerationTrigger.values:
        raise ValueError(f"unknown generation trigger {trigger!r}; one of {', '.join(GenerationTrigger.values)}")


# --------------------------------------------------------------------------------------------
# Windows: what is due, what is next
# --------------------------------------------------------------------------------------------


def _latest_due(
    sched: cron.Schedule, *, start: dt.date, after: dt.datetime, until: dt.datetime
) -> tuple[dt.date, dt.datetime] | None:
    """The most recent window D >= ``start`` whose fire time f has ``after`` < f <= ``until``.
    Searches backwards a month, then a year at a time, so an old watermark costs nothing."""
    zone = ZoneInfo(sched.timezone)
    lowest = max(start, after.astimezone(zone).date() - _ONE_DAY)
    end = until.astimezone(zone).date() + _ONE_DAY
    span = dt.timedelta(days=40)
    while end >= lowest:
        low = max(lowest, end - span)
        for day in reversed(sched.windows(low, end)):
            fire = sched.fire_time(day)
            if fire <= after:
                return None  # fire times grow with the date: nothing earlier qualifies
            if fire <= until:
                return day, fire
        end, span = low - _ONE_DAY, dt.timedelta(days=366)
    return None


def _next_fire(schedule: Schedule, sched: cron.Schedule, *, after: dt.datetime) -> dt.datetime | None:
    """The first fire time after ``after`` of a window on or after ``starts_on``."""
    zone = ZoneInfo(sched.timezone)
    start = _starts_on(schedule)
    # A window's fire time lies on its own local date, so windows before starts_on all fire
    # before starts_on's local midnight (the pre-transition reading when midnight is in a gap).
    start_of_day = dt.datetime.combine(start, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    fire = sched.next_fire_time(max(after, start_of_day - _TINY))
    while fire is not None and fire.astimezone(zone).date() < start:
        fire = sched.next_fire_time(fire)
    return fire


@dataclass
class _Due:
    targets: list[tuple[dt.date, dt.datetime]]  # windows the policy generates (or reports existing)
    new: list[tuple[dt.date, dt.datetime]]  # windows not decided by an earlier pass


def _due_windows(schedule: Schedule, sched: cron.Schedule, *, at: dt.datetime) -> _Due:
    watermark = schedule.schedule_watermark
    start = _starts_on(schedule)
    cursor = schedule.next_fire_at
    new_after = watermark if cursor is None else max(watermark, cursor - _TINY)
    new = sched.windows_due(start=start, after=new_after, until=at) if at > new_after else []
    if schedule.catch_up == CatchUp.ALL:
        oldest = at.astimezone(ZoneInfo(sched.timezone)).date() - dt.timedelta(days=CATCH_UP_ALL_DAYS)
        targets = sched.windows_due(start=max(start, oldest), after=watermark, until=at) if at > watermark else []
    else:
        latest = new[-1] if new else (_latest_due(sched, start=start, after=watermark, until=at))
        targets = [latest] if latest else []
    return _Due(targets=targets, new=new)


def _reported_existing(target_days: list[dt.date], new_days: list[dt.date]) -> set[dt.date]:
    """The targeted windows a pass reports as skipped when they already exist: the windows no
    earlier pass decided (so catch-up ``all`` does not report its whole 31-day range on every
    pass), or — when there are none, i.e. the scheduler is re-run at an instant already handled —
    every due window it targeted, as the spec asks of a re-run."""
    return set(new_days) if new_days else set(target_days)


def _date_span(days: Iterable[dt.date]) -> tuple[dt.date, dt.date] | None:
    days = list(days)
    return (min(days), max(days)) if days else None


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


# --------------------------------------------------------------------------------------------
# Writing windows
# --------------------------------------------------------------------------------------------


def _config_task(config: RecurringConfig, day: dt.date, *, created_by_id: int | None) -> Task:
    return Task(
        title=config.title,
        instructions=config.instructions,
        instructions_url=config.instructions_url,
        priority=config.priority,
        due_date=day,
        assignee_id=config.assignee_id,
        area=config.area,
        estimate_minutes=config.estimate_minutes,
        source=TaskSource.RECURRING,
        recurring_config_id=config.pk,
        window_date=day,
        requires_link=config.requires_link,
        requires_file=config.requires_file,
        requires_proof_note=config.requires_proof_note,
        created_by_id=created_by_id,
    )


def _insert_tasks_of_configs(
    wanted: list[tuple[RecurringConfig, list[dt.date]]], *, by=None
) -> dict[UUID, tuple[dict[dt.date, UUID], list[dt.date]]]:
    """Create the tasks of several configs' days in bulk; return, per config id, (window → id of
    the task we created, the windows another writer created first). One INSERT per batch of rows
    and one read-back query, whatever the number of configs."""
    created_by_id = _user_id(by)
    tasks = [_config_task(config, day, created_by_id=created_by_id) for config, days in wanted for day in days]
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
                outcome = instantiate_run(
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


# --------------------------------------------------------------------------------------------
# Notifications raised by generation
# --------------------------------------------------------------------------------------------


def _task_link(task_id: UUID) -> str:
    return f"/tasks/{task_id}/"


def _admin_url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def backfill_link(schedule: Schedule, *, start: dt.date, end: dt.date) -> str:
    """Where an admin backfills ``start``–``end`` of this schedule (the admin backfill page)."""
    if isinstance(schedule, RecurringConfig):
        url = _admin_url("admin:recurring_recurringconfig_backfill", schedule.pk)
    else:
        url = _admin_url("admin:recurring_template_backfill", schedule.pk)
    return f"{url}?start_date={start.isoformat()}&end_date={end.isoformat()}" if url else ""


class _Audience:
    """Who hears about the schedules of one pass. The people lists that do not depend on the
    schedule (every portal member, every admin) are read at most once per pass."""

    def __init__(self) -> None:
        self._members: list | None = None
        self._admins: list | None = None

    def members(self) -> list:
        if self._members is None:
            self._members = portal_members()
        return self._members

    def admins(self) -> list:
        if self._admins is None:
            self._admins = admins()
        return self._admins

    def of_task_notice(self, config: RecurringConfig) -> list:
        """Like ``task_recipients``: the assignee, or every operator and admin when unassigned."""
        if config.assignee_id and config.assignee.is_active:
            return [config.assignee]
        return self.members()

    def of_schedule_notice(self, schedule: Schedule) -> list:
        """Like ``schedule_recipients``: the assignee(s) plus every admin."""
        return schedule_recipients(_assignees(schedule), admin_people=self.admins())


def _task_notice_recipients(config: RecurringConfig) -> list:
    return _Audience().of_task_notice(config)


def _recurring_due_notices(config: RecurringConfig, created: dict[dt.date, UUID], recipients: list) -> list[Notice]:
    """One ``recurring-due`` notice per task just generated; its key names the new task."""
    return [
        Notice(
            type=NotificationType.RECURRING_DUE,
            recipients=recipients,
            dedup_key=f"recurring-due:{task_id}",
            title=f"{config.title} — due {day.isoformat()}",
            body=(config.instructions or "")[:500],
            link=_task_link(task_id),
            task=Task(pk=task_id),
            recurring_config=config,
            window_date=day,
        )
        for day, task_id in sorted(created.items())
    ]


def _notify_backfill_summary(config: RecurringConfig, result: GenerationResult) -> None:
    if not result.generated:
        return
    first, last = result.windows[0], result.windows[-1]
    notify(
        NotificationType.RECURRING_DUE,
        recipients=_task_notice_recipients(config),
        dedup_key=f"recurring-due:backfill:{result.generation_run.pk}",
        title=f"{config.title}: {result.generated} task(s) generated by a backfill",
        body=f"Windows {first.isoformat()} to {last.isoformat()} ({result.generated} new task(s); "
        f"{result.skipped} already existed).",
        link=_task_link(result.task_ids[0]),
        recurring_config=config,
        data={"generation_run_id": str(result.generation_run.pk), "windows": [d.isoformat() for d in result.windows]},
    )


def _notify_template_backfill_summary(template: WorkflowTemplate, result: GenerationResult) -> None:
    """One workflow-created summary for the runs a backfill created (instead of one per run), to
    the assignees of their tasks, or every operator and admin when nobody is assigned."""
    if not result.generated:
        return
    first, last = result.windows[0], result.windows[-1]
    assignees = list(
        get_user_model().objects.filter(is_active=True, tasks__run_id__in=result.run_ids).distinct().order_by("pk")
    )
    notify(
        NotificationType.WORKFLOW_CREATED,
        recipients=assignees or portal_members(),
        dedup_key=f"workflow-created:backfill:{result.generation_run.pk}",
        title=f"{template.name}: {result.generated} run(s) created by a backfill",
        body=f"Trigger dates {first.isoformat()} to {last.isoformat()} ({result.generated} new run(s); "
        f"{result.skipped} already existed).",
        link=f"/runs/{result.run_ids[0]}/" if result.run_ids else "",
        template=template,
        data={
            "generation_run_id": str(result.generation_run.pk),
            "windows": [d.isoformat() for d in result.windows],
            "run_ids": [str(pk) for pk in result.run_ids],
        },
    )


def _notify_missed(schedule: Schedule, missed: list[dt.date], generation_run: GenerationRun) -> None:
    if missed:
        notify_batch([_missed_notice(schedule, missed, generation_run, _Audience().of_schedule_notice(schedule))])


def _missed_notice(
    schedule: Schedule, missed: list[dt.date], generation_run: GenerationRun, recipients: list
) -> Notice:
    kind, first, last = schedule_kind(schedule), missed[0], missed[-1]
    listed = ", ".join(d.isoformat() for d in missed[:10])
    if len(missed) > 10:
        listed += f" and {len(missed) - 10} more"
    return Notice(
        type=NotificationType.MISSED_WINDOWS,
        recipients=recipients,
        dedup_key=f"missed-windows:{kind}:{schedule.pk}:{first.isoformat()}:{last.isoformat()}:{len(missed)}",
        title=f"{_title(schedule)}: {len(missed)} missed window(s)",
        body=f"These windows were not generated (the scheduler was not running, or the catch-up policy "
        f"'{schedule.catch_up}' left them out): {listed}. A backfill over {first.isoformat()} to "
        f"{last.isoformat()} generates them.",
        link=backfill_link(schedule, start=first, end=last),
        **_subject(schedule),
        window_date=first,
        data={
            "kind": kind,
            "schedule_id": str(schedule.pk),
            "windows": [d.isoformat() for d in missed],
            "generation_run_id": str(generation_run.pk),
        },
    )


def _subject(schedule: Schedule) -> dict[str, Schedule]:
    return {"recurring_config": schedule} if isinstance(schedule, RecurringConfig) else {"template": schedule}


# --------------------------------------------------------------------------------------------
# Generation-run bookkeeping
# --------------------------------------------------------------------------------------------


def _iso_dates(days: Iterable[dt.date]) -> list[str]:
    return [d.isoformat() for d in days]


def _new_generation_run(
    schedule: Schedule,
    result: GenerationResult,
    *,
    at: dt.datetime,
    trigger: str,
    by,
    started_at: dt.datetime,
    status: str = GenerationStatus.SUCCESS,
    range_: tuple[dt.date, dt.date] | None = None,
) -> GenerationRun:
    return GenerationRun(
        **_schedule_filter(schedule),
        trigger=trigger,
        status=status,
        at=at,
        range_start=range_[0] if range_ else None,
        range_end=range_[1] if range_ else None,
        generated=result.generated,
        skipped=result.skipped,
        missed=result.missed,
        recovered=result.recovered,
        failed=result.failed,
        windows=_iso_dates(result.windows),
        skipped_windows=_iso_dates(result.existing),
        missed_windows=_iso_dates(result.missed_windows),
        triggered_by=_person(by),
        started_at=started_at,
        finished_at=timezone.now(),
    )


def _resolve_failures(schedule: Schedule, succeeded: Iterable[dt.date]) -> int:
    """A window that now exists resolves the failures recorded for it (and a successful pass
    resolves schedule-wide failures such as an invalid expression) with their notifications."""
    return _resolve_failures_of(type(schedule), {schedule.pk: succeeded})


def _resolve_failures_of(model: type[Schedule], succeeded: dict[UUID, Iterable[dt.date]]) -> int:
    """``_resolve_failures`` for several schedules of one kind (schedule id → windows that now
    exist): one query finds their open failures, whatever their number."""
    if not succeeded:
        return 0
    column = "recurring_config_id" if model is RecurringConfig else "template_id"
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


def _advance(schedule: Schedule, sched: cron.Schedule, *, at: dt.datetime) -> None:
    """After a successful pass: the cursor moves to the first fire time after ``at`` (never
    backwards, so a pass at an earlier instant cannot re-open decided windows) and the retry
    back-off is cleared. A queryset update: no model signals, no celery-beat resync."""
    _advance_all(type(schedule), [(schedule, sched)], at=at)


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
    model = _model(schedule)
    streak, cursor = model.objects.filter(pk=schedule.pk).values_list("failure_streak", "next_fire_at").get()
    streak += 1
    delay = min(RETRY_FIRST * (2 ** min(streak - 1, 10)), RETRY_MAX)
    anchor = earliest_fire or at
    if cursor is None or cursor > anchor:
        cursor = anchor
    retry_at = at + delay
    model.objects.filter(pk=schedule.pk).update(failure_streak=streak, retry_at=retry_at, next_fire_at=cursor)
    schedule.failure_streak, schedule.retry_at, schedule.next_fire_at = streak, retry_at, cursor


def _failure_key(schedule: Schedule, window: dt.date | None) -> str:
    """One automation-failure notification per (schedule, window). A failure with no window (an
    invalid expression, an error before any window) is one *episode* until resolved or
    acknowledged: keyed by the first failed generation run of that episode. An acknowledged
    episode stays the same episode until a success resolves it, so its repeats keep its key and
    raise nothing new."""
    kind = schedule_kind(schedule)
    if window is not None:
        return f"automation-failure:{kind}:{schedule.pk}:{window.isoformat()}"
    ongoing = (
        GenerationRun.objects.filter(
            **_schedule_filter(schedule),
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


def _notify_failure(
    schedule: Schedule,
    *,
    windows: list[dt.date | None],
    error: str,
    key: str,
    generation_run: GenerationRun,
    recipients: list,
) -> None:
    what = "Recurring config" if isinstance(schedule, RecurringConfig) else "Workflow template"
    window = windows[0]
    where = f"window {window.isoformat()}" if window else "its schedule"
    also = f" (and {len(windows) - 1} more window(s) with the same error)" if len(windows) > 1 else ""
    notify(
        NotificationType.AUTOMATION_FAILURE,
        recipients=recipients,
        dedup_key=key,
        title=f"Automation failed: {_title(schedule)} ({where})",
        body=f"{what} “{_title(schedule)}” could not generate {where}{also}: {error}",
        link=_admin_url("admin:recurring_generationrun_change", generation_run.pk),
        **_subject(schedule),
        window_date=window,
        data={
            "kind": schedule_kind(schedule),
            "schedule_id": str(schedule.pk),
            "window": window.isoformat() if window else None,
            "windows": [w.isoformat() for w in windows if w],
            "error": error,
            "generation_run_id": str(generation_run.pk),
        },
    )


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
    recipients = schedule_recipients(_assignees(schedule))
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
            **_schedule_filter(schedule),
            status=GenerationStatus.FAILED,
            failure_key__in=keys,
            resolved_at__isnull=True,
            acknowledged_at__isnull=False,
        )
        .order_by("acknowledged_at", "id")
        .values_list("failure_key", "acknowledged_at", "acknowledged_by_id", "acknowledgement_note")
    )
    return {key: (at, by_id, note) for key, at, by_id, note in rows}


def _stop_retrying(schedule: Schedule, *, at: dt.datetime) -> None:
    """An acknowledged failure is not retried: clear the back-off and move the cursor to the
    next regular fire time after ``at`` (the acknowledged windows are left to a backfill)."""
    model = _model(schedule)
    updates: dict[str, Any] = {"retry_at": None, "failure_streak": 0}
    try:
        nxt = _next_fire(schedule, _compile(schedule), after=max(at, schedule.schedule_watermark))
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


def _failure_key_for_new_episode(schedule: Schedule, run: GenerationRun) -> str:
    return f"automation-failure:{schedule_kind(schedule)}:{schedule.pk}:schedule:{run.pk}"


def _safe_fire(schedule: Schedule, window: dt.date) -> dt.datetime | None:
    try:
        return _compile(schedule).fire_time(window)
    except cron.CronError:
        return None


def _error_text(exc: BaseException, schedule: Schedule) -> str:
    if isinstance(exc, cron.CronError):
        return f"Invalid schedule '{_expression(schedule)}' ({_zone_name(schedule)}): {exc}"
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.detail}"
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------
# Structured logs
# --------------------------------------------------------------------------------------------


def _log_ids(schedule: Schedule) -> dict[str, str]:
    kind = schedule_kind(schedule)
    return {"schedule_kind": kind, "config_id" if kind == "recurring" else "template_id": str(schedule.pk)}


def _log_result(result: GenerationResult, *, operation: str, trigger: str, by, at: dt.datetime) -> None:
    schedule = result.schedule
    windows = _iso_dates(result.windows)
    fields: dict[str, Any] = {
        "operation": operation,
        "trigger": trigger,
        "user_id": _user_id(by),
        **_log_ids(schedule),
        "at": at.isoformat(),
        "windows": windows if len(windows) <= LOG_WINDOWS_MAX else [windows[0], windows[-1]],
        "window_count": len(windows),
        "missed_windows": _iso_dates(result.missed_windows[:LOG_WINDOWS_MAX]),
        "failed_windows": _iso_dates(result.failed_windows),
        "dry_run": result.dry_run,
        "generation_run_id": str(result.generation_run.pk) if result.generation_run else None,
        **{name: getattr(result, name) for name in COUNT_NAMES},
    }
    counts = " ".join(f"{name}={getattr(result, name)}" for name in COUNT_NAMES)
    if result.error:
        fields["error"] = result.error
        log.error("%s %s %s failed: %s (%s)", operation, result.kind, schedule.pk, result.error, counts, extra=fields)
    else:
        log.info("%s %s %s: %s", operation, result.kind, schedule.pk, counts, extra=fields)


# --------------------------------------------------------------------------------------------
# The scheduler
# --------------------------------------------------------------------------------------------


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
    sched = _compile(config)
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
        if not result.is_empty:
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
    of the module docstring). A paused, archived or manual schedule generates nothing. Never
    raises for a generation error: the failure is recorded and returned (``result.error``).
    A person's pass (command, API, admin, page) for an instant after now is refused
    (``future_instant``, nothing written); the workers always pass the clock's now."""
    _require_aware(at)
    _require_trigger(trigger)
    if trigger in _PERSON_TRIGGERS:
        _refuse_future(at)
    result = GenerationResult(kind=schedule_kind(schedule), schedule=schedule)
    if not schedule.schedule_active:
        return result
    started_at = timezone.now()
    share: _ConfigShare | None = None
    try:
        with transaction.atomic():
            _lock_cursors(type(schedule), [schedule])
            if isinstance(schedule, RecurringConfig):
                share = _plan_config(schedule, at=at, result=result)
                _generate_configs([share], at=at, trigger=trigger, by=by, started_at=started_at)
            else:
                _generate_template_due(schedule, result, at=at, trigger=trigger, by=by, started_at=started_at)
    except Exception as exc:  # noqa: BLE001 — one schedule's failure never stops the others
        log.exception(
            "generation of %s %s failed",
            result.kind,
            schedule.pk,
            extra={"operation": "generate", "trigger": trigger, "user_id": _user_id(by), **_log_ids(schedule)},
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
    sched = _compile(template)
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
    if not result.is_empty:
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


def _generate_each(
    schedules: Iterable[Schedule], *, at: dt.datetime, trigger: Callable[[Schedule], str], by=None
) -> list[GenerationResult]:
    """Generate ``schedules`` at ``at``, results in their order. Active configs without an open
    failure streak go in batches (``_generate_config_batch``); the others — templates, retries,
    anything a batch could not take — one at a time (``generate_due``), so one schedule's
    failure never stops the others."""
    schedules = list(schedules)
    healthy: dict[str, list[RecurringConfig]] = {}
    for schedule in schedules:
        if isinstance(schedule, RecurringConfig) and schedule.schedule_active and not schedule.failure_streak:
            healthy.setdefault(trigger(schedule), []).append(schedule)
    batched: dict[UUID, GenerationResult] = {}
    for name, configs in healthy.items():
        for start in range(0, len(configs), PASS_BATCH_SIZE):
            batch = configs[start : start + PASS_BATCH_SIZE]
            batched.update(_generate_config_batch(batch, at=at, trigger=name, by=by))
    results = []
    for schedule in schedules:
        result = batched.get(schedule.pk) if isinstance(schedule, RecurringConfig) else None
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
    templates = active_templates().order_by("name", "id")
    return _generate_each([*configs, *templates], at=at, trigger=lambda schedule: trigger, by=by)


def _generate_isolated(schedule: Schedule, *, at: dt.datetime, trigger: str, by=None) -> GenerationResult:
    """``generate_due`` records its own failures; this also survives a failure to record one
    (e.g. the database went away mid-pass), so the remaining schedules still get their turn."""
    try:
        return generate_due(schedule, at=at, trigger=trigger, by=by)
    except Exception as exc:  # noqa: BLE001 — reported in the result and the log, never raised
        log.exception(
            "generation of %s %s could not be recorded",
            schedule_kind(schedule),
            schedule.pk,
            extra={"operation": "generate", "trigger": trigger, "user_id": _user_id(by), **_log_ids(schedule)},
        )
        return GenerationResult(
            kind=schedule_kind(schedule), schedule=schedule, failed=1, error=_error_text(exc, schedule)
        )


def due_configs(at: dt.datetime):
    """Enabled configs whose next fire time has passed and that are not waiting for a retry."""
    return (
        RecurringConfig.objects.scheduled()
        .filter(next_fire_at__lte=at)
        .exclude(retry_at__gt=at)
        .select_related("assignee")
        .order_by("next_fire_at", "id")
    )


def due_templates(at: dt.datetime):
    return active_templates().filter(next_fire_at__lte=at).exclude(retry_at__gt=at).order_by("next_fire_at", "id")


def _reconcile_trigger(schedule: Schedule) -> str:
    return GenerationTrigger.RETRY if schedule.failure_streak else GenerationTrigger.RECONCILE


def reconcile(*, at: dt.datetime) -> list[GenerationResult]:
    """The per-minute safety net and, without per-schedule beat entries, the clock: generate the
    schedules whose next fire time (or retry time) has passed. One indexed query per kind, and
    the due configs are generated in batches, so its cost follows what is due, not how many
    schedules exist, in a constant number of queries per batch."""
    _require_aware(at)
    return _generate_each([*due_configs(at), *due_templates(at)], at=at, trigger=_reconcile_trigger)


# --------------------------------------------------------------------------------------------
# Backfill
# --------------------------------------------------------------------------------------------


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
    kind = schedule_kind(schedule)
    if schedule.archived_at is not None:
        if kind == "recurring":
            raise DomainError(
                "recurring_config_archived", "This recurring config is archived; it cannot be backfilled.", status=409
            )
        raise DomainError("template_archived", "This template is archived; it cannot be backfilled.", status=409)
    if kind == "template" and not schedule.is_automatic:
        raise DomainError(
            "template_not_automatic",
            "Only an automatic template has trigger dates to backfill; launch a run for an anchor date instead.",
        )
    try:
        sched = _compile(schedule)
    except cron.CronError as exc:
        raise DomainError("invalid_schedule", _error_text(exc, schedule), field="cron_expression") from None

    now = timezone.now()
    started_at = now
    result = GenerationResult(kind=kind, schedule=schedule, dry_run=dry_run)
    starts_on = _starts_on(schedule)
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
            if isinstance(schedule, RecurringConfig):
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
            if isinstance(schedule, RecurringConfig):
                _notify_backfill_summary(schedule, result)
            else:
                _notify_template_backfill_summary(schedule, result)
    except Exception as exc:  # noqa: BLE001 — recorded, and reported to the caller in the result
        log.exception(
            "backfill of %s %s failed",
            kind,
            schedule.pk,
            extra={"operation": "backfill", "trigger": trigger, "user_id": _user_id(by), **_log_ids(schedule)},
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
    if isinstance(schedule, RecurringConfig):
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


# --------------------------------------------------------------------------------------------
# Failures: acknowledgement
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Config lifecycle
# --------------------------------------------------------------------------------------------


def _clean_config_data(data: dict[str, Any], *, current_assignee_id: int | None = None) -> dict[str, Any]:
    """Validate and normalise the given fields; each refusal names the field and why."""
    unknown = sorted(set(data) - set(CONFIG_FIELDS))
    if unknown:
        raise DomainError(
            "validation_error", f"Unknown recurring config field(s): {', '.join(unknown)}.", field=unknown[0]
        )
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("title", "instructions", "area", "requires_link", "instructions_url"):
            if value is not None and not isinstance(value, str):
                raise DomainError("validation_error", f"{name} must be text.", field=name)
            value = (value or "").strip()
        if name == "title" and not value:
            raise DomainError("validation_error", "A recurring config needs a title.", field="title")
        elif name == "instructions_url" and value:
            try:
                URLValidator(schemes=["http", "https"])(value)
            except ValidationError:
                raise DomainError(
                    "validation_error", f"instructions_url: '{value}' is not a valid http(s) URL.", field=name
                ) from None
        elif name == "cron_expression":
            try:
                value = cron.validate(value or "")
            except cron.CronError as exc:
                raise DomainError(
                    "invalid_schedule", f"cron_expression: '{value}' is refused: {exc}.", field=name
                ) from None
        elif name == "timezone":
            try:
                value = cron.validate_timezone(value or "")
            except cron.CronError as exc:
                raise DomainError("invalid_timezone", f"timezone: {exc}.", field=name) from None
        elif name == "catch_up" and value not in CatchUp.values:
            raise DomainError(
                "validation_error", f"catch_up must be one of {', '.join(CatchUp.values)}; got '{value}'.", field=name
            )
        elif name == "priority" and value not in Priority.values:
            raise DomainError(
                "validation_error", f"priority must be one of {', '.join(Priority.values)}; got '{value}'.", field=name
            )
        elif name == "estimate_minutes" and value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DomainError("validation_error", "estimate_minutes must be a whole number ≥ 0.", field=name)
        elif name in ("enabled", "requires_file", "requires_proof_note") and not isinstance(value, bool):
            raise DomainError("validation_error", f"{name} must be true or false.", field=name)
        elif name == "starts_on" and value is not None:
            value = _as_date(value, name)
        elif name == "assignee":
            value = resolve_assignee(value, current_id=current_assignee_id)
        values[name] = value
    return values


def _as_date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise DomainError("validation_error", f"{name} must be a date (YYYY-MM-DD).", field=name)
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DomainError("validation_error", f"{name}: '{value}' is not a date (YYYY-MM-DD).", field=name) from None


def resolve_assignee(value: Any, *, current_id: int | None = None):
    """The assignee named by ``value``: a user, their username, their id, or nothing
    (unassigned). Work goes only to an active portal member — Operators, Admins, superusers: the
    rule of ``workflows.members.members``, which the task API and the admin apply too —
    since anyone else could never see it. Keeping the config's current assignee (``current_id``)
    after they left is no change and stays allowed. Refusals: ``unknown_user`` when no active
    user has that name, ``validation_error`` naming a user who is not a portal member."""
    if value in (None, ""):
        return None
    User = get_user_model()
    if isinstance(value, User):
        user = value
    else:
        lookup = {"pk": value} if isinstance(value, int) else {"username": str(value).strip()}
        user = User.objects.filter(**lookup).first()
        if user is None or (not user.is_active and user.pk != current_id):
            raise DomainError("unknown_user", f"assignee: there is no active user '{value}'.", field="assignee")
    if user.pk == current_id:
        return user
    # Asked of the database, not of the object given: they may have left a group since it was read.
    if not portal_member_queryset().filter(pk=user.pk).exists():
        raise DomainError(
            "validation_error",
            f"assignee: only active members of Operators or Admins can be assigned work; "
            f"'{user.get_username()}' is not one, so they would never see it.",
            field="assignee",
        )
    return user


@transaction.atomic
def save_config(*, config: RecurringConfig | None = None, data: dict[str, Any], by=None) -> RecurringConfig:
    """Create or update a config. Saving never generates; it keeps the schedule bookkeeping in
    step (``after_schedule_saved`` via the model's save signal): enabling counts as a resume,
    a changed expression or time zone too, ``next_fire_at`` is recomputed and celery-beat rows
    are created, updated, disabled or removed. Work is assigned only to an active portal member
    (``resolve_assignee``), whichever door the change comes through."""
    creating = config is None
    config = config or RecurringConfig()
    values = _clean_config_data(data, current_assignee_id=config.assignee_id)
    if creating:
        missing = [name for name in ("title", "cron_expression") if not values.get(name)]
        if missing:
            raise DomainError(
                "validation_error", f"A recurring config needs {', '.join(missing)}.", missing=missing, field=missing[0]
            )
    if config.archived_at is not None and values.get("enabled"):
        raise DomainError(
            "recurring_config_archived", "This recurring config is archived; it cannot be enabled.", status=409
        )
    for name, value in values.items():
        setattr(config, name, value)
    config.requires_link = config.requires_link or ""
    config.save()
    log.info(
        "%s recurring config %s",
        "create" if creating else "update",
        config.pk,
        extra={"operation": "save_config", "user_id": _user_id(by), "config_id": str(config.pk)},
    )
    return config


def _lifecycle(config: RecurringConfig, operation: str, by) -> None:
    log.info(
        "%s recurring config %s",
        operation,
        config.pk,
        extra={"operation": operation, "user_id": _user_id(by), "config_id": str(config.pk)},
    )


@transaction.atomic
def pause_config(config: RecurringConfig, *, by=None) -> RecurringConfig:
    """No new work from now on; history (tasks, comments, proof, notifications) stays intact.
    celery-beat rows are disabled. Pausing a paused config changes nothing."""
    if config.enabled:
        config.enabled = False
        config.save()
        _lifecycle(config, "pause_config", by)
    return config


@transaction.atomic
def resume_config(config: RecurringConfig, *, by=None) -> RecurringConfig:
    """Only windows whose fire time is after this moment are generated; paused windows are
    neither generated nor counted as missed (a backfill reaches them)."""
    if config.archived_at is not None:
        raise DomainError(
            "recurring_config_archived", "This recurring config is archived; it cannot be resumed.", status=409
        )
    if not config.enabled:
        config.enabled = True
        config.save()  # the save signal sets resumed_at = now
        _lifecycle(config, "resume_config", by)
    return config


@transaction.atomic
def archive_config(config: RecurringConfig, *, by=None) -> RecurringConfig:
    """Paused and hidden from default lists, history intact; its celery-beat rows are removed."""
    if config.archived_at is None:
        config.enabled = False
        config.archived_at = timezone.now()
        config.save()
        _lifecycle(config, "archive_config", by)
    return config


@transaction.atomic
def delete_config(config: RecurringConfig, *, by=None) -> None:
    """Only a config without history may be deleted; one that generated tasks (or has generation
    runs) is refused with 409 — archive it instead."""
    if config.tasks.exists() or config.generation_runs.exists():
        raise DomainError(
            "recurring_config_has_generated_history",
            f"“{config.title}” has generated tasks or generation history; deleting it would lose that history. "
            "Archive it instead.",
            status=409,
        )
    _lifecycle(config, "delete_config", by)
    config.delete()  # the delete signal removes its celery-beat rows


# --------------------------------------------------------------------------------------------
# Keeping schedule bookkeeping in step with every save (admin, API, pages, plain model saves)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fingerprint:
    spec: tuple
    active: bool


def _fingerprint(schedule: Schedule) -> _Fingerprint:
    if isinstance(schedule, RecurringConfig):
        spec = (schedule.cron_expression, schedule.timezone)
    else:
        spec = (schedule.trigger_type, schedule.trigger_schedule, schedule.trigger_timezone)
    return _Fingerprint(spec=spec, active=schedule.schedule_active)


def remember_schedule_before_save(sender, instance: Schedule, raw: bool = False, **kwargs) -> None:
    """``pre_save``: note the stored schedule so the post-save step can tell a resume apart."""
    if raw:
        return
    stored = None if instance._state.adding else sender._default_manager.filter(pk=instance.pk).first()
    instance._schedule_before = _fingerprint(stored) if stored is not None else None


def schedule_saved(sender, instance: Schedule, created: bool = False, raw: bool = False, **kwargs) -> None:
    """``post_save``: apply ``after_schedule_saved`` to whatever saved the model."""
    if raw:
        return
    before = instance.__dict__.pop("_schedule_before", None)
    after_schedule_saved(instance, before=before, created=created)


def after_schedule_saved(schedule: Schedule, *, before: _Fingerprint | None, created: bool) -> None:
    """Enabling (or switching a template to automatic) counts as a resume, and so does changing
    the expression or time zone of an active schedule: only later fire times count, so a save
    never reaches back. ``next_fire_at`` follows; a paused or archived schedule has none. The
    celery-beat rows are synced last."""
    now = timezone.now()
    updates: dict[str, Any] = {}
    if schedule.schedule_active:
        resumed = before is not None and (not before.active or before.spec != _fingerprint(schedule).spec)
        if resumed:
            updates.update(resumed_at=now, retry_at=None, failure_streak=0)
            schedule.resumed_at = now
        if resumed or created or schedule.next_fire_at is None:
            try:
                sched = _compile(schedule)
            except cron.CronError:
                # Stored by a path that skipped validation: let the reconcile task find it now and
                # report it as a failure rather than never looking at it again.
                updates["next_fire_at"] = now
            else:
                updates["next_fire_at"] = _next_fire(schedule, sched, after=schedule.schedule_watermark)
    elif schedule.next_fire_at is not None or schedule.retry_at is not None or schedule.failure_streak:
        updates.update(next_fire_at=None, retry_at=None, failure_streak=0)
    if updates:
        _model(schedule).objects.filter(pk=schedule.pk).update(**updates)
        for name, value in updates.items():
            setattr(schedule, name, value)
    beat.sync_beat(schedule)


def schedule_deleted(sender, instance: Schedule, **kwargs) -> None:
    """``post_delete``: a deleted schedule leaves no celery-beat rows behind."""
    beat.remove_beat(schedule_kind(instance), instance.pk)


def template_saved(sender, template: WorkflowTemplate, **kwargs) -> None:
    """``workflows.signals.template_saved``: the template's trigger may have changed."""
    beat.sync_beat(template)
