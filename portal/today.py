"""Start today: one person's actionable work for a day, one task at a time (docs/home.md).

The queue holds the user's work (assigned to them or to nobody) that Operations Home shows as
actionable today, in this order:

1. follow-ups due (waiting, follow-up date today or earlier), earliest follow-up first;
2. overdue work (to do / in progress, due before today), oldest due date first;
3. work due today, by priority (urgent → low), then due time, then title.

A task never comes before an open prerequisite that is also in the queue; a task blocked by work
outside the queue comes last, marked blocked. "Skip for now" moves tasks to the end for one visit
without changing them (the page carries them in its address).

Progress counts the tasks resolved today (by the user, or assigned to them) out of those plus the
queue; the expected time left sums each queued task's typical duration (``workflows.history``).
The **streak** counts consecutive days, ending today or yesterday, on which the user had work due
(assigned to them) and had resolved all of it by the end of that day; days with nothing due
neither count nor break it. It is computed from task history on every request, never stored.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case as SqlCase
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Value, When

from workflows.calendar_sql import LocalDate
from workflows.history import attach_typical_minutes, duration_expression, with_resolved_at
from workflows.models import (
    ACTIONABLE_STATUSES,
    OPEN_STATUSES,
    RESOLVED_STATUSES,
    Task,
    TaskComment,
    TaskDependency,
    TaskStatus,
)

#: How far back the streak looks; a longer streak is reported as this many days.
STREAK_LOOKBACK_DAYS = 366


@dataclass
class TodayData:
    date: dt.date
    queue: list[Task]
    resolved_today: list[Task]
    streak: int
    later: list[str] = field(default_factory=list)

    @property
    def progress(self) -> dict[str, int]:
        resolved = len(self.resolved_today)
        return {"resolved": resolved, "total": resolved + len(self.queue)}

    @property
    def expected_minutes(self) -> int:
        return sum(task.typical_minutes or 0 for task in self.queue)

    @property
    def unknown_estimates(self) -> int:
        return sum(1 for task in self.queue if task.typical_minutes is None)

    @property
    def current(self) -> Task | None:
        return self.queue[0] if self.queue else None

    @property
    def minutes_spent_today(self) -> int | None:
        """Time spent on today's resolved work where it is known (started → completed)."""
        known = [t.worked for t in self.resolved_today if getattr(t, "worked", None) is not None]
        if not known:
            return None
        return round(sum(d.total_seconds() for d in known) / 60)


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.PORTAL_TIME_ZONE)


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = _zone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def queue_tasks(*, user, today: dt.date):
    """The user's queue for ``today`` as a queryset (unordered by dependencies)."""
    rules = Task.objects
    follow_ups_due, overdue = rules.follow_ups_due_q(today), rules.overdue_q(today)
    due_today = Q(status__in=ACTIONABLE_STATUSES, due_date=today)
    section = SqlCase(
        When(follow_ups_due, then=Value(0)),
        When(overdue, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        Task.objects.on_home()
        .filter(rules.mine_q(user))
        .filter(follow_ups_due | overdue | due_today)
        .with_blocked()
        .annotate(queue_section=section, priority_rank=rules.priority_rank())
        .select_related("assignee", "recurring_config", "run", "run__template")
    )


def _base_order(task: Task) -> tuple:
    if task.queue_section == 0:
        return (0, task.follow_up_at, task.priority_rank, task.title, str(task.pk))
    if task.queue_section == 1:
        return (1, task.due_date, task.priority_rank, task.due_time or dt.time.max, task.title, str(task.pk))
    return (2, task.priority_rank, task.due_time or dt.time.max, task.title, str(task.pk))


def order_queue(tasks: list[Task], prerequisites: dict, *, later: list[str] = ()) -> list[Task]:
    """Order ``tasks`` (see the module docstring). ``prerequisites`` maps a task id to the ids of
    its open prerequisites; ``later`` holds ids put off for this visit (they go to the end, in the
    order they were put off, still after their own queued prerequisites)."""
    by_id = {task.pk: task for task in tasks}
    later_rank = {str(pk): index for index, pk in enumerate(later)}
    outside = {
        task.pk for task in tasks if any(p not in by_id for p in prerequisites.get(task.pk, ()))
    }  # blocked by work that is not in the queue
    for task in tasks:
        task.blocked_outside = task.pk in outside

    def key(task: Task) -> tuple:
        put_off = later_rank.get(str(task.pk))
        return (task.pk in outside, put_off is not None, put_off or 0, _base_order(task))

    waiting_on = {task.pk: {p for p in prerequisites.get(task.pk, ()) if p in by_id} for task in tasks}
    dependents: dict = {}
    for task_id, prereqs in waiting_on.items():
        for prereq in prereqs:
            dependents.setdefault(prereq, []).append(task_id)
    # A prerequisite is as urgent as the most urgent work waiting on it: an overdue task pulls
    # the task it waits for forward instead of sitting behind unrelated work.
    urgency = {task.pk: key(task) for task in tasks}
    changed = True
    for _ in range(len(tasks)):
        if not changed:
            break
        changed = False
        for task_id, prereqs in waiting_on.items():
            for prereq in prereqs:
                if urgency[task_id] < urgency[prereq]:
                    urgency[prereq] = urgency[task_id]
                    changed = True
    ready = [(urgency[task.pk], task.pk) for task in tasks if not waiting_on[task.pk]]
    heapq.heapify(ready)
    ordered: list[Task] = []
    while ready:
        _, task_id = heapq.heappop(ready)
        ordered.append(by_id[task_id])
        for dependent in dependents.get(task_id, ()):
            waiting_on[dependent].discard(task_id)
            if not waiting_on[dependent]:
                heapq.heappush(ready, (urgency[dependent], dependent))
    if len(ordered) < len(tasks):  # a cycle cannot be saved, but never lose a task over one
        placed = {task.pk for task in ordered}
        ordered += sorted((t for t in tasks if t.pk not in placed), key=key)
    return ordered


def resolved_today(*, user, today: dt.date) -> list[Task]:
    """Tasks resolved during ``today`` that are the user's: resolved by them (the history entry's
    author) or assigned to them. Each carries ``worked`` (started → completed, done work only)."""
    start, end = _day_bounds(today)
    resolved_by_user = TaskComment.objects.filter(
        task=OuterRef("pk"), author=user, to_status__in=RESOLVED_STATUSES, created_at__gte=start, created_at__lt=end
    )
    return list(
        with_resolved_at(Task.objects.filter(status__in=RESOLVED_STATUSES, archived_at__isnull=True))
        # Cheap necessary conditions first (a skip saves the task, so it was updated today), so
        # the exact instant below is worked out for today's few candidates, not every task.
        .filter(
            Q(status=TaskStatus.DONE, completed_at__gte=start, completed_at__lt=end)
            | Q(status=TaskStatus.SKIPPED, updated_at__gte=start)
        )
        .filter(resolved_at__gte=start, resolved_at__lt=end)
        .filter(Q(assignee=user) | Exists(resolved_by_user))
        .annotate(worked=duration_expression())
        .select_related("recurring_config", "run")
        .order_by("resolved_at", "pk")
    )


def streak(*, user, today: dt.date) -> int:
    """Consecutive days with work due (assigned to ``user``) all resolved by the end of that day,
    ending today or yesterday; days with nothing due are passed over. One query."""
    since = today - dt.timedelta(days=STREAK_LOOKBACK_DAYS)
    days = (
        with_resolved_at(Task.objects.filter(assignee=user, archived_at__isnull=True))
        .filter(due_date__gte=since, due_date__lte=today)
        .annotate(
            resolved_day=LocalDate("resolved_at", zone=_zone(), start=_day_bounds(since)[0], end=_day_bounds(today)[1])
        )
        .values("due_date")
        .annotate(due=Count("pk"), on_time=Count("pk", filter=Q(resolved_day__lte=F("due_date"))))
        .order_by("-due_date")
    )
    count = 0
    for row in days:
        complete = row["on_time"] == row["due"]
        if row["due_date"] == today and not complete:
            continue  # today is not over yet: it neither counts nor breaks the streak
        if not complete:
            break
        count += 1
    return count


def start_today(*, user, today: dt.date, later: list[str] = ()) -> TodayData:
    """Everything the Start today page and ``/api/v1/today/`` show, in a constant number of
    queries (queue, prerequisites, typical durations, resolved today, streak)."""
    tasks = list(queue_tasks(user=user, today=today))
    prerequisites: dict = {}
    if tasks:
        links = TaskDependency.objects.filter(
            task__in=[t.pk for t in tasks], depends_on__status__in=OPEN_STATUSES
        ).values_list("task_id", "depends_on_id")
        for task_id, prereq_id in links:
            prerequisites.setdefault(task_id, set()).add(prereq_id)
    known = {str(t.pk) for t in tasks}
    later = [pk for pk in later if pk in known]
    queue = order_queue(tasks, prerequisites, later=later)
    attach_typical_minutes(queue)
    done = resolved_today(user=user, today=today)
    return TodayData(date=today, queue=queue, resolved_today=done, streak=streak(user=user, today=today), later=later)
