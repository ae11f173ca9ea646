"""The reconcile pass at scale (``docs/runtime.md``: 10,000 schedules, 100 due, under 1 s): due
configs are generated together in a constant number of queries, while each keeps its own
generation run, notices, cursor and failure, exactly as when generated one at a time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification, NotificationType
from notifications.services import Notice, notify_batch
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from recurring.services import reconcile
from tests.factories import OperatorFactory, make_recurring_config, utc
from workflows.models import Task

pytestmark = pytest.mark.django_db

D = dt.date
AT = utc(2028, 2, 4, 9, 5)  # five minutes after the 09:00 window of 2028-02-04


def due_mix(size: int, operator, *, prefix: str) -> list[RecurringConfig]:
    """``size`` configs due once at ``AT`` (assigned and unassigned alternately), one config
    that also missed two windows, and one that is not due yet."""
    configs = [
        make_recurring_config(
            created=utc(2028, 2, 3, 12), title=f"{prefix} duty {n:02d}", assignee=operator if n % 2 else None
        )
        for n in range(size)
    ]
    configs.append(make_recurring_config(created=utc(2028, 2, 1, 12), title=f"{prefix} late duty", assignee=operator))
    make_recurring_config(created=utc(2028, 2, 3, 12), title=f"{prefix} later duty", cron="0 10 * * *")
    return configs


def queries_of_reconcile() -> tuple[int, list]:
    with CaptureQueriesContext(connection) as captured:
        results = reconcile(at=AT)
    return len(captured.captured_queries), results


def test_a_reconcile_pass_uses_the_same_number_of_queries_for_3_and_12_due_schedules(operator, admin_user):
    # (Rows beyond one INSERT's parameter limit — about 40 tasks or 55 notifications on SQLite —
    # add one INSERT per batch of rows, not per schedule; these sizes stay within one.)
    OperatorFactory()  # unassigned work notifies every member: more than one
    small = due_mix(3, operator, prefix="A")
    small_queries, small_results = queries_of_reconcile()
    large = due_mix(12, operator, prefix="B")
    large_queries, large_results = queries_of_reconcile()

    assert [r.generated for r in small_results] == [1] * len(small)
    assert [r.generated for r in large_results] == [1] * len(large)
    assert large_queries == small_queries
    assert small_queries <= 20


def test_a_batched_pass_records_each_schedule_as_if_generated_alone(operator, admin_user):
    helper = OperatorFactory(username="hugo")
    assigned = make_recurring_config(created=utc(2028, 2, 3, 12), title="Assigned duty", assignee=operator)
    unassigned = make_recurring_config(created=utc(2028, 2, 3, 12), title="Unassigned duty")
    late = make_recurring_config(created=utc(2028, 2, 1, 12), title="Late duty", assignee=operator)

    results = {r.title: r for r in reconcile(at=AT)}

    for config in (assigned, unassigned, late):
        result = results[config.title]
        [task] = Task.objects.filter(recurring_config=config)
        [run] = GenerationRun.objects.filter(recurring_config=config)
        assert (result.generated, result.windows, result.task_ids) == (1, [D(2028, 2, 4)], [task.pk])
        assert (run.status, run.trigger, run.generated, run.windows) == (
            GenerationStatus.SUCCESS,
            GenerationTrigger.RECONCILE,
            1,
            ["2028-02-04"],
        )
        assert result.generation_run == run
        stored = RecurringConfig.objects.get(pk=config.pk)
        assert (stored.next_fire_at, stored.failure_streak, stored.retry_at) == (utc(2028, 2, 5, 9), 0, None)
        due = Notification.objects.filter(type=NotificationType.RECURRING_DUE, task=task)
        assert {n.dedup_key for n in due} == {f"recurring-due:{task.pk}"}
    due_to = {
        config.title: sorted(
            Notification.objects.filter(type=NotificationType.RECURRING_DUE, recurring_config=config).values_list(
                "recipient__username", flat=True
            )
        )
        for config in (assigned, unassigned)
    }
    assert due_to == {"Assigned duty": ["olivia"], "Unassigned duty": sorted(["adam", "hugo", "olivia"])}
    assert helper.pk  # a member, so unassigned work reaches them too
    assert (results["Late duty"].missed_windows, GenerationRun.objects.get(recurring_config=late).missed) == (
        [D(2028, 2, 2), D(2028, 2, 3)],
        2,
    )
    missed = Notification.objects.filter(type=NotificationType.MISSED_WINDOWS)
    assert sorted(n.recipient.username for n in missed) == ["adam", "olivia"]
    assert {n.recurring_config_id for n in missed} == {late.pk}
    assert reconcile(at=AT) == []  # every cursor moved past the instant


def test_one_failing_schedule_of_a_batched_pass_is_recorded_alone_and_the_others_are_kept(
    monkeypatch, operator, admin_user
):
    configs = [make_recurring_config(created=utc(2028, 2, 3, 12), title=f"Duty {c}", assignee=operator) for c in "ABCD"]
    bad = configs[2]
    original = RecurringConfig.task_for_window

    def explode_for_bad(config, day, *, created_by_id=None):
        if config.pk == bad.pk:
            raise ValueError("bad data")
        return original(config, day, created_by_id=created_by_id)

    monkeypatch.setattr(RecurringConfig, "task_for_window", explode_for_bad)

    results = sorted(reconcile(at=AT), key=lambda r: r.title)

    assert [(r.title, r.generated, r.failed, r.error) for r in results] == [
        ("Duty A", 1, 0, None),
        ("Duty B", 1, 0, None),
        ("Duty C", 0, 1, "ValueError: bad data"),
        ("Duty D", 1, 0, None),
    ]
    assert sorted(Task.objects.values_list("recurring_config__title", flat=True)) == ["Duty A", "Duty B", "Duty D"]
    runs = GenerationRun.objects.order_by("recurring_config__title")
    assert [(r.recurring_config.title, r.status) for r in runs] == [
        ("Duty A", GenerationStatus.SUCCESS),
        ("Duty B", GenerationStatus.SUCCESS),
        ("Duty C", GenerationStatus.FAILED),
        ("Duty D", GenerationStatus.SUCCESS),
    ]
    stored = {c.title: c for c in RecurringConfig.objects.all()}
    assert (stored["Duty C"].failure_streak, stored["Duty C"].retry_at) == (1, AT + dt.timedelta(minutes=1))
    assert {stored[t].next_fire_at for t in ("Duty A", "Duty B", "Duty D")} == {utc(2028, 2, 5, 9)}
    assert Notification.objects.filter(type=NotificationType.RECURRING_DUE).count() == 3
    failures = Notification.objects.filter(type=NotificationType.AUTOMATION_FAILURE)
    assert sorted(n.recipient.username for n in failures) == ["adam", "olivia"]


def test_a_window_another_worker_stored_during_a_batched_pass_is_a_skipped_duplicate(monkeypatch, operator):
    first = make_recurring_config(created=utc(2028, 2, 3, 12), title="First duty")
    second = make_recurring_config(created=utc(2028, 2, 3, 12), title="Second duty")
    original = Task.objects.bulk_create
    calls = []

    def other_worker_wins(tasks, *args, **kwargs):
        if not calls:  # between this pass's read and its insert, another worker stores the window
            first.task_for_window(D(2028, 2, 4)).save()
        calls.append(tasks)
        return original(tasks, *args, **kwargs)

    monkeypatch.setattr(Task.objects, "bulk_create", other_worker_wins)

    results = {r.title: r for r in reconcile(at=AT)}

    assert (results["First duty"].generated, results["First duty"].existing) == (0, [D(2028, 2, 4)])
    assert (results["Second duty"].generated, results["Second duty"].windows) == (1, [D(2028, 2, 4)])
    assert Task.objects.filter(recurring_config=first).count() == 1
    # Losing the race did nothing: reported as skipped, recorded nowhere.
    assert not GenerationRun.objects.filter(recurring_config=first).exists()
    assert GenerationRun.objects.get(recurring_config=second).windows == ["2028-02-04"]
    assert not Notification.objects.filter(type=NotificationType.RECURRING_DUE, recurring_config=first).exists()
    assert RecurringConfig.objects.get(pk=second.pk).next_fire_at == utc(2028, 2, 5, 9)


# ---- notify_batch: many notices, a constant number of queries ------------------------------------


def notices(keys: list[str], recipients) -> list[Notice]:
    return [Notice(type=NotificationType.RECURRING_DUE, recipients=recipients, dedup_key=k, title=k) for k in keys]


def test_notify_batch_raises_each_notice_once_per_recipient_across_the_batch_and_the_database(operator, admin_user):
    notify_batch(notices(["k1"], [operator]))

    created = notify_batch(notices(["k1", "k2", "k2"], [operator, admin_user, None]))

    assert sorted((n.dedup_key, n.recipient.username) for n in created) == [
        ("k1", "adam"),
        ("k2", "adam"),
        ("k2", "olivia"),
    ]
    assert Notification.objects.count() == 4


def test_notify_batch_with_new_keys_skips_the_lookup_and_the_read_back(operator, admin_user, django_assert_num_queries):
    with django_assert_num_queries(2):  # the INSERT and the e-mail preference lookup
        created = notify_batch(notices([f"new:{n}" for n in range(20)], [operator, admin_user]), new_keys=True)

    assert len(created) == 40
    assert Notification.objects.count() == 40
    assert notify_batch(notices(["new:0"], [operator])) == []  # the keys are stored like any other
