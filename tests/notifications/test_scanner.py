"""The notification scanner (``docs/notifications.md``): task-due, task-overdue, follow-up-due
and missing-evidence notifications."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from notifications.models import Notification, NotificationType
from notifications.scanner import scan
from portal.selectors import home_groups
from tests.factories import ProofFactory, RunFactory, TaskFactory
from workflows.models import ProofKind, RunStatus, TaskStatus

pytestmark = pytest.mark.django_db

DUE = dt.date(2028, 2, 2)
# 09:00 UTC on the due date (PORTAL_TIME_ZONE is UTC unless a test changes it).
ON_DUE_DATE = dt.datetime(2028, 2, 2, 9, 0, tzinfo=dt.UTC)
DAY_AFTER = ON_DUE_DATE + dt.timedelta(days=1)


def keys(type_: str) -> list[tuple[str, str]]:
    return sorted(
        Notification.objects.filter(type=type_).values_list("recipient__username", "dedup_key"),
    )


def test_first_scan_on_the_due_date_raises_task_due_for_the_assignee(operator):
    task = TaskFactory(due_date=DUE, assignee=operator)

    counts = scan(ON_DUE_DATE)

    assert counts[NotificationType.TASK_DUE] == 1
    assert keys(NotificationType.TASK_DUE) == [("olivia", f"task-due:{task.pk}:2028-02-02")]
    notification = Notification.objects.get(type=NotificationType.TASK_DUE)
    assert notification.task == task
    assert notification.link == f"/tasks/{task.pk}/"
    assert task.title in notification.title
    assert not Notification.objects.filter(type=NotificationType.TASK_OVERDUE).exists()


def test_scanning_twice_creates_no_duplicates(operator):
    TaskFactory(due_date=DUE, assignee=operator)
    TaskFactory(due_date=DUE - dt.timedelta(days=3), assignee=operator)
    TaskFactory(
        due_date=DUE,
        assignee=operator,
        status=TaskStatus.WAITING,
        waiting_for="Sponsor",
        follow_up_at=DUE,
    )
    TaskFactory(due_date=DUE, assignee=operator, requires_proof_note=True)

    first = scan(ON_DUE_DATE)
    total = Notification.objects.count()
    second = scan(ON_DUE_DATE + dt.timedelta(minutes=15))

    assert sum(first.values()) == total == 5  # 2 due (one also missing evidence), 1 overdue, 1 follow-up
    assert second == dict.fromkeys(first, 0)
    assert Notification.objects.count() == total


def test_task_overdue_is_raised_by_the_first_scan_after_the_due_date(operator):
    task = TaskFactory(due_date=DUE, assignee=operator)

    scan(ON_DUE_DATE)
    assert not Notification.objects.filter(type=NotificationType.TASK_OVERDUE).exists()
    counts = scan(DAY_AFTER)
    again = scan(DAY_AFTER + dt.timedelta(days=1))

    assert counts[NotificationType.TASK_OVERDUE] == 1
    assert again[NotificationType.TASK_OVERDUE] == 0
    assert keys(NotificationType.TASK_OVERDUE) == [("olivia", f"task-overdue:{task.pk}:2028-02-02")]


def test_a_task_whose_due_date_moved_is_due_and_overdue_again(operator):
    task = TaskFactory(due_date=DUE, assignee=operator)
    scan(DAY_AFTER)
    task.due_date = DUE + dt.timedelta(days=7)
    task.save()

    scan(ON_DUE_DATE + dt.timedelta(days=8))

    assert keys(NotificationType.TASK_OVERDUE) == [
        ("olivia", f"task-overdue:{task.pk}:2028-02-02"),
        ("olivia", f"task-overdue:{task.pk}:2028-02-09"),
    ]


def test_follow_up_due_when_waiting_and_the_follow_up_date_has_come(operator):
    waiting = TaskFactory(
        due_date=DUE + dt.timedelta(days=30),
        assignee=operator,
        status=TaskStatus.WAITING,
        waiting_for="Accountant",
        follow_up_at=DUE,
    )
    TaskFactory(
        due_date=DUE,
        assignee=operator,
        status=TaskStatus.WAITING,
        waiting_for="Printer",
        follow_up_at=DUE + dt.timedelta(days=1),
    )

    counts = scan(ON_DUE_DATE)

    assert counts[NotificationType.FOLLOW_UP_DUE] == 1
    assert keys(NotificationType.FOLLOW_UP_DUE) == [("olivia", f"follow-up-due:{waiting.pk}:2028-02-02")]
    # Waiting work is governed by its follow-up date, never by its due date.
    assert counts[NotificationType.TASK_DUE] == 0


def test_a_new_follow_up_date_raises_a_new_follow_up_notification(operator):
    task = TaskFactory(due_date=DUE, assignee=operator, status=TaskStatus.WAITING, waiting_for="Bank", follow_up_at=DUE)
    scan(ON_DUE_DATE)
    task.follow_up_sent(by=operator, note="Called again", next_follow_up_at=DUE + dt.timedelta(days=2))

    scan(ON_DUE_DATE + dt.timedelta(days=2))

    assert [key for _, key in keys(NotificationType.FOLLOW_UP_DUE)] == [
        f"follow-up-due:{task.pk}:2028-02-02",
        f"follow-up-due:{task.pk}:2028-02-04",
    ]


def test_missing_evidence_for_open_work_due_today_or_earlier_with_an_unmet_requirement(operator):
    unmet_today = TaskFactory(due_date=DUE, assignee=operator, requires_link="LinkedIn post URL")
    unmet_earlier = TaskFactory(due_date=DUE - dt.timedelta(days=2), assignee=operator, requires_file=True)
    met = TaskFactory(due_date=DUE, assignee=operator, requires_proof_note=True)
    ProofFactory(task=met, kind=ProofKind.NOTE, note="Posted.")
    TaskFactory(due_date=DUE + dt.timedelta(days=1), assignee=operator, requires_proof_note=True)

    counts = scan(ON_DUE_DATE)

    assert counts[NotificationType.MISSING_EVIDENCE] == 2
    assert {key for _, key in keys(NotificationType.MISSING_EVIDENCE)} == {
        f"missing-evidence:{unmet_today.pk}:2028-02-02",
        f"missing-evidence:{unmet_earlier.pk}:2028-01-31",
    }
    body = Notification.objects.get(task=unmet_today, type=NotificationType.MISSING_EVIDENCE).body
    assert "LinkedIn post URL" in body


def test_unassigned_work_notifies_every_operator_and_admin(operator, admin_user, outsider):
    task = TaskFactory(due_date=DUE, assignee=None)

    scan(ON_DUE_DATE)

    assert keys(NotificationType.TASK_DUE) == [
        ("adam", f"task-due:{task.pk}:2028-02-02"),
        ("olivia", f"task-due:{task.pk}:2028-02-02"),
    ]


def test_only_work_on_operations_home_is_scanned(operator):
    TaskFactory(due_date=DUE, assignee=operator, status=TaskStatus.DONE, completed_at=ON_DUE_DATE)
    TaskFactory(due_date=DUE, assignee=operator, archived_at=ON_DUE_DATE)
    paused_run = RunFactory(status=RunStatus.PAUSED)
    TaskFactory(due_date=DUE, assignee=operator, run=paused_run)
    live = TaskFactory(due_date=DUE, assignee=operator, run=RunFactory())

    scan(ON_DUE_DATE)

    assert keys(NotificationType.TASK_DUE) == [("olivia", f"task-due:{live.pk}:2028-02-02")]


def test_today_is_the_date_in_the_portal_time_zone(settings, operator):
    settings.PORTAL_TIME_ZONE = "Pacific/Auckland"
    task = TaskFactory(due_date=DUE, assignee=operator)

    # 2028-02-01 12:00 UTC is already 2028-02-02 01:00 in Auckland.
    counts = scan(dt.datetime(2028, 2, 1, 12, 0, tzinfo=dt.UTC))

    assert counts[NotificationType.TASK_DUE] == 1
    assert keys(NotificationType.TASK_DUE) == [("olivia", f"task-due:{task.pk}:2028-02-02")]


@pytest.mark.parametrize("size", [3, 30])
def test_the_scanner_uses_a_constant_number_of_queries(size, operator, admin_user, django_assert_max_num_queries):
    for n in range(size):
        TaskFactory(due_date=DUE, assignee=operator if n % 2 else None, requires_proof_note=True)
        TaskFactory(due_date=DUE - dt.timedelta(days=1), assignee=operator)
        TaskFactory(due_date=DUE, assignee=operator, status=TaskStatus.WAITING, waiting_for="X", follow_up_at=DUE)

    with django_assert_max_num_queries(20):
        counts = scan(ON_DUE_DATE)

    unassigned = len(range(0, size, 2))
    assert counts[NotificationType.TASK_DUE] == 2 * unassigned + (size - unassigned)  # unassigned: both people
    assert counts[NotificationType.FOLLOW_UP_DUE] == size


def test_dismissing_a_notification_does_not_take_the_task_off_home(operator):
    overdue = TaskFactory(due_date=DUE, assignee=operator)
    missing = TaskFactory(due_date=DUE + dt.timedelta(days=1), assignee=operator, requires_file=True)
    scan(DAY_AFTER)
    notifications = Notification.objects.filter(task__in=[overdue, missing])
    assert notifications.count() == 3  # overdue; due + missing evidence
    for notification in notifications:
        notification.dismiss()

    groups, counts = home_groups(today=DUE + dt.timedelta(days=1), scope="all")

    assert [t.pk for t in groups["overdue"]] == [overdue.pk]
    assert [t.pk for t in groups["missing_evidence"]] == [missing.pk]


def test_the_command_prints_counts_per_type(operator, time_machine):
    time_machine.move_to(ON_DUE_DATE + dt.timedelta(hours=1), tick=False)
    TaskFactory(due_date=DUE, assignee=operator)
    out = StringIO()

    call_command("scan_notifications", "--at", "2028-02-02T09:00:00+00:00", stdout=out)
    call_command("scan_notifications", "--at", "2028-02-02T09:15:00+00:00", stdout=out)

    text = out.getvalue()
    assert "task-due: 1" in text
    assert "task-due: 0" in text
    assert "missing-evidence: 0" in text
    assert Notification.objects.count() == 1


def test_the_command_refuses_a_malformed_instant():
    with pytest.raises(CommandError, match="not an ISO 8601 date-time"):
        call_command("scan_notifications", "--at", "tomorrow morning")


def test_the_command_refuses_an_instant_in_the_future_and_stores_nothing(operator, time_machine):
    time_machine.move_to(ON_DUE_DATE - dt.timedelta(days=1), tick=False)
    TaskFactory(due_date=DUE, assignee=operator)

    with pytest.raises(CommandError) as refused:
        call_command("scan_notifications", "--at", "2100-12-31T00:00:00+00:00")

    assert str(refused.value).startswith("--at is in the future; scan_notifications evaluates now or a past instant")
    assert "\n" not in str(refused.value)
    assert not Notification.objects.exists()


@pytest.mark.parametrize("value", ["", "   "])
def test_the_command_refuses_an_empty_instant_instead_of_reading_it_as_now(operator, time_machine, value):
    time_machine.move_to(ON_DUE_DATE, tick=False)
    TaskFactory(due_date=DUE, assignee=operator)

    with pytest.raises(CommandError) as refused:
        call_command("scan_notifications", "--at", value)

    assert str(refused.value).startswith("--at: '")
    assert str(refused.value).endswith("' is not an ISO 8601 date-time (e.g. 2028-02-02T09:00:00+00:00).")
    assert not Notification.objects.exists()


def test_the_command_refusal_exits_non_zero_with_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "scan_notifications", "--at", ""],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PORTAL_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    expected = "CommandError: --at: '' is not an ISO 8601 date-time (e.g. 2028-02-02T09:00:00+00:00)."
    assert done.stderr.strip() == expected


def test_the_celery_task_scans_now(operator, time_machine):
    from notifications.tasks import scan_notifications

    time_machine.move_to(ON_DUE_DATE, tick=False)
    task = TaskFactory(due_date=DUE, assignee=operator)

    counts = scan_notifications.delay().get()

    assert counts[NotificationType.TASK_DUE] == 1
    assert Notification.objects.filter(task=task, type=NotificationType.TASK_DUE).exists()
