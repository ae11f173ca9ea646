"""Failures (``docs/schedules.md``): a failed generation run and one automation-failure notification per
(schedule, window), retries with back-off, resolution by a later success, acknowledgement with a
note, other schedules unaffected, structured logs."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine

from notifications.models import Notification, NotificationType
from recurring import services
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from recurring.services import (
    acknowledge_failure,
    acknowledge_failures_by_key,
    backfill,
    generate_due,
    reconcile,
    save_config,
)
from tests.factories import make_automatic_template, make_recurring_config, utc
from workflows import services as workflow_services
from workflows.errors import DomainError
from workflows.models import Run, Task, WorkflowTemplate

pytestmark = pytest.mark.django_db


def run_schedules(*, at, **kwargs):
    """``services.run_schedules`` as if the clock read ``at``: a pass is never run for the future."""
    with time_machine.travel(at, tick=False):
        return services.run_schedules(at=at, **kwargs)


D = dt.date
FIRE = utc(2028, 2, 2, 9)


def failures(config=None) -> list[GenerationRun]:
    runs = GenerationRun.objects.filter(status=GenerationStatus.FAILED)
    if config is not None:
        runs = runs.filter(recurring_config=config)
    return list(runs.order_by("started_at", "id"))


def failure_notices():
    return Notification.objects.filter(type=NotificationType.AUTOMATION_FAILURE)


@pytest.fixture
def broken(monkeypatch):
    """Task creation raises until the fixture's ``fix()`` is called. The failure is injected where
    every path (a batched pass, one schedule, a backfill) builds a config's task: the config's
    ``task_for_window``."""
    original = RecurringConfig.task_for_window

    def explode(config, day, *, created_by_id=None):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(RecurringConfig, "task_for_window", explode)

    class Switch:
        @staticmethod
        def fix():
            monkeypatch.setattr(RecurringConfig, "task_for_window", original)

    return Switch


def test_a_generation_that_raises_records_a_failed_run_and_one_automation_failure_notification(
    broken, operator, admin_user
):
    config = make_recurring_config(created=utc(2028, 2, 1, 12), assignee=operator)

    result = generate_due(config, at=FIRE, trigger=GenerationTrigger.BEAT)

    assert (result.generated, result.failed) == (0, 1)
    assert result.error == "RuntimeError: database on fire"
    assert not Task.objects.exists()
    [failed] = failures(config)
    assert (failed.failed_window, failed.error, failed.trigger) == (D(2028, 2, 2), result.error, "beat")
    assert failed.failure_key == f"automation-failure:recurring:{config.pk}:2028-02-02"
    assert sorted(n.recipient.username for n in failure_notices()) == ["adam", "olivia"]
    notice = failure_notices().get(recipient=operator)
    assert (notice.recurring_config_id, notice.window_date) == (config.pk, D(2028, 2, 2))
    assert "database on fire" in notice.body and config.title in notice.body


def test_a_failing_schedule_is_retried_with_backoff_and_notified_only_once(broken, operator):
    config = make_recurring_config(created=utc(2028, 2, 1, 12), assignee=operator)
    reconcile(at=FIRE)
    stored = RecurringConfig.objects.get(pk=config.pk)
    assert (stored.failure_streak, stored.retry_at) == (1, FIRE + dt.timedelta(minutes=1))

    too_early = reconcile(at=FIRE + dt.timedelta(seconds=30))
    retried = reconcile(at=FIRE + dt.timedelta(minutes=1))

    assert too_early == []
    assert [(r.failed, r.generation_run.trigger) for r in retried] == [(1, GenerationTrigger.RETRY)]
    stored = RecurringConfig.objects.get(pk=config.pk)
    assert (stored.failure_streak, stored.retry_at) == (2, FIRE + dt.timedelta(minutes=3))
    assert len(failures(config)) == 2
    assert failure_notices().filter(recipient=operator).count() == 1


def test_the_retry_delay_doubles_up_to_one_hour(broken):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    at, delays = FIRE, []
    for _ in range(8):
        reconcile(at=at)
        retry_at = RecurringConfig.objects.get(pk=config.pk).retry_at
        delays.append(int((retry_at - at).total_seconds() // 60))
        at = retry_at

    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_later_success_of_the_window_resolves_the_failed_runs_and_their_notifications(broken, operator):
    config = make_recurring_config(created=utc(2028, 2, 1, 12), assignee=operator)
    reconcile(at=FIRE)
    reconcile(at=FIRE + dt.timedelta(minutes=1))

    broken.fix()
    with time_machine.travel(FIRE + dt.timedelta(minutes=3), tick=False):
        fixed = reconcile(at=FIRE + dt.timedelta(minutes=3))

    assert [(r.generated, r.windows, r.error) for r in fixed] == [(1, [D(2028, 2, 2)], None)]
    assert [run.resolved_at for run in failures(config)] == [FIRE + dt.timedelta(minutes=3)] * 2
    assert [n.resolved_at for n in failure_notices()] == [FIRE + dt.timedelta(minutes=3)]
    assert not Notification.objects.unresolved_failures().exists()
    stored = RecurringConfig.objects.get(pk=config.pk)
    assert (stored.failure_streak, stored.retry_at, stored.next_fire_at) == (0, None, utc(2028, 2, 3, 9))


def test_one_failing_schedule_does_not_stop_the_others(monkeypatch):
    good = make_recurring_config(created=utc(2028, 2, 1, 12), title="A good duty")
    bad = make_recurring_config(created=utc(2028, 2, 1, 12), title="B bad duty")
    original = RecurringConfig.task_for_window

    def explode_for_bad(config, day, *, created_by_id=None):
        if config.pk == bad.pk:
            raise ValueError("bad data")
        return original(config, day, created_by_id=created_by_id)

    monkeypatch.setattr(RecurringConfig, "task_for_window", explode_for_bad)

    results = run_schedules(at=FIRE)

    assert [(r.title, r.generated, r.failed) for r in results] == [("A good duty", 1, 0), ("B bad duty", 0, 1)]
    assert Task.objects.get().recurring_config_id == good.pk


def test_a_failure_that_cannot_even_be_recorded_still_lets_the_other_schedules_run(monkeypatch):
    make_recurring_config(created=utc(2028, 2, 1, 12), title="A unlucky duty")
    make_recurring_config(created=utc(2028, 2, 1, 12), title="B fine duty")
    original = RecurringConfig.task_for_window

    def explode_for_first(config, day, *, created_by_id=None):
        if config.title.startswith("A"):
            raise RuntimeError("disk full")
        return original(config, day, created_by_id=created_by_id)

    def cannot_record(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(RecurringConfig, "task_for_window", explode_for_first)
    # Recording a failure writes its generation run: that write fails too.
    monkeypatch.setattr(GenerationRun, "save", cannot_record)

    results = run_schedules(at=FIRE)

    assert [(r.title, r.generated, r.failed, r.error) for r in results] == [
        ("A unlucky duty", 0, 1, "RuntimeError: database went away"),
        ("B fine duty", 1, 0, None),
    ]


def test_an_invalid_stored_schedule_is_a_failure_until_it_is_fixed(admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    RecurringConfig.objects.filter(pk=config.pk).update(cron_expression="0 9 * * * *")

    first = reconcile(at=FIRE)
    again = reconcile(at=FIRE + dt.timedelta(minutes=1))
    with time_machine.travel(FIRE + dt.timedelta(minutes=2), tick=False):
        save_config(config=RecurringConfig.objects.get(pk=config.pk), data={"cron_expression": "0 9 * * *"})
    fixed = reconcile(at=utc(2028, 2, 3, 9))

    assert [r.error.startswith("Invalid schedule '0 9 * * * *'") for r in first + again] == [True, True]
    assert [run.failed_window for run in failures(config)] == [None, None]
    assert len({run.failure_key for run in failures(config)}) == 1
    assert failure_notices().count() == 1
    assert [r.generated for r in fixed] == [1]
    assert all(run.resolved_at for run in failures(config))
    assert failure_notices().get().resolved_at is not None


def test_a_failing_template_window_neither_half_creates_its_run_nor_blocks_the_others(monkeypatch, admin_user):
    template = make_automatic_template(created=utc(2028, 12, 20, 12), catch_up="all")
    original = workflow_services.instantiate_run

    def fail_first_of_january(*, template, anchor_date, by=None, trigger_date=None, **options):
        if trigger_date == D(2028, 12, 26):
            Run.objects.create(template=template, anchor_date=anchor_date, title="half")  # then crash
            raise RuntimeError("worker lost")
        return original(template=template, anchor_date=anchor_date, by=by, trigger_date=trigger_date, **options)

    monkeypatch.setattr(workflow_services, "instantiate_run", fail_first_of_january)
    result = generate_due(template, at=utc(2029, 1, 2, 9), trigger=GenerationTrigger.RECONCILE)

    assert (result.generated, result.failed, result.windows, result.failed_windows) == (
        1,
        1,
        [D(2029, 1, 2)],
        [D(2028, 12, 26)],
    )
    assert list(Run.objects.values_list("anchor_date", flat=True)) == [D(2029, 1, 9)]
    run = result.generation_run
    assert (run.status, run.generated, run.failed, run.failed_window) == ("failed", 1, 1, D(2028, 12, 26))
    assert WorkflowTemplate.objects.get(pk=template.pk).failure_streak == 1

    monkeypatch.setattr(workflow_services, "instantiate_run", original)
    retry = reconcile(at=utc(2029, 1, 2, 9, 1))

    assert [(r.generated, r.skipped, r.windows) for r in retry] == [(1, 1, [D(2028, 12, 26)])]
    assert GenerationRun.objects.get(pk=run.pk).resolved_at is not None
    assert failure_notices().get().resolved_at is not None


# ---- acknowledgement -------------------------------------------------------------------------


def test_acknowledging_a_failure_closes_every_attempt_of_that_window_and_its_notifications(
    broken, operator, admin_user
):
    config = make_recurring_config(created=utc(2028, 2, 1, 12), assignee=operator)
    reconcile(at=FIRE)
    reconcile(at=FIRE + dt.timedelta(minutes=1))
    first, second = failures(config)

    with time_machine.travel(FIRE + dt.timedelta(hours=1), tick=False):
        acknowledge_failure(first, by=admin_user, note="Known outage, window done by hand.")

    for run in failures(config):
        assert (run.acknowledged_at, run.acknowledged_by, run.acknowledgement_note) == (
            FIRE + dt.timedelta(hours=1),
            admin_user,
            "Known outage, window done by hand.",
        )
    assert all(n.acknowledged_at and n.read_at for n in failure_notices())
    assert not Notification.objects.unresolved_failures().exists()


def test_acknowledging_the_failure_notification_closes_its_generation_runs(broken, admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    reconcile(at=FIRE)
    reconcile(at=FIRE + dt.timedelta(minutes=1))
    notice = failure_notices().get(recipient=admin_user)

    closed = acknowledge_failures_by_key(notice.dedup_key, by=admin_user, note="Fixed the disk; backfilled.")

    assert closed == 2
    assert [(run.acknowledged_by, run.acknowledgement_note) for run in failures(config)] == [
        (admin_user, "Fixed the disk; backfilled.")
    ] * 2


def test_acknowledging_needs_a_note_and_an_open_failure(broken, admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    reconcile(at=FIRE)
    [failed] = failures(config)

    with pytest.raises(DomainError) as no_note:
        acknowledge_failure(failed, by=admin_user, note="  ")
    acknowledge_failure(failed, by=admin_user, note="Handled.")
    with pytest.raises(DomainError) as twice:
        acknowledge_failure(failed, by=admin_user, note="Again.")

    assert no_note.value.code == "note_required"
    assert twice.value.code == "invalid_transition"


def test_a_successful_generation_run_cannot_be_acknowledged(admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    result = generate_due(config, at=FIRE, trigger=GenerationTrigger.BEAT)

    with pytest.raises(DomainError) as refused:
        acknowledge_failure(result.generation_run, by=admin_user, note="Fine.")

    assert refused.value.code == "invalid_transition"


# ---- backfill failures and logs ----------------------------------------------------------------


def test_a_failing_backfill_is_recorded_without_touching_the_retry_state(broken, admin_user):
    config = make_recurring_config(created=utc(2028, 1, 1, 8))

    with time_machine.travel(utc(2028, 1, 20, 12), tick=False):
        result = backfill(config, start=D(2028, 1, 2), end=D(2028, 1, 4), by=admin_user, trigger="admin")

    assert (result.failed, result.failed_windows, result.error) == (
        3,
        [D(2028, 1, 2), D(2028, 1, 3), D(2028, 1, 4)],
        "RuntimeError: database on fire",
    )
    [failed] = failures(config)
    assert (failed.range_start, failed.range_end, failed.triggered_by, failed.failed_window) == (
        D(2028, 1, 2),
        D(2028, 1, 4),
        admin_user,
        D(2028, 1, 2),
    )
    notice = failure_notices().get()  # the windows failed together: one notice, not one per window
    assert "2 more window(s)" in notice.body and notice.window_date == D(2028, 1, 2)
    assert RecurringConfig.objects.get(pk=config.pk).failure_streak == 0


def test_generation_and_failure_are_logged_with_operation_ids_windows_and_counts(broken, caplog, admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    caplog.set_level(logging.INFO, logger="portal.scheduler")

    with time_machine.travel(FIRE, tick=False):  # a person's pass runs for an instant that has come
        generate_due(config, at=FIRE, trigger=GenerationTrigger.ADMIN, by=admin_user)
        broken.fix()
        generate_due(config, at=FIRE, trigger=GenerationTrigger.ADMIN, by=admin_user)

    records = [r for r in caplog.records if r.name == "portal.scheduler" and getattr(r, "operation", "") == "generate"]
    failed = [r for r in records if r.levelno == logging.ERROR and hasattr(r, "failed")]
    done = [r for r in records if r.levelno == logging.INFO]
    assert len(failed) == 1 and len(done) == 1
    assert (failed[0].config_id, failed[0].user_id, failed[0].failed_windows, failed[0].failed) == (
        str(config.pk),
        admin_user.pk,
        ["2028-02-02"],
        1,
    )
    assert "database on fire" in failed[0].error
    assert (done[0].config_id, done[0].windows, done[0].generated, done[0].trigger) == (
        str(config.pk),
        ["2028-02-02"],
        1,
        "admin",
    )


def test_acknowledging_the_notice_through_the_api_clears_the_failure_from_home(broken, admin_user):
    from rest_framework.test import APIClient

    make_recurring_config(created=utc(2028, 2, 1, 12))
    reconcile(at=FIRE)
    client = APIClient()
    client.force_authenticate(admin_user)
    assert len(client.get("/api/v1/home/?date=2028-02-02").json()["automation_failures"]) == 1
    notice = failure_notices().get(recipient=admin_user)

    response = client.post(f"/api/v1/notifications/{notice.pk}/acknowledge/", {"note": "Disk replaced"}, format="json")

    assert response.status_code == 200
    assert client.get("/api/v1/home/?date=2028-02-02").json()["automation_failures"] == []
    [failed] = failures()
    assert (failed.acknowledged_by, failed.acknowledgement_note) == (admin_user, "Disk replaced")
