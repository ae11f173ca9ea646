"""Insights: what the history of each duty says (docs/home.md, "Insights").

For the last ``days`` days (``since`` … ``until`` = today in ``PORTAL_TIME_ZONE``), per recurring
config and per workflow template, over the tasks *due* in the period (archived tasks left out):

* ``due``, ``done``, ``skipped``, ``open`` (still to do, in progress or waiting);
* ``completion_rate`` = done / due; ``on_time_rate`` = done on or before the due date (the local
  date of completion in ``PORTAL_TIME_ZONE``) / done — ``None`` when the denominator is 0;
* ``median_minutes_to_complete`` over done tasks that were started (started → completed);
* ``median_days_late`` over done tasks (0 for work done on time);
* ``weeks``: Monday-start weeks by due date with ``on_time`` and ``late`` (done) and ``missed``
  (skipped, or still open after its due date).

Entries are sorted worst on-time rate first (no finished work last), then by title. Everything is
counted in SQL grouped by duty and week; medians come from one query over the done tasks.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, IntegerField, Q, Value
from django.db.models.functions import Cast, Greatest, Round
from django.utils import timezone

from recurring.models import RecurringConfig
from workflows.calendar_sql import DaysBetween, LocalDate, MinutesBetween, WeekStart
from workflows.history import duration_expression
from workflows.models import OPEN_STATUSES, Task, TaskStatus, WorkflowTemplate

MIN_DAYS, MAX_DAYS = 1, 366
PERIODS = (30, 90)


@dataclass
class Week:
    week_start: dt.date
    on_time: int = 0
    late: int = 0
    missed: int = 0


@dataclass
class DutyInsight:
    kind: str  # "config" or "template"
    id: UUID
    title: str
    due: int = 0
    done: int = 0
    skipped: int = 0
    open: int = 0
    on_time: int = 0
    median_minutes_to_complete: int | None = None
    median_days_late: float | None = None
    weeks: list[Week] = field(default_factory=list)

    @property
    def completion_rate(self) -> float | None:
        return round(self.done / self.due, 4) if self.due else None

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / self.done, 4) if self.done else None

    @property
    def late(self) -> int:
        return self.done - self.on_time

    @property
    def missed(self) -> int:
        return sum(week.missed for week in self.weeks)


@dataclass
class InsightsData:
    since: dt.date
    until: dt.date
    days: int
    configs: list[DutyInsight]
    templates: list[DutyInsight]

    @property
    def week_starts(self) -> list[dt.date]:
        return _week_starts(self.since, self.until)

    def totals_by_week(self) -> list[Week]:
        """Every duty's weeks added up: the overview chart."""
        totals = {start: Week(week_start=start) for start in self.week_starts}
        for entry in [*self.configs, *self.templates]:
            for week in entry.weeks:
                total = totals[week.week_start]
                total.on_time += week.on_time
                total.late += week.late
                total.missed += week.missed
        return list(totals.values())


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.PORTAL_TIME_ZONE)


def _week_starts(since: dt.date, until: dt.date) -> list[dt.date]:
    first = since - dt.timedelta(days=since.weekday())
    weeks = []
    while first <= until:
        weeks.append(first)
        first += dt.timedelta(days=7)
    return weeks


def period(*, today: dt.date, days: int) -> tuple[dt.date, dt.date]:
    return today - dt.timedelta(days=days - 1), today


def _tasks_in(since: dt.date, until: dt.date):
    return Task.objects.filter(due_date__gte=since, due_date__lte=until, archived_at__isnull=True)


def _completed_day(since: dt.date):
    """The local date of completion, computed by the database (see ``workflows.calendar_sql``)."""
    zone = _zone()
    start = dt.datetime.combine(since - dt.timedelta(days=400), dt.time.min, tzinfo=zone)
    return LocalDate("completed_at", zone=zone, start=start, end=timezone.now() + dt.timedelta(days=2))


