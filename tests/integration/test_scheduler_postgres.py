"""The scheduler on PostgreSQL: many workers generating the same window (beat, the reconcile task
and a person's backfill racing) still yield each window exactly once; and a real Celery worker
with embedded beat (Redis broker) generates a due window without anyone calling it.

These tests run inside the PostgreSQL pass (see ``conftest.py``; the driver in
``test_postgres_core.py`` starts it, skipping when PostgreSQL is unreachable unless
``PORTAL_REQUIRE_SERVICES=1``), where each thread holds its own connection and transaction.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from notifications.models import Notification, NotificationType
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from recurring.services import GenerationResult, backfill, generate_due
from tests.factories import make_automatic_template, make_recurring_config, utc
from tests.integration.conftest import on_postgres
from workflows.models import Run, Task, WorkflowTemplate

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WORKERS = 8
FIRE = utc(2028, 2, 2, 9)


def race(calls: int, action: Callable[[int], GenerationResult]) -> list[GenerationResult]:
    """``calls`` threads, each with its own database connection, start ``action`` at once."""
    assert on_postgres(), "this test needs the PostgreSQL pass"
    barrier = threading.Barrier(calls)

    def launch(index: int) -> GenerationResult:
        try:
            barrier.wait(timeout=10)
            return action(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=calls) as pool:
        futures = [pool.submit(launch, index) for index in range(calls)]
        return [future.result(timeout=120) for future in futures]


def test_eight_concurrent_generations_of_the_same_window_create_one_task(operator):
    config = make_recurring_config(created=utc(2028, 2, 1, 12), assignee=operator)

    results = race(
        WORKERS,
        lambda _: generate_due(RecurringConfig.objects.get(pk=config.pk), at=FIRE, trigger=GenerationTrigger.BEAT),
    )

    assert [r.error for r in results] == [None] * WORKERS
    assert Task.objects.filter(recurring_config=config).count() == 1
    assert sorted(r.generated for r in results) == [0] * (WORKERS - 1) + [1]
    assert sum(r.skipped for r in results) == WORKERS - 1
    # The passes that lost the race did nothing, so they record nothing: one generation run.
    runs = GenerationRun.objects.filter(recurring_config=config)
    assert runs.count() == 1 and runs.get().generated == 1 and runs.get().status == GenerationStatus.SUCCESS
    assert Notification.objects.filter(type=NotificationType.RECURRING_DUE, recipient=operator).count() == 1
    assert RecurringConfig.objects.get(pk=config.pk).next_fire_at == utc(2028, 2, 3, 9)


def test_concurrent_template_generations_create_one_run_with_one_set_of_tasks():
    template = make_automatic_template(created=utc(2028, 12, 27, 12))
    at = utc(2029, 1, 2, 9)

    results = race(
        WORKERS,
        lambda _: generate_due(WorkflowTemplate.objects.get(pk=template.pk), at=at, trigger=GenerationTrigger.BEAT),
    )

    assert [r.error for r in results] == [None] * WORKERS
    assert sum(r.generated for r in results) == 1
    run = Run.objects.get(template=template)
    assert run.anchor_date == dt.date(2029, 1, 9)
    assert sorted(run.tasks.values_list("template_task_ref", flat=True)) == ["draft", "send"]
    assert GenerationRun.objects.filter(template=template).count() == 1


def test_overlapping_backfills_racing_the_scheduler_create_each_window_once():
    config = make_recurring_config(created=utc(2028, 1, 1, 8), catch_up="all")

    def action(index: int) -> GenerationResult:
        stored = RecurringConfig.objects.get(pk=config.pk)
        if index % 2:
            return generate_due(stored, at=utc(2028, 1, 20, 9, 30), trigger=GenerationTrigger.RECONCILE)
        start = dt.date(2028, 1, 1) + dt.timedelta(days=index)
        return backfill(stored, start=start, end=dt.date(2028, 1, 20), trigger=GenerationTrigger.API)

    results = race(WORKERS, action)

    assert [r.error for r in results] == [None] * WORKERS
    windows = list(Task.objects.filter(recurring_config=config).values_list("window_date", flat=True))
    assert sorted(windows) == [dt.date(2028, 1, day) for day in range(1, 21)]
    assert sum(r.generated for r in results) == 20


# ---- a real worker with embedded beat: the clock works without anyone calling it ---------------

BEAT_TIMEOUT = 150  # the reconcile entry fires on the next minute boundary, after worker start-up


def test_a_real_worker_with_embedded_beat_generates_a_due_window_without_any_manual_call(celery_worker_process):
    import secrets
    import time

    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from recurring import beat

    now = timezone.now()
    # Created two days ago, so today's 00:00 window is due and the per-minute reconcile finds it.
    config = make_recurring_config(created=now - dt.timedelta(days=2), cron="0 0 * * *", tz="UTC")
    beat.ensure_system_entries()
    queue = f"portal-it-sched-{secrets.token_hex(4)}"
    PeriodicTask.objects.update(queue=queue)  # beat sends to this worker's queue only

    worker = celery_worker_process(beat=True, queue=queue)

    deadline = time.monotonic() + BEAT_TIMEOUT
    while time.monotonic() < deadline and not Task.objects.filter(recurring_config=config).exists():
        time.sleep(1)
    tasks = list(Task.objects.filter(recurring_config=config))
    assert [t.window_date for t in tasks] == [timezone.localdate(now, timezone=dt.UTC)], worker.log()[-4000:]
    run = GenerationRun.objects.get(recurring_config=config)
    assert run.trigger in (GenerationTrigger.RECONCILE, GenerationTrigger.BEAT) and run.triggered_by is None
    assert worker.stop() == 0, worker.log()[-4000:]
