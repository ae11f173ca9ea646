"""Operations Home (``docs/home.md``): the one selector behind ``/api/v1/home/`` and the HTML page.

For a date and a scope, each open task on Home lands in exactly one group, by precedence:

1. ``follow_ups_due``   — waiting, follow_up_at ≤ today (whatever the due date);
2. ``overdue``          — todo/in_progress, due before today;
3. ``missing_evidence`` — todo/in_progress, due today, a proof or run-link requirement unmet;
4. ``today``            — todo/in_progress, due today;
5. ``waiting``          — waiting, follow-up not yet due (its due date does not matter);
6. ``upcoming``         — todo/in_progress, due after today and within 7 days.

Tasks of paused or cancelled runs are not on Home (``Task.objects.on_home()``). Every number
here is computed in SQL, so the query count never depends on the amount of data: the groups
come from one query (a ``CASE`` gives each task its group, window functions give each group its
total and cut it at ``limit`` rows), then two prefetches for the missing-requirement names, one
query for the risk cards, one for their next due tasks and one for automation failures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Case, Count, F, IntegerField, Prefetch, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from workflows.errors import DomainError
from workflows.models import (
    ACTIONABLE_STATUSES,
    PRIORITY_RANK,
    Proof,
    Run,
    Task,
    TaskStatus,
)

HOME_GROUPS = ("follow_ups_due", "overdue", "missing_evidence", "today", "waiting", "upcoming")
EMPTY_STATES = {
    "follow_ups_due": "No follow-ups due",
    "overdue": "No overdue work",
    "missing_evidence": "No missing evidence",
    "today": "Nothing else due today",
    "waiting": "Nothing waiting",
    "upcoming": "Nothing due in the next 7 days",
    "automation_failures": "No automation failures",
    "runs": "No active workflow runs",
}
UPCOMING_DAYS = 7
#: Home looks ``UPCOMING_DAYS`` ahead; a later day would take that window off the calendar.
LAST_HOME_DATE = dt.date.max - dt.timedelta(days=UPCOMING_DAYS)
DEFAULT_GROUP_LIMIT = 100
SCOPES = ("all", "mine")


@dataclass
class HomeData:
    """What Operations Home shows for one day and scope. ``groups`` hold at most ``limit`` tasks
    each (``counts`` are the full totals); tasks carry ``home_group``, ``days_overdue``,
    ``is_blocked`` and ``evidence_missing``; runs carry their risk annotations and
    ``next_due_task``; failures carry ``attempts``."""

    date: dt.date
    scope: str
    limit: int
    groups: dict[str, list[Task]]
    counts: dict[str, int]
    runs: list[Run] = field(default_factory=list)
    automation_failures: list = field(default_factory=list)


def home_group_rank(today: dt.date) -> Case:
    """Home's precedence as one SQL expression: the index into ``HOME_GROUPS``, or NULL for an
    open task that belongs to no group (due more than 7 days ahead)."""
    actionable = Q(status__in=ACTIONABLE_STATUSES)
    waiting = Q(status=TaskStatus.WAITING)
    return Case(
        When(Task.objects.follow_ups_due_q(today), then=Value(0)),
        When(Task.objects.overdue_q(today), then=Value(1)),
        # Overdue work is taken above, so what is left of the rule is work due today.
        When(actionable & Task.objects.missing_evidence_q(today), then=Value(2)),
        When(actionable & Q(due_date=today), then=Value(3)),
        When(waiting, then=Value(4)),
        When(actionable & Q(due_date__lte=today + dt.timedelta(days=UPCOMING_DAYS)), then=Value(5)),
        default=None,
        output_field=IntegerField(),
    )


def _priority_rank() -> Case:
    return Case(
        *[When(priority=value, then=Value(rank)) for value, rank in PRIORITY_RANK.items()],
        default=Value(len(PRIORITY_RANK)),
        output_field=IntegerField(),
    )


def _within_group_order() -> list:
    """Waiting work by its follow-up date, everything else by due date; then priority and time."""
    sort_date = Case(When(status=TaskStatus.WAITING, then=F("follow_up_at")), default=F("due_date"))
    return [
        sort_date.asc(),
        _priority_rank().asc(),
        F("due_time").asc(nulls_last=True),
        F("title").asc(),
        F("id").asc(),
    ]


def home_tasks(*, today: dt.date, user=None, scope: str = "all") -> QuerySet:
    """Every task on Home for ``today`` annotated with ``home_rank`` (its group) and the flags of
    ``with_flags()``. Scope ``mine`` = assigned to ``user`` or to nobody (unassigned work is
    everyone's, as its notifications go to everyone)."""
    horizon = today + dt.timedelta(days=UPCOMING_DAYS)
    queryset = (
        Task.objects.on_home()
        # A cheap, indexable pre-filter; the CASE below decides the group.
        .filter(Q(status=TaskStatus.WAITING) | Q(due_date__lte=horizon))
        .with_flags()
        .annotate(home_rank=home_group_rank(today))
        .filter(home_rank__isnull=False)
    )
    if scope == "mine":
        queryset = queryset.filter(Q(assignee=user) | Q(assignee__isnull=True))
    return queryset


def home_groups(
    *, today: dt.date, user=None, scope: str = "all", limit: int = DEFAULT_GROUP_LIMIT
) -> tuple[dict[str, list[Task]], dict[str, int]]:
    """The six groups (each cut at ``limit`` tasks) and their full counts, in one query."""
    order = _within_group_order()
    rows = (
        home_tasks(today=today, user=user, scope=scope)
        .annotate(
            group_position=Window(RowNumber(), partition_by=[F("home_rank")], order_by=order),
            group_total=Window(Count("pk"), partition_by=[F("home_rank")]),
        )
        .filter(group_position__lte=limit)
        .select_related("assignee", "recurring_config", "run")
        .prefetch_related(Prefetch("proofs", queryset=Proof.objects.only("id", "task_id", "kind", "label")))
        .prefetch_related("required_run_links")
        .order_by("home_rank", *order)
    )
    groups: dict[str, list[Task]] = {name: [] for name in HOME_GROUPS}
    counts = dict.fromkeys(HOME_GROUPS, 0)
    if limit <= 0:
        # Nothing is listed, but the counts still matter (badges): count without cutting.
        totals = home_tasks(today=today, user=user, scope=scope).values("home_rank").annotate(n=Count("pk"))
        for row in totals.order_by():
            counts[HOME_GROUPS[row["home_rank"]]] = row["n"]
        return groups, counts
    for task in rows:
        name = HOME_GROUPS[task.home_rank]
        task.home_group = name
        task.days_overdue = task.overdue_days(today)
        groups[name].append(task)
        counts[name] = task.group_total
    return groups, counts


def risk_cards(*, today: dt.date) -> list[Run]:
    """Every active run with its risk (``Run.objects.with_risk``) and ``next_due_task`` loaded;
    at-risk runs first, then by their next due date and anchor date."""
    runs = list(Run.objects.active().with_risk(today).select_related("template").order_by("anchor_date", "title"))
    next_ids = {run.risk_next_due_task_id for run in runs if run.risk_next_due_task_id}
    next_tasks = Task.objects.select_related("assignee").in_bulk(next_ids) if next_ids else {}
    for run in runs:
        run.next_due_task = next_tasks.get(run.risk_next_due_task_id)
    far_future = dt.date.max
    runs.sort(
        key=lambda r: (
            not r.at_risk,
            r.next_due_task.due_date if r.next_due_task else far_future,
            r.anchor_date,
            r.title,
        )
    )
    return runs


def automation_failures() -> list:
    """Failed generation runs nobody acknowledged and no later success resolved, newest first.
    Retries of the same schedule and window are one failure: its latest attempt, with
    ``attempts`` counting them. Grouped in SQL (window functions), so one query returns one row
    per failure however many times it was retried."""
    from recurring.models import GenerationRun  # portal may import recurring

    # Retries share the failure's notification key; older rows without one fall back to
    # (schedule, window).
    unkeyed = Q(failure_key="")
    failure = [
        F("failure_key"),
        Case(When(unkeyed, then=F("recurring_config_id")), default=None),
        Case(When(unkeyed, then=F("template_id")), default=None),
        Case(When(unkeyed, then=F("failed_window")), default=None),
    ]
    newest_first = [F("started_at").desc(), F("id").asc()]
    failed = (
        GenerationRun.objects.needing_attention()
        .annotate(
            attempts=Window(Count("pk"), partition_by=failure),
            attempt_rank=Window(RowNumber(), partition_by=failure, order_by=newest_first),
        )
        .filter(attempt_rank=1)
        .select_related("recurring_config", "template")
        .order_by("-started_at", "id")
    )
    return list(failed)


def operations_home(*, today: dt.date, user=None, scope: str = "all", limit: int = DEFAULT_GROUP_LIMIT) -> HomeData:
    """Everything Operations Home shows for ``today`` and ``scope`` (``all`` or ``mine``).
    Risk cards and automation failures are the team's, whatever the scope."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    if today > LAST_HOME_DATE:
        raise DomainError(
            "validation_error",
            f"Home looks a week ahead, so the last date it can show is {LAST_HOME_DATE.isoformat()}.",
            field="date",
        )
    groups, counts = home_groups(today=today, user=user, scope=scope, limit=limit)
    return HomeData(
        date=today,
        scope=scope,
        limit=limit,
        groups=groups,
        counts=counts,
        runs=risk_cards(today=today),
        automation_failures=automation_failures(),
    )
