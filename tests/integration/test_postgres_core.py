"""The work engine on PostgreSQL: the core model tests again, and real concurrency.

``test_core_and_integration_tests_pass_on_postgresql`` runs in the normal session and drives the
PostgreSQL pass (see ``conftest.py``); the other tests here run inside that pass, where the
database really lets two transactions race.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tests.conftest import services_required
from tests.integration.conftest import run_postgres_pass
from workflows.models import Run, Task, TaskDependency
from workflows.services import RunResult, instantiate_run, save_template

pytestmark = pytest.mark.integration

# The core model test modules, run a second time on PostgreSQL, and every test of this folder.
CORE_MODULES = [
    "tests/workflows/test_tasks.py",
    "tests/workflows/test_runs.py",
    "tests/workflows/test_risk.py",
    # The attention rules and Home's groups, read from a column the database computes.
    "tests/workflows/test_rules.py",
    # Calendar arithmetic is written per database: Start today, Insights and their SQL.
    "tests/test_calendar_sql.py",
    "tests/test_start_today.py",
    "tests/test_insights.py",
]
POSTGRES_PASS = [*CORE_MODULES, "tests/integration"]
ANCHOR = dt.date(2029, 1, 9)


@pytest.mark.pg_pass_driver
def test_core_and_integration_tests_pass_on_postgresql(postgres_available):
    result = run_postgres_pass(POSTGRES_PASS)

    tail = result.output[-8000:]
    assert result.returncode == 0, f"The PostgreSQL pass failed (exit status {result.returncode}):\n{tail}"
    assert result.counts.get("passed", 0) > 0, f"The PostgreSQL pass ran no test:\n{tail}"
    if services_required():
        assert not result.counts.get("skipped"), f"CI requires every service, yet tests were skipped:\n{tail}"


# ---- inside the PostgreSQL pass ----------------------------------------------------------


def _newsletter_template():
    return save_template(
        data={"name": "Newsletter", "stages": ["draft", "review"]},
        tasks=[
            {"ref": "collect", "title": "Collect items", "stage": "draft", "offset_days": -6},
            {"ref": "write", "title": "Write draft", "stage": "draft", "offset_days": -4, "depends_on": ["collect"]},
            {"ref": "review", "title": "Review", "stage": "review", "offset_days": -2, "depends_on": ["write"]},
        ],
    )


def _race(calls: int, template) -> list[RunResult]:
    """``calls`` threads, each with its own database connection, call instantiate_run at once."""
    barrier = threading.Barrier(calls)

    def launch() -> RunResult:
        try:
            barrier.wait(timeout=10)
            return instantiate_run(template=template, anchor_date=ANCHOR)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=calls) as pool:
        futures = [pool.submit(launch) for _ in range(calls)]
        return [future.result(timeout=60) for future in futures]


@pytest.mark.django_db(transaction=True)
def test_concurrent_instantiate_run_creates_one_run_with_one_set_of_tasks():
    template = _newsletter_template()

    results = _race(4, template)

    assert Run.objects.filter(template=template, anchor_date=ANCHOR).count() == 1
    assert len({result.run.pk for result in results}) == 1
    assert sorted(result.created for result in results) == [False, False, False, True]
    tasks = Task.objects.filter(run__template=template)
    assert sorted(tasks.values_list("template_task_ref", flat=True)) == ["collect", "review", "write"]
    assert TaskDependency.objects.filter(task__run__template=template).count() == 2
    assert all(result.recovered == 0 for result in results)


@pytest.mark.django_db(transaction=True)
def test_concurrent_top_ups_restore_each_missing_task_once():
    template = _newsletter_template()
    run = instantiate_run(template=template, anchor_date=ANCHOR).run
    Task.objects.filter(run=run, template_task_ref__in=["write", "review"]).delete()

    results = _race(4, template)

    assert sum(result.recovered for result in results) == 2
    assert not any(result.created for result in results)
    refs = list(Task.objects.filter(run=run).values_list("template_task_ref", flat=True))
    assert sorted(refs) == ["collect", "review", "write"]
    edges = set(
        TaskDependency.objects.filter(task__run=run).values_list(
            "task__template_task_ref", "depends_on__template_task_ref"
        )
    )
    assert edges == {("write", "collect"), ("review", "write")}


@pytest.mark.django_db
def test_the_nightly_statistics_refresh_leaves_postgresql_to_autovacuum():
    from recurring.tasks import refresh_database_statistics

    assert refresh_database_statistics() == "skipped: the database keeps its own statistics"


@pytest.mark.django_db
def test_the_planner_knows_that_follow_up_dates_go_with_the_waiting_home_state():
    """Migration workflows/0011: without these statistics PostgreSQL expects almost no task in
    the follow-ups-due group and sorts the whole group instead of reading it in order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stxkind FROM pg_statistic_ext WHERE stxname = %s AND stxrelid = 'workflows_task'::regclass",
            ["task_home_follow_up_stats"],
        )
        row = cursor.fetchone()
    assert row is not None
    assert set(row[0]) == {"f", "m"}  # functional dependencies and most-common values
