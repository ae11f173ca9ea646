"""What a schedule is and which of its windows are due, whichever model holds it.

A recurring config and an automatic template are both schedules: a cron expression in a time zone
from a start date, a resume watermark, a cursor (``next_fire_at``) and a retry back-off
(``docs/schedules.md``). ``schedule_of`` gives both one interface; the window arithmetic below
works on that interface only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from workflows.errors import DomainError
from workflows.models import WorkflowTemplate

from .. import cron
from ..models import CatchUp, GenerationTrigger, RecurringConfig

Schedule = RecurringConfig | WorkflowTemplate


#: ``catch_up = all`` generates missed windows dated up to this many days before the run's date.
CATCH_UP_ALL_DAYS = 31


_ONE_DAY = dt.timedelta(days=1)
_TINY = dt.timedelta(microseconds=1)


class ScheduleAdapter:
    """What the scheduler needs to know of a schedule, whichever model holds it. The one place
    that knows how a recurring config and an automatic template differ; every other module of
    the scheduler asks ``schedule_of(schedule)`` instead of testing the type."""

    kind: str
    model: type[RecurringConfig] | type[WorkflowTemplate]
    #: The foreign key of generation runs and notifications that names the schedule.
    subject_field: str
    #: Its column.
    subject_column: str
    #: What people call this kind of schedule in messages.
    label: str
    #: The admin page where this kind of schedule is backfilled.
    backfill_url_name: str

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    @property
    def is_config(self) -> bool:
        return self.kind == "recurring"

    @property
    def subject(self) -> dict[str, Schedule]:
        """Keyword arguments naming the schedule on a generation run or a notification."""
        return {self.subject_field: self.schedule}

    @property
    def log_ids(self) -> dict[str, str]:
        id_name = "config_id" if self.is_config else "template_id"
        return {"schedule_kind": self.kind, id_name: str(self.schedule.pk)}

    def compile(self) -> cron.Schedule:
        """The compiled schedule; ``cron.CronError`` names what is wrong with a stored expression."""
        if not self.expression:
            raise cron.CronError("the schedule has no cron expression")
        return cron.compile_schedule(self.expression, self.zone_name)


class ConfigSchedule(ScheduleAdapter):
    kind = "recurring"
    model = RecurringConfig
    subject_field = "recurring_config"
    subject_column = "recurring_config_id"
    label = "Recurring config"
    backfill_url_name = "admin:recurring_recurringconfig_backfill"

    @property
    def title(self) -> str:
        return self.schedule.title

    @property
    def expression(self) -> str:
        return self.schedule.cron_expression

    @property
    def zone_name(self) -> str:
        return self.schedule.timezone

    @property
    def spec(self) -> tuple:
        """What a change of counts as a resume of an active schedule."""
        return (self.schedule.cron_expression, self.schedule.timezone)

    @property
    def starts_on(self) -> dt.date:
        config = self.schedule
        return config.starts_on or timezone.localdate(config.created_at, timezone=ZoneInfo(config.timezone))

    def assignees(self) -> list:
        return [self.schedule.assignee] if self.schedule.assignee_id else []


class TemplateSchedule(ScheduleAdapter):
    kind = "template"
    model = WorkflowTemplate
    subject_field = "template"
    subject_column = "template_id"
    label = "Workflow template"
    backfill_url_name = "admin:recurring_template_backfill"

    @property
    def title(self) -> str:
        return self.schedule.name

    @property
    def expression(self) -> str:
        return self.schedule.trigger_schedule

    @property
    def zone_name(self) -> str:
        return self.schedule.trigger_timezone

    @property
    def spec(self) -> tuple:
        template = self.schedule
        return (template.trigger_type, template.trigger_schedule, template.trigger_timezone)

    @property
    def starts_on(self) -> dt.date:
        return self.schedule.starts_on

    def assignees(self) -> list:
        people = self.schedule.tasks.exclude(assignee=None).values("assignee")
        return list(get_user_model().objects.filter(pk__in=people))


#: The adapter of each schedule model.
ADAPTERS: dict[type, type[ScheduleAdapter]] = {RecurringConfig: ConfigSchedule, WorkflowTemplate: TemplateSchedule}
_BY_KIND: dict[str, type[ScheduleAdapter]] = {adapter.kind: adapter for adapter in ADAPTERS.values()}


def schedule_of(schedule: Schedule) -> ScheduleAdapter:
    """The scheduler's view of a config or an automatic template."""
    return ADAPTERS[schedule._meta.concrete_model](schedule)


def schedule_kind(schedule: Schedule) -> str:
    """``recurring`` or ``template``."""
    return schedule_of(schedule).kind


def scheduled_templates():
    """Automatic, enabled, unarchived templates: the ones the scheduler looks at (the templates'
    counterpart of ``RecurringConfig.objects.scheduled()``)."""
    return WorkflowTemplate.objects.active().automatic().filter(trigger_enabled=True)


def _user_id(by) -> int | None:
    return by.pk if getattr(by, "is_authenticated", False) else None


def _person(by):
    return by if getattr(by, "is_authenticated", False) else None


def load_schedule(kind: str, pk: str | UUID) -> Schedule | None:
    """The config or template named by a beat entry's kwargs, or None when it no longer exists."""
    adapter = _BY_KIND.get(kind)
    if adapter is None:
        raise ValueError(f"unknown schedule kind {kind!r}")
    model = adapter.model
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
    start = schedule_of(schedule).starts_on
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
    start = schedule_of(schedule).starts_on
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
    return scheduled_templates().filter(next_fire_at__lte=at).exclude(retry_at__gt=at).order_by("next_fire_at", "id")
