"""The notification scanner (``docs/notifications.md``): task-due, task-overdue, follow-up-due and missing-evidence.

Rules:

* "Today" is the calendar date in ``PORTAL_TIME_ZONE`` at the scanned instant.
* Only work on Operations Home is scanned (``Task.objects.on_home()``): open, not archived, not in
  a paused or cancelled run.
* ``task-due``: todo / in progress, due today (so the first scan on the due date raises it);
  key ``task-due:<task>:<due_date>``.
* ``task-overdue``: todo / in progress, due before today (the first scan after the due date);
  key ``task-overdue:<task>:<due_date>``.
* ``follow-up-due``: waiting with ``follow_up_at`` today or earlier; key
  ``follow-up-due:<task>:<follow_up_at>`` (a new follow-up date raises a new one).
* ``missing-evidence``: open, due today or earlier, a proof or run-link requirement unmet; key
  ``missing-evidence:<task>:<due_date>``.
* Recipients follow ``notifications.services``: the assignee, or every operator and admin when
  the task is unassigned (or its assignee is inactive).

Dedup keys are unique per recipient in the database, so the scanner may run any number of times
(and concurrently) without duplicating anything. The work is done in bulk: a constant number of
queries per notification type, whatever the number of tasks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from workflows.models import ACTIONABLE_STATUSES, Task

from .delivery import deliver_immediately
from .models import Notification, NotificationType
from .services import portal_members

BATCH_SIZE = 500


def scan_date(at: dt.datetime) -> dt.date:
    """The operators' calendar date at instant ``at``."""
    if at.tzinfo is None:
        raise ValueError("scan instant must be timezone-aware")
    return at.astimezone(ZoneInfo(settings.PORTAL_TIME_ZONE)).date()


def _task_link(task: Task) -> str:
    return task.get_absolute_url()


def _requirement_names(task: Task) -> str:
    names = []
    if task.requires_link:
        names.append(task.requires_link)
    if task.requires_file:
        names.append("file")
    if task.requires_proof_note:
        names.append("proof note")
    return ", ".join(names) or "a required run link"


def _due_notice(task: Task, today: dt.date) -> dict:
    return {
        "dedup_key": f"task-due:{task.pk}:{task.due_date.isoformat()}",
        "title": f"Due today: {task.title}",
        "body": f"“{task.title}” is due today ({task.due_date.isoformat()}).",
    }


def _overdue_notice(task: Task, today: dt.date) -> dict:
    days = (today - task.due_date).days
    return {
        "dedup_key": f"task-overdue:{task.pk}:{task.due_date.isoformat()}",
        "title": f"Overdue: {task.title}",
        "body": f"“{task.title}” was due on {task.due_date.isoformat()} ({days} day{'s' if days != 1 else ''} ago).",
    }


def _follow_up_notice(task: Task, today: dt.date) -> dict:
    return {
        "dedup_key": f"follow-up-due:{task.pk}:{task.follow_up_at.isoformat()}",
        "title": f"Follow up: {task.title}",
        "body": f"Waiting for {task.waiting_for}; the follow-up was due on {task.follow_up_at.isoformat()}.",
    }


def _missing_evidence_notice(task: Task, today: dt.date) -> dict:
    return {
        "dedup_key": f"missing-evidence:{task.pk}:{task.due_date.isoformat()}",
        "title": f"Missing evidence: {task.title}",
        "body": f"Due on {task.due_date.isoformat()}; it needs {_requirement_names(task)} before it can be completed.",
    }


def _candidates(today: dt.date) -> dict[str, tuple[QuerySet, Callable[[Task, dt.date], dict]]]:
    home = Task.objects.on_home()
    return {
        NotificationType.TASK_DUE: (home.filter(status__in=ACTIONABLE_STATUSES, due_date=today), _due_notice),
        NotificationType.TASK_OVERDUE: (home.overdue(today), _overdue_notice),
        NotificationType.FOLLOW_UP_DUE: (home.follow_ups_due(today), _follow_up_notice),
        NotificationType.MISSING_EVIDENCE: (home.missing_evidence(today), _missing_evidence_notice),
    }


def notify_many(type: str, notices: Iterable[Notification], *, existing: set[tuple[int, str]]) -> list[Notification]:
    """Insert the notices whose (recipient, dedup key) is not in ``existing``, in batches, and
    hand them to e-mail delivery. The unique (recipient, dedup key) constraint, with conflicts
    ignored, keeps a concurrent scanner from duplicating one. Returns the notices inserted."""
    if type not in NotificationType.values:
        raise ValueError(f"unknown notification type {type!r}")
    fresh: list[Notification] = []
    seen = set(existing)
    for notice in notices:
        key = (notice.recipient_id, notice.dedup_key)
        if key in seen:
            continue
        seen.add(key)
        notice.type = type
        fresh.append(notice)
    Notification.objects.bulk_create(fresh, batch_size=BATCH_SIZE, ignore_conflicts=True)
    # Delivery only needs id, recipient and type; a row a concurrent scanner won is simply not
    # found by the e-mail task.
    deliver_immediately(fresh)
    return fresh


def _scan_type(type: str, tasks: QuerySet, describe, today: dt.date, everyone: Callable[[], list]) -> int:
    tasks = tasks.select_related("assignee").order_by("due_date", "pk")
    existing = set(
        Notification.objects.filter(type=type, task__in=tasks.values("pk")).values_list("recipient_id", "dedup_key")
    )
    notices = []
    for task in tasks:
        text = describe(task, today)
        if task.assignee_id and task.assignee.is_active:
            recipients = [task.assignee.pk]
        else:
            recipients = [user.pk for user in everyone()]
        for recipient_id in recipients:
            notices.append(
                Notification(
                    recipient_id=recipient_id,
                    title=text["title"][:300],
                    body=text["body"],
                    link=_task_link(task),
                    task=task,
                    run_id=task.run_id,
                    recurring_config_id=task.recurring_config_id,
                    window_date=task.window_date,
                    dedup_key=text["dedup_key"][:300],
                    data={"due_date": task.due_date.isoformat(), "scan_date": today.isoformat()},
                )
            )
    return len(notify_many(type, notices, existing=existing))


def scan(at: dt.datetime) -> dict[str, int]:
    """Raise the due, overdue, follow-up-due and missing-evidence notifications for the instant
    ``at``. Returns how many notifications of each type were created (0 on a repeated scan)."""
    today = scan_date(at)
    members: list | None = None

    def everyone() -> list:
        # One query, and only if some task is unassigned.
        nonlocal members
        if members is None:
            members = portal_members()
        return members

    counts: dict[str, int] = {}
    with transaction.atomic():
        for type, (tasks, describe) in _candidates(today).items():
            counts[type] = _scan_type(type, tasks, describe, today, everyone)
    return counts
