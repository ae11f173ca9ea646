"""Operations Home (``docs/home.md``): the one selector behind ``/api/v1/home/`` and the HTML page.

For a date and a scope, each open task on Home lands in exactly one group, by precedence:

1. ``follow_ups_due``   — waiting, follow_up_at ≤ today (whatever the due date);
2. ``overdue``          — todo/in_progress, due before today;
3. ``missing_evidence`` — todo/in_progress, due today, a proof or run-link requirement unmet;
4. ``today``            — todo/in_progress, due today;
5. ``waiting``          — waiting, follow-up not yet due (its due date does not matter);
6. ``upcoming``         — todo/in_progress, due after today and within 7 days.

Tasks of paused or cancelled runs are not on Home (``Task.objects.on_home()``). Every number
here is computed in SQL, so the query count never depends on the amount of data: every group is
one range of an index led by ``Task.home_state``; one query counts every group's range
(``UNION ALL``), then each group's first ``limit`` rows come from a query of their own
(``ORDER BY … LIMIT`` along the group's range, never a ranking of every open task), then three
prefetches (proofs, run links, prerequisites: the rows' flags and missing-requirement names),
the risk cards (see :func:`risk_cards`) and one query for automation failures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Count,
    F,
    Q,
    QuerySet,
    Value,
    When,
    Window,
    prefetch_related_objects,
)
from django.db.models.functions import RowNumber

from workflows.filters import TASK_SCOPES
from workflows.inputs import check_date
from workflows.models import (
    HOME_GROUPS,
    HOME_ORDER_WITHIN_DATE,
    Run,
    Task,
)

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
#: Rows per group in ``GET /api/v1/home/`` unless ``limit`` says otherwise (counts are always
#: complete; ``GET /api/v1/tasks/?group=…`` pages through a whole group).
DEFAULT_GROUP_LIMIT = 25
SCOPES = TASK_SCOPES


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
    run_count: int = 0
    at_risk_count: int = 0


#: What a Home row (page and API) reads of a task and its related rows: only these are loaded.
HOME_ROW_FIELDS = (
    *("title", "status", "priority", "due_date", "due_time", "area", "source", "stage", "waiting_for"),
    *("follow_up_at", "requires_link", "requires_file", "requires_proof_note", "estimate_minutes"),
    *("template_task_ref", "assignee", "recurring_config", "run"),
    *("assignee__username", "recurring_config__title", "run__title", "run__status", "run__template"),
)


#: What a risk card shows of its run's next due task.
NEXT_DUE_FIELDS = ("title", "due_date", "status", "assignee")

#: Groups of waiting work, ordered by their follow-up date; the others by their due date.
FOLLOW_UP_ORDERED = ("follow_ups_due", "waiting")


def within_group_order(name: str) -> list[str]:
    """Waiting work by its follow-up date, everything else by due date; then priority, timed
    work first by its time, title (``HOME_ORDER_WITHIN_DATE``). That is the order of the
    group's index (``task_home_due``, ``task_home_follow_up``), so a group's first rows are read
    from the index, never sorted."""
    sort_date = "follow_up_at" if name in FOLLOW_UP_ORDERED else "due_date"
    return [sort_date, *HOME_ORDER_WITHIN_DATE]


def home_group_tasks(name: str, *, today: dt.date, user=None, scope: str = "all") -> QuerySet:
    """One Home group's tasks, in the group's order, with the related rows a row shows. Slice
    it: ``ORDER BY … LIMIT`` reads the group's first rows along its index (``task_home_due``,
    ``task_home_follow_up``), which holds the whole order. The task list page and
    ``/api/v1/tasks/?group=`` filter with the same rule (``Task.objects.in_home_group``)."""
    return (
        Task.objects.in_home_group(name, today)
        .in_scope(scope, user)
        .select_related("assignee", "recurring_config", "run")
        .only(*HOME_ROW_FIELDS)
        .order_by(*within_group_order(name))
    )


def home_group_counts(*, today: dt.date, user=None, scope: str = "all") -> dict[str, int]:
    """Every group's full total, in one query: a ``COUNT`` per group, joined with ``UNION ALL``,
    each counting one range of the group's index (its home state and date), so no task outside
    the group is looked at. Work due today is counted whole and with missing evidence; the
    ``today`` group is the difference (the two groups split it), so the evidence rule runs
    once per task due today."""
    conditions = {name: Task.objects.home_group_q(name, today) for name in HOME_GROUPS if name != "today"}
    conditions["due_today"] = Task.objects.home_due_today_q(today)
    parts = [
        Task.objects.on_home()
        .filter(condition)
        .in_scope(scope, user)
        .order_by()
        .values(part=Value(name))
        .annotate(n=Count("*"))
        for name, condition in conditions.items()
    ]
    totals = dict(parts[0].union(*parts[1:], all=True).values_list("part", "n"))
    counts = {name: totals.get(name, 0) for name in HOME_GROUPS}
    counts["today"] = totals.get("due_today", 0) - counts["missing_evidence"]
    return counts


def home_groups(
    *, today: dt.date, user=None, scope: str = "all", limit: int = DEFAULT_GROUP_LIMIT
) -> tuple[dict[str, list[Task]], dict[str, int]]:
    """The six groups (each cut at ``limit`` tasks) and their full counts: one query for the
    counts, then one ``ORDER BY … LIMIT`` query per group (empty or not), then the proofs, run links and
    prerequisites of all rows at once (three prefetches, from which ``is_blocked`` and
    ``evidence_missing`` are read by the rules of ``Task``; none when no group lists a row) —
    ten queries whatever the amount of data."""
    counts = home_group_counts(today=today, user=user, scope=scope)
    groups: dict[str, list[Task]] = {name: [] for name in HOME_GROUPS}
    if limit <= 0:
        # Nothing is listed, but the counts still matter (badges).
        return groups, counts
    rows: list[Task] = []
    for name in HOME_GROUPS:
        # Every group is read, even one counted empty, so the number of queries never depends
        # on which groups hold work (an empty group's read is an empty index range).
        for task in home_group_tasks(name, today=today, user=user, scope=scope)[:limit]:
            task.home_group = name
            task.days_overdue = task.overdue_days(today)
            groups[name].append(task)
            rows.append(task)
    prefetch_related_objects(rows, *Task.objects.listing_prefetches())
    for task in rows:
        # The same rules as with_flags(), read from the prefetched rows.
        task.is_blocked = bool(task.open_prerequisites())
        task.evidence_missing = bool(task.missing_requirements())
    return groups, counts


def risk_cards(*, today: dt.date, limit: int | None = None) -> tuple[list[Run], int, int]:
    """The risk cards of active runs, at-risk first, then by their next due task's date, anchor
    date and title (``Run.objects.risk_ordered``): the first ``limit`` of them (every one when
    ``limit`` is None) with their risk counts (``Run.objects.with_risk_counts``), ``at_risk`` and ``next_due_task``
    loaded, plus the number of active runs and of at-risk ones. With a limit, the runs are
    ranked first and only the shown ones have their work counted (three queries); without, every
    run is counted and ordered in one query (at risk read from the counts), then their next due
    tasks loaded (two)."""
    if limit is None:
        # Every run's work is counted, so whether a run is at risk is read from its counts
        # instead of being tested again in SQL; at-risk runs then go first (a stable sort keeps
        # the rest of the order).
        runs = list(Run.objects.active().with_risk_counts(today).by_next_due_date().select_related("template"))
        for run in runs:
            run.at_risk = run.at_risk_by_counts()
        runs.sort(key=lambda run: not run.at_risk)
        total, at_risk = len(runs), sum(1 for run in runs if run.at_risk)
    else:
        order = list(Run.objects.active().risk_ordered(today).values_list("pk", "at_risk"))
        total, at_risk = len(order), sum(1 for _, risky in order if risky)
        position = {pk: index for index, (pk, _) in enumerate(order[:limit])}
        at_risk_of = dict(order[:limit])
        # The ranking has just decided which of them are at risk: only their work is counted.
        shown = Run.objects.filter(pk__in=list(position)).with_risk_counts(today).select_related("template")
        runs = sorted(shown, key=lambda run: position[run.pk])
        for run in runs:
            run.at_risk = at_risk_of[run.pk]
    next_ids = {run.risk_next_due_task_id for run in runs if run.risk_next_due_task_id}
    # What a card says of its next task (Home's card, the API's ``next_due_task``): only that.
    next_tasks = Task.objects.select_related("assignee").only(*NEXT_DUE_FIELDS, "assignee__username").in_bulk(next_ids)
    for run in runs:
        run.next_due_task = next_tasks.get(run.risk_next_due_task_id)
    return runs, total, at_risk


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


def operations_home(
    *,
    today: dt.date,
    user=None,
    scope: str = "all",
    limit: int = DEFAULT_GROUP_LIMIT,
    cards: int | None = None,
) -> HomeData:
    """Everything Operations Home shows for ``today`` and ``scope`` (``all`` or ``mine``): the
    groups (each cut at ``limit`` rows) and the first ``cards`` risk cards (all when None).
    Risk cards and automation failures are the team's, whatever the scope."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    # Home's days are the portal's calendar (its week ahead is plain date arithmetic, far from
    # date.max); the page and the API refuse other days before they get here.
    check_date(today, "date")
    groups, counts = home_groups(today=today, user=user, scope=scope, limit=limit)
    runs, run_count, at_risk_count = risk_cards(today=today, limit=cards)
    return HomeData(
        date=today,
        scope=scope,
        limit=limit,
        groups=groups,
        counts=counts,
        runs=runs,
        automation_failures=automation_failures(),
        run_count=run_count,
        at_risk_count=at_risk_count,
    )
