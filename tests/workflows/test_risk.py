"""Workflow risk cards (``docs/home.md``): one annotated query, whatever the number of runs."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import launch_result, make_template, spec, task_of
from workflows.models import Run, RunStatus, Task, TaskDependency, TaskSource, TaskStatus, WorkflowTemplate, add_proof

pytestmark = pytest.mark.django_db

TODAY = dt.date(2028, 2, 10)


def risk_of(run: Run, today: dt.date = TODAY) -> dict:
    return Run.objects.with_risk(today).get(pk=run.pk).risk()


@pytest.fixture
def run():
    """Tasks around TODAY (2028-02-10), anchor 2028-02-12:
    late       todo, due 02-07                        → overdue
    chasing    waiting, follow-up 02-09 (past)         → waiting + follow-up due
    patient    waiting, follow-up 02-20, due 02-10,
               needs a note                            → waiting + missing evidence
    proofless  in progress, due 02-10, needs a file    → missing evidence
    later      todo, due 02-12, needs a file           → nothing (not due yet)
    blocked    todo, due 02-08, depends on late        → overdue + blocked
    finished   done, due 02-05                         → resolved
    """
    template = make_template(
        spec("late", offset_days=-5),
        spec("chasing", offset_days=-1),
        spec("patient", offset_days=-2, requires_proof_note=True),
        spec("proofless", offset_days=-2, requires_file=True),
        spec("later", offset_days=0, requires_file=True),
        spec("blocked", offset_days=-4, depends_on=["late"]),
        spec("finished", offset_days=-7),
    )
    run = launch_result(template, dt.date(2028, 2, 12)).run
    task_of(run, "chasing").mark_waiting(waiting_for="Sponsor", follow_up_at=dt.date(2028, 2, 9), note="Asked")
    task_of(run, "patient").mark_waiting(waiting_for="Printer", follow_up_at=dt.date(2028, 2, 20), note="Asked")
    task_of(run, "proofless").start()
    task_of(run, "finished").complete()
    return run


def test_risk_counts_progress_next_due_and_flag(run):
    risk = risk_of(run)
    assert risk == {
        "overdue": 2,
        "waiting": 2,
        "follow_ups_due": 1,
        "missing_evidence": 2,
        "blocked": 1,
        "next_due_task": task_of(run, "late").pk,
        "at_risk": True,
        "progress": {"resolved": 1, "total": 7},
    }


def test_the_next_due_task_is_the_earliest_open_unblocked_one(run):
    task_of(run, "late").skip(reason="Not needed")
    # blocked (02-08) is unblocked now and is the earliest open task.
    assert risk_of(run)["next_due_task"] == task_of(run, "blocked").pk
    task_of(run, "blocked").complete()
    # patient and proofless are both due 02-10; waiting work is open work, ties go by title.
    assert risk_of(run)["next_due_task"] == task_of(run, "patient").pk


def test_evidence_and_follow_ups_stop_counting_when_handled(run):
    add_proof(task_of(run, "patient"), kind="note", note="Proof printed")
    task_of(run, "chasing").follow_up_sent(note="Called", next_follow_up_at=dt.date(2028, 2, 15))
    risk = risk_of(run)
    assert (risk["missing_evidence"], risk["follow_ups_due"], risk["waiting"]) == (1, 0, 2)


def test_a_run_link_requirement_counts_as_missing_evidence():
    template = make_template(
        spec("send", requires_run_links=["Mailchimp newsletter"]), run_links=("Mailchimp newsletter",)
    )
    run = launch_result(template, TODAY).run
    assert risk_of(run)["missing_evidence"] == 1
    run.fill_link(name="Mailchimp newsletter", url="https://mailchi.mp/acme/feb")
    assert risk_of(run)["missing_evidence"] == 0


def test_a_run_with_only_waiting_and_blocked_work_is_not_at_risk():
    template = make_template(spec("ask", offset_days=5), spec("use", offset_days=6, depends_on=["ask"]))
    run = launch_result(template, TODAY).run
    task_of(run, "ask").mark_waiting(waiting_for="Sponsor", follow_up_at=dt.date(2028, 2, 12), note="Asked")
    risk = risk_of(run)
    assert (risk["waiting"], risk["blocked"], risk["at_risk"], risk["next_due_task"]) == (
        1,
        1,
        False,
        task_of(run, "ask").pk,
    )


def test_archived_tasks_do_not_count(run):
    task_of(run, "late").archive()
    risk = risk_of(run)
    assert risk["progress"] == {"resolved": 1, "total": 6}
    assert risk["overdue"] == 1


def test_a_run_without_open_tasks_has_no_next_due_task():
    template = make_template(spec("a"))
    run = launch_result(template, TODAY).run
    task_of(run, "a").complete()
    risk = risk_of(run)
    assert (risk["next_due_task"], risk["at_risk"], risk["progress"]) == (None, False, {"resolved": 1, "total": 1})


def test_risk_depends_on_the_day_it_is_asked_for(run):
    earlier = risk_of(run, dt.date(2028, 2, 1))
    assert (earlier["overdue"], earlier["follow_ups_due"], earlier["missing_evidence"], earlier["at_risk"]) == (
        0,
        0,
        0,
        False,
    )


# ---- constant query count ------------------------------------------------------------------------------


def build_runs(template: WorkflowTemplate, count: int) -> None:
    """``count`` active runs with five tasks each (one overdue, one waiting, one blocked, one
    missing evidence, one done), written in bulk so 300 runs take a moment, not a minute."""
    runs = Run.objects.bulk_create(
        Run(template=template, anchor_date=dt.date(2020, 1, 1) + dt.timedelta(days=i), title=f"Run {i}")
        for i in range(count)
    )
    tasks, edges = [], []

    def task(run, ref, **values):
        values.setdefault("due_date", TODAY)
        made = Task(run=run, source=TaskSource.TEMPLATE, template_task_ref=ref, title=ref, **values)
        tasks.append(made)
        return made

    for run in runs:
        first = task(run, "late", due_date=dt.date(2028, 2, 1))
        task(run, "wait", status=TaskStatus.WAITING, waiting_for="Sponsor", follow_up_at=dt.date(2028, 2, 9))
        edges.append(TaskDependency(task=task(run, "blocked"), depends_on=first))
        task(run, "proof", requires_file=True)
        task(run, "done", status=TaskStatus.DONE, completed_at=dt.datetime(2028, 2, 1, tzinfo=dt.UTC))
    Task.objects.bulk_create(tasks)
    TaskDependency.objects.bulk_create(edges)


def risk_cards() -> list[dict]:
    return [run.risk() for run in Run.objects.active().with_risk(TODAY).order_by("anchor_date")]


@pytest.mark.parametrize("count", [3, 300])
def test_risk_of_every_active_run_takes_one_query(count, django_assert_num_queries):
    template = make_template(spec("a"))
    build_runs(template, count)
    with django_assert_num_queries(1):
        cards = risk_cards()
    assert len(cards) == count
    expected = {
        "overdue": 1,
        "waiting": 1,
        "follow_ups_due": 1,
        "missing_evidence": 1,
        "blocked": 1,
        "at_risk": True,
        "progress": {"resolved": 1, "total": 5},
    }
    assert [{k: v for k, v in card.items() if k != "next_due_task"} for card in cards] == [expected] * count
    late = dict(Task.objects.filter(template_task_ref="late").values_list("run__anchor_date", "pk"))
    assert [card["next_due_task"] for card in cards] == [late[day] for day in sorted(late)]


def test_only_active_runs_are_listed():
    template = make_template(spec("a"))
    active, paused, cancelled = (launch_result(template, TODAY + dt.timedelta(days=d)).run for d in range(3))
    paused.pause()
    cancelled.cancel(reason="Dropped")
    assert [run.pk for run in Run.objects.active().with_risk(TODAY)] == [active.pk]
    assert Run.objects.get(pk=paused.pk).status == RunStatus.PAUSED