def _middle(queryset, key: str, value: str) -> dict:
    """The median of ``value`` (whole numbers) per ``key`` over ``queryset``. The database counts
    each duty's distinct values (a small histogram: minutes or days repeat a lot), and the median
    is read off the running counts here, so no row-by-row sort or transfer is needed."""
    histogram: dict = defaultdict(list)
    rows = queryset.values(key, value).annotate(n=Count("pk")).order_by(key, value).values_list(key, value, "n")
    for duty_id, number, count in rows:
        histogram[duty_id].append((number, count))
    medians = {}
    for duty_id, counts in histogram.items():
        total = sum(count for _, count in counts)
        wanted = {(total - 1) // 2, total // 2}  # the middle position(s), counting from 0
        picked, seen = [], 0
        for number, count in counts:
            picked += [number] * len(wanted & set(range(seen, seen + count)))
            seen += count
        medians[duty_id] = statistics.mean(picked)
    return medians


def _tally(kind: str, key: str, since: dt.date, until: dt.date, today: dt.date, entries: dict) -> None:
    """Counts per duty and week (one query) and the two medians (one query each) into ``entries``."""
    done = Q(status=TaskStatus.DONE)
    on_time = done & Q(completed_day__lte=F("due_date"))
    missed = Q(status=TaskStatus.SKIPPED) | (Q(status__in=OPEN_STATUSES) & Q(due_date__lt=today))
    tasks = _tasks_in(since, until).filter(**{f"{key}__isnull": False})
    rows = (
        tasks.annotate(completed_day=_completed_day(since), week=WeekStart("due_date"))
        .values(key, "week")
        .annotate(
            due=Count("pk"),
            done=Count("pk", filter=done),
            skipped=Count("pk", filter=Q(status=TaskStatus.SKIPPED)),
            open=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
            on_time=Count("pk", filter=on_time),
            missed=Count("pk", filter=missed),
        )
        .order_by()
    )
    for row in rows:
        entry = entries.get((kind, row[key]))
        if entry is None:
            continue
        for name in ("due", "done", "skipped", "open", "on_time"):
            setattr(entry, name, getattr(entry, name) + row[name])
        week_start = row["week"]
        if isinstance(week_start, str):
            week_start = dt.date.fromisoformat(week_start)
        week = entry.week_index.get(week_start)
        if week is not None:
            week.on_time += row["on_time"]
            week.late += row["done"] - row["on_time"]
            week.missed += row["missed"]
    finished = tasks.filter(done)
    # Completing straight from to do stamps both instants at once: no real timing to learn from.
    timed_work = finished.filter(started_at__isnull=False, started_at__lt=F("completed_at")).annotate(
        # Whole minutes: the figure is shown in minutes, and whole values keep the histogram small.
        minutes=Cast(Round(MinutesBetween("started_at", "completed_at")), IntegerField())
    )
    lateness = finished.annotate(
        days_late=Greatest(DaysBetween("due_date", _completed_day(since)), Value(0), output_field=IntegerField())
    )
    minutes = _middle(timed_work, key, "minutes")
    late = _middle(lateness, key, "days_late")
    for (entry_kind, duty_id), entry in entries.items():
        if entry_kind != kind:
            continue
        entry.median_minutes_to_complete = round(minutes[duty_id]) if duty_id in minutes else None
        entry.median_days_late = late.get(duty_id)


def _sort_key(entry: DutyInsight) -> tuple:
    rate = entry.on_time_rate
    return (rate is None, rate if rate is not None else 0, entry.title.lower(), str(entry.id))


def insights(*, today: dt.date, days: int = 30, config: RecurringConfig | None = None) -> InsightsData:
    """Every config's and template's figures for the ``days`` days ending ``today``. A constant
    number of queries: the schedules (2), counts (2), medians (2). With ``config``, only that
    recurring config's entry is computed."""
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"days must be between {MIN_DAYS} and {MAX_DAYS}")
    since, until = period(today=today, days=days)
    week_starts = _week_starts(since, until)
    entries: dict = {}
    with_tasks = _tasks_in(since, until)
    configs = RecurringConfig.objects.filter(
        Q(archived_at__isnull=True)
        | Q(pk__in=with_tasks.filter(recurring_config__isnull=False).values("recurring_config"))
    ).only("id", "title")
    templates = WorkflowTemplate.objects.filter(
        Q(archived_at__isnull=True) | Q(pk__in=with_tasks.filter(run__isnull=False).values("run__template"))
    ).only("id", "name")
    if config is not None:
        configs, templates = configs.filter(pk=config.pk), templates.none()
    for kind, objects in (("config", configs), ("template", templates)):
        for obj in objects:
            entry = DutyInsight(kind=kind, id=obj.pk, title=getattr(obj, "title", None) or obj.name)
            entry.weeks = [Week(week_start=start) for start in week_starts]
            entry.week_index = {week.week_start: week for week in entry.weeks}
            entries[(kind, obj.pk)] = entry
    _tally("config", "recurring_config_id", since, until, today, entries)
    _tally("template", "run__template_id", since, until, today, entries)
    return InsightsData(
        since=since,
        until=until,
        days=days,
        configs=sorted((e for (k, _), e in entries.items() if k == "config"), key=_sort_key),
        templates=sorted((e for (k, _), e in entries.items() if k == "template"), key=_sort_key),
    )


def config_history(config: RecurringConfig, *, today: dt.date, days: int = 90) -> list[Task]:
    """Each window of ``config`` due in the period, newest first, with its task's outcome:
    ``completed_day`` (local), ``worked`` (started → completed) and ``days_late``."""
    since, until = period(today=today, days=days)
    tasks = list(
        _tasks_in(since, until)
        .filter(recurring_config=config)
        .annotate(completed_day=_completed_day(since), worked=duration_expression())
        .select_related("completed_by", "assignee")
        .order_by("-due_date", "-window_date")
    )
    for task in tasks:
        day = task.completed_day
        if isinstance(day, dt.datetime):
            day = day.date()
        task.days_late = max(0, (day - task.due_date).days) if day and task.status == TaskStatus.DONE else None
        task.missed = task.status == TaskStatus.SKIPPED or (task.status in OPEN_STATUSES and task.due_date < today)
    return tasks
