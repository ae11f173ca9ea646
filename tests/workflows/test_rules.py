"""Each attention rule has one definition (a QuerySet condition with the matching model method)
and every layer — run risk, Operations Home, the scanner, the admin — answers with it."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from notifications.models import Notification, NotificationType
from notifications.scanner import scan
from portal.selectors import home_group_tasks, home_groups, risk_cards
from tests.factories import ProofFactory, RunFactory, TaskFactory
from workflows.models import HOME_GROUPS, HomeState, Priority, ProofKind, Run, Task, TaskSource, TaskStatus

pytestmark = pytest.mark.django_db

TODAY = dt.date(2028, 2, 9)
YESTERDAY, TOMORROW = TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1)
NOON = dt.datetime(2028, 2, 9, 12, tzinfo=dt.UTC)


def task(status: str, due: dt.date, **values) -> Task:
    extra: dict = {}
    if status == TaskStatus.WAITING:
        extra = {"waiting_for": "Sponsor reply", "follow_up_at": TOMORROW}
    elif status == TaskStatus.DONE:
        extra = {"completed_at": NOON}
    return TaskFactory(status=status, due_date=due, **{"title": f"{status} due {due}", **extra, **values})


def grid(**values) -> list[Task]:
    """One task per status and due date (yesterday, today, tomorrow)."""
    return [
        task(status, due, **values)
        for status, due in itertools.product(TaskStatus.values, (YESTERDAY, TODAY, TOMORROW))
    ]


def titles(tasks) -> set[str]:
    return {t.title for t in tasks}


def test_overdue_is_todo_or_in_progress_due_before_today_and_never_waiting_work():
    tasks = grid()
    expected = {"todo due 2028-02-08", "in_progress due 2028-02-08"}
    assert titles(Task.objects.overdue(TODAY)) == expected
    assert titles(t for t in tasks if t.is_overdue(TODAY)) == expected
    assert {t.title: t.overdue_days(TODAY) for t in tasks if t.overdue_days(TODAY)} == dict.fromkeys(expected, 1)


def test_follow_up_due_is_waiting_work_whose_follow_up_date_has_come_whatever_its_due_date():
    waiting = [
        task(TaskStatus.WAITING, TOMORROW, follow_up_at=follow_up, title=f"follow up {follow_up}")
        for follow_up in (YESTERDAY, TODAY, TOMORROW)
    ]
    others = grid(follow_up_at=YESTERDAY)  # a follow-up date on work that is not waiting is not due
    expected = {"follow up 2028-02-08", "follow up 2028-02-09"} | {
        f"waiting due {due}" for due in (YESTERDAY, TODAY, TOMORROW)
    }
    assert titles(Task.objects.follow_ups_due(TODAY)) == expected
    assert titles(t for t in waiting + others if t.is_follow_up_due(TODAY)) == expected


def test_missing_evidence_is_open_work_due_today_or_earlier_with_a_requirement_unmet():
    tasks = grid(requires_file=True)
    proven = task(TaskStatus.TODO, TODAY, requires_file=True, title="proven")
    ProofFactory(task=proven, kind=ProofKind.NOTE)  # the wrong kind of proof meets nothing
    ProofFactory(task=task(TaskStatus.TODO, TODAY, requires_proof_note=True, title="noted"), kind=ProofKind.NOTE)
    task(TaskStatus.TODO, YESTERDAY, title="no requirement")
    expected = {
        f"{status} due {due}"
        for status in (TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.WAITING)
        for due in (YESTERDAY, TODAY)
    } | {"proven"}
    assert titles(Task.objects.missing_evidence(TODAY)) == expected
    assert titles(Task.objects.with_flags().missing_evidence(TODAY)) == expected
    # The model method agrees, from the SQL flag and, without it, from the proofs themselves.
    assert titles(t for t in Task.objects.with_flags() if t.is_missing_evidence(TODAY)) == expected
    assert titles(t for t in Task.objects.all() if t.is_missing_evidence(TODAY)) == expected
    assert len(tasks) == 15


def run_with(*tasks: dict) -> Run:
    run = RunFactory()
    for number, values in enumerate(tasks):
        status = values.pop("status", TaskStatus.TODO)
        task(
            status,
            values.pop("due", TOMORROW),
            run=run,
            source=TaskSource.TEMPLATE,
            template_task_ref=f"t{number}",
            **values,
        )
    return run


@pytest.fixture
def runs() -> dict[str, Run]:
    return {
        "overdue": run_with({"due": YESTERDAY}),
        "follow-up due": run_with({"status": TaskStatus.WAITING, "follow_up_at": TODAY}),
        "missing evidence": run_with({"due": TODAY, "requires_file": True}),
        "waiting": run_with({"status": TaskStatus.WAITING, "follow_up_at": TOMORROW, "due": YESTERDAY}),
        "evidence not yet due": run_with({"due": TOMORROW, "requires_file": True}),
        "done late": run_with({"status": TaskStatus.DONE, "due": YESTERDAY}),
    }


AT_RISK = {"overdue", "follow-up due", "missing evidence"}


def test_a_run_is_at_risk_with_overdue_work_a_follow_up_due_or_missing_evidence(runs):
    names = {run.pk: name for name, run in runs.items()}
    annotated = Run.objects.with_risk(TODAY)
    assert {names[r.pk] for r in annotated.at_risk()} == AT_RISK
    assert {names[r.pk] for r in annotated.on_track()} == set(runs) - AT_RISK
    assert {names[r.pk] for r in annotated if r.risk()["at_risk"]} == AT_RISK
    assert {names[r.pk] for r in risk_cards(today=TODAY)[0] if r.at_risk} == AT_RISK
    assert {names[r.pk] for r in Run.objects.with_risk_counts(TODAY) if r.at_risk_by_counts()} == AT_RISK


def test_every_risk_card_and_the_first_few_come_in_the_same_order_with_the_same_risk(runs):
    """All cards (at risk read from the counts) and the first few (ranked in SQL) agree."""
    every, total, at_risk = risk_cards(today=TODAY)
    assert (total, at_risk) == (len(runs), len(AT_RISK))
    assert [r.at_risk for r in every] == sorted((r.at_risk for r in every), reverse=True)
    ranked = list(Run.objects.active().risk_ordered(TODAY).values_list("pk", "at_risk"))
    assert [(r.pk, r.at_risk) for r in every] == ranked
    for limit in (1, 3, len(runs)):
        first, *counts = risk_cards(today=TODAY, limit=limit)
        assert [(r.pk, r.at_risk, r.risk()) for r in first] == [(r.pk, r.at_risk, r.risk()) for r in every[:limit]]
        assert counts == [total, at_risk]


def test_the_admin_risk_filter_lists_the_runs_at_risk(client, admin_user, runs):
    names = {run.pk: name for name, run in runs.items()}
    url = reverse("admin:workflows_run_changelist")
    with time_machine.travel(NOON):
        client.force_login(admin_user)
        at_risk = client.get(url, {"risk": "at_risk"}).context["cl"].result_list
        on_track = client.get(url, {"risk": "on_track"}).context["cl"].result_list
    assert {names[r.pk] for r in at_risk} == AT_RISK
    assert {names[r.pk] for r in on_track} == set(runs) - AT_RISK


def test_run_risk_counts_use_the_task_rules(runs):
    risk = {name: Run.objects.with_risk(TODAY).get(pk=run.pk).risk() for name, run in runs.items()}
    assert [
        risk["overdue"]["overdue"],
        risk["follow-up due"]["follow_ups_due"],
        risk["missing evidence"]["missing_evidence"],
    ] == [1, 1, 1]
    assert risk["waiting"]["overdue"] == 0  # waiting work is never overdue
    assert risk["evidence not yet due"]["missing_evidence"] == 0


def test_the_admin_missing_evidence_filter_agrees_with_home(client, admin_user):
    """A requirement on work not yet due is no alarm anywhere; work due today with a requirement
    unmet is on Home's missing-evidence group and in the admin's filter, and what else the
    admin lists is overdue or follow-up-due work that Home ranks higher."""
    due_today = task(TaskStatus.TODO, TODAY, requires_file=True, title="due today")
    overdue = task(TaskStatus.IN_PROGRESS, YESTERDAY, requires_file=True, title="overdue")
    task(TaskStatus.TODO, TOMORROW, requires_file=True, title="due tomorrow")
    task(TaskStatus.TODO, TODAY, title="nothing required")
    url = reverse("admin:workflows_task_changelist")
    with time_machine.travel(NOON):
        client.force_login(admin_user)
        listed = client.get(url, {"attention": "missing_evidence"}).context["cl"].result_list
        flags = {t.title: t for t in client.get(url).context["cl"].result_list}
    groups, counts = home_groups(today=TODAY)
    assert titles(groups["missing_evidence"]) == {"due today"}
    assert titles(listed) == {"due today", "overdue"}
    assert titles(groups["overdue"]) == {"overdue"}
    assert titles(listed) == titles(Task.objects.missing_evidence(TODAY))
    model_admin_flags = {title: t.is_missing_evidence(TODAY) for title, t in flags.items()}
    assert model_admin_flags == {"due today": True, "overdue": True, "due tomorrow": False, "nothing required": False}
    assert due_today.pk and overdue.pk


def test_the_scanner_raises_missing_evidence_for_exactly_the_rule(operator):
    task(TaskStatus.TODO, TODAY, requires_file=True, title="due today", assignee=operator)
    task(TaskStatus.WAITING, YESTERDAY, requires_file=True, title="waiting", assignee=operator)
    task(TaskStatus.TODO, TOMORROW, requires_file=True, title="due tomorrow", assignee=operator)
    scan(NOON)
    raised = Notification.objects.filter(type=NotificationType.MISSING_EVIDENCE)
    assert titles(n.task for n in raised) == titles(Task.objects.missing_evidence(TODAY)) == {"due today", "waiting"}


def test_home_state_is_the_open_unarchived_status_kept_by_the_database_through_bulk_writes():
    tasks = grid()
    archived = task(TaskStatus.TODO, TODAY, title="archived")
    Task.objects.filter(pk=archived.pk).update(archived_at=NOON)
    expected = {
        TaskStatus.TODO: HomeState.ACTIONABLE,
        TaskStatus.IN_PROGRESS: HomeState.ACTIONABLE,
        TaskStatus.WAITING: HomeState.WAITING,
        TaskStatus.DONE: None,
        TaskStatus.SKIPPED: None,
    }
    states = dict(Task.objects.values_list("pk", "home_state"))
    for t in tasks:
        assert states[t.pk] == expected[t.status], t.title
    assert states[archived.pk] is None
    # Bulk updates that skip every model method still move the state (the database computes it).
    Task.objects.filter(pk=archived.pk).update(archived_at=None)
    assert Task.objects.get(pk=archived.pk).home_state == HomeState.ACTIONABLE
    Task.objects.filter(status=TaskStatus.TODO).update(status=TaskStatus.SKIPPED)
    assert not Task.objects.filter(status=TaskStatus.SKIPPED, home_state__isnull=False).exists()
    assert Task.objects.get(pk=archived.pk).home_state is None


def test_home_rank_is_priority_then_timed_work_first_kept_by_the_database_through_bulk_writes():
    priorities = [Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW]
    ranks = {
        (priority, time): 2 * place + (time is None)
        for place, priority in enumerate(priorities)
        for time in (dt.time(9), None)
    }
    assert sorted(ranks.values()) == list(range(8))
    made = {key: task(TaskStatus.TODO, TODAY, priority=key[0], due_time=key[1]).pk for key in ranks}
    stored = dict(Task.objects.values_list("pk", "home_rank"))
    assert {key: stored[pk] for key, pk in made.items()} == ranks
    # Bulk updates that skip every model method still move the rank (the database computes it).
    urgent_timed = made[(Priority.URGENT, dt.time(9))]
    Task.objects.filter(pk=urgent_timed).update(due_time=None)
    assert Task.objects.get(pk=urgent_timed).home_rank == 1
    Task.objects.filter(pk=urgent_timed).update(priority=Priority.LOW, due_time=dt.time(7))
    assert Task.objects.get(pk=urgent_timed).home_rank == 6


@pytest.mark.parametrize("scope", ["all", "mine"])
def test_each_home_group_is_read_in_the_order_of_its_index_never_sorted(scope, operator):
    """Home's order within a group (date, then ``HOME_ORDER_WITHIN_DATE``) is the order of the
    group's index, so its first rows are read along the index however large the group is. Sorting
    is made prohibitively expensive on PostgreSQL, so a plan without a sort proves the index
    gives the order (with a handful of rows the planner would rather sort)."""
    grid()
    for name in HOME_GROUPS:
        sql, params = home_group_tasks(name, today=TODAY, user=operator, scope=scope)[:25].query.sql_with_params()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL enable_sort = off")
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("EXPLAIN " + sql, params)
                plan = [row[0] for row in cursor.fetchall()]
                assert not [line for line in plan if "Sort" in line], (name, plan)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                plan = [row[-1] for row in cursor.fetchall()]
                assert not [line for line in plan if "TEMP B-TREE" in line], (name, plan)
            assert [line for line in plan if "task_home_" in line], (name, plan)


def test_each_home_group_is_the_rule_it_is_named_after_among_open_unarchived_work():
    """The groups read ``home_state``; written with the rules' own status conditions they list
    the same tasks (and together every open task due within the week, each once)."""
    tasks = grid() + grid(requires_proof_note=True) + [task(TaskStatus.TODO, TODAY + dt.timedelta(days=9))]
    for t in tasks:
        if t.status == TaskStatus.WAITING:
            t.follow_up_at = YESTERDAY if "due 2028-02-08" in t.title else TOMORROW
            t.save(update_fields=["follow_up_at"])
    open_work = Task.objects.open().not_archived()
    upcoming = {"due_date__gt": TODAY, "due_date__lte": TODAY + dt.timedelta(days=7)}
    by_rule = {
        "follow_ups_due": open_work.follow_ups_due(TODAY),
        "overdue": open_work.overdue(TODAY),
        "missing_evidence": open_work.actionable().missing_evidence(TODAY).filter(due_date=TODAY),
        "today": open_work.actionable().filter(due_date=TODAY).exclude(Task.objects.evidence_missing_q()),
        "waiting": open_work.filter(status=TaskStatus.WAITING, follow_up_at__gt=TODAY),
        "upcoming": open_work.actionable().filter(**upcoming),
    }
    seen = []
    for name, expected in by_rule.items():
        listed = set(Task.objects.in_home_group(name, TODAY).values_list("pk", flat=True))
        assert listed == set(expected.values_list("pk", flat=True)), name
        assert listed, name  # the grid puts work in every group
        seen += listed
    assert len(seen) == len(set(seen))
