"""``notify`` is the one way to create notifications; the recipient rules of the spec live here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model

from workflows.members import admins as admin_people
from workflows.members import members
from workflows.models import Run, Task

from .models import Notification, NotificationType

User = get_user_model()

#: Rows per INSERT of ``notify_batch``; the database backend lowers it when its parameter limit requires.
BULK_BATCH_SIZE = 500


def portal_members() -> list:
    """Every portal member (``workflows.members.members``), as a list of recipients."""
    return list(members())


def admins() -> list:
    """Every Admin and superuser (``workflows.members.admins``), as a list of recipients."""
    return list(admin_people())


def task_recipients(task: Task) -> list:
    """A task's assignee, or every operator and admin when it is unassigned."""
    if task.assignee_id and task.assignee.is_active:
        return [task.assignee]
    return portal_members()


def run_recipients(run: Run) -> list:
    """Each distinct assignee of the run's tasks, or every operator and admin."""
    assignees = list(User.objects.filter(is_active=True, tasks__run=run).distinct())
    return assignees or portal_members()


def schedule_recipients(assignees: Iterable, *, admin_people: Iterable | None = None) -> list:
    """The schedule's assignee(s) plus every Admin and superuser (``admin_people``: ``admins()``
    already read by a caller that notifies about many schedules)."""
    people = {u.pk: u for u in (admins() if admin_people is None else admin_people)}
    for user in assignees:
        if user is not None and user.is_active:
            people.setdefault(user.pk, user)
    return list(people.values())


@dataclass(frozen=True)
class Notice:
    """One notification to raise: its type, subject and text, for each of ``recipients``."""

    type: str
    recipients: Iterable
    dedup_key: str
    title: str
    body: str = ""
    link: str = ""
    task: Task | None = None
    run: Run | None = None
    template: Any = None
    recurring_config: Any = None
    window_date: dt.date | None = None
    data: dict | None = None


def notify(
    type: str,
    *,
    recipients: Iterable,
    dedup_key: str,
    title: str,
    body: str = "",
    link: str = "",
    task: Task | None = None,
    run: Run | None = None,
    template=None,
    recurring_config=None,
    window_date: dt.date | None = None,
    data: dict | None = None,
) -> list[Notification]:
    """Create one notification per recipient, at most once per (recipient, dedup key): scanners
    and retries may call this any number of times. Returns the ones newly created."""
    notice = Notice(
        type=type,
        recipients=recipients,
        dedup_key=dedup_key,
        title=title,
        body=body,
        link=link,
        task=task,
        run=run,
        template=template,
        recurring_config=recurring_config,
        window_date=window_date,
        data=data,
    )
    return notify_batch([notice])


def notify_batch(notices: Iterable[Notice], *, new_keys: bool = False) -> list[Notification]:
    """``notify`` for many notices at once, with the same rules (one notification per recipient
    and dedup key, ever), in a constant number of queries: one lookup of the keys that already
    exist, one INSERT per batch, one read-back. Returns the notifications newly created.

    ``new_keys``: the caller vouches that no notification with these keys can exist yet, because
    each key names something it has just created in this transaction (e.g. the id of a new
    task). The lookup and the read-back are then skipped; the insert still ignores conflicts, so
    a wrong vouch can never duplicate a notification."""
    rows: list[Notification] = []
    seen: set[tuple[int, str]] = set()
    for notice in list(notices):
        if notice.type not in NotificationType.values:
            raise ValueError(f"unknown notification type {notice.type!r}")
        if not notice.dedup_key:
            raise ValueError("a notification needs a deduplication key")
        # The same (truncated) key for the lookup and the insert, or a long key would never match.
        dedup_key = notice.dedup_key[:300]
        for user in notice.recipients:
            if user is None or (user.pk, dedup_key) in seen:
                continue
            seen.add((user.pk, dedup_key))
            rows.append(
                Notification(
                    recipient_id=user.pk,
                    type=notice.type,
                    title=notice.title[:300],
                    body=notice.body,
                    link=notice.link,
                    task=notice.task,
                    run=notice.run,
                    template=notice.template,
                    recurring_config=notice.recurring_config,
                    window_date=notice.window_date,
                    data=notice.data or {},
                    dedup_key=dedup_key,
                )
            )
    if not rows:
        return []
    if not new_keys:
        existing = set(
            Notification.objects.filter(
                dedup_key__in={row.dedup_key for row in rows}, recipient_id__in={row.recipient_id for row in rows}
            ).values_list("recipient_id", "dedup_key")
        )
        rows = [row for row in rows if (row.recipient_id, row.dedup_key) not in existing]
        if not rows:
            return []
    # ignore_conflicts: a concurrent scanner may insert the same key between our read and write.
    Notification.objects.bulk_create(rows, batch_size=BULK_BATCH_SIZE, ignore_conflicts=True)
    created = rows if new_keys else list(Notification.objects.filter(pk__in=[row.pk for row in rows]))
    if created:
        from .delivery import deliver_immediately

        deliver_immediately(created)
    return created


# ---- reactions to the work engine's signals ---------------------------------------------------


def on_run_stage_changed(sender, *, run: Run, from_stage: str, to_stage: str, **kwargs) -> None:
    if not to_stage:
        title = f"{run.title}: all tasks resolved"
        body = "Every task of this run is done or skipped; the run is completed."
    else:
        title = f"{run.title}: now in stage '{to_stage}'"
        body = f"The run moved from '{from_stage or 'start'}' to '{to_stage}'."
    notify(
        NotificationType.STAGE_CHANGE,
        recipients=run_recipients(run),
        dedup_key=f"stage-change:{run.pk}:{from_stage}->{to_stage}:{run.updated_at.isoformat()}",
        title=title,
        body=body,
        link=run.get_absolute_url(),
        run=run,
        template=run.template,
    )


def on_run_instantiated(sender, *, run: Run, created: bool, recovered: int, announce: bool = True, **kwargs) -> None:
    """A new run announces itself (workflow-created), unless its creator raises one summary
    instead (``announce=False``: a backfill)."""
    if not created or not announce:
        return
    first = run.tasks.filter(archived_at__isnull=True).order_by("due_date", "due_time", "title").first()
    first_text = f"First due: '{first.title}' on {first.due_date.isoformat()}." if first else "It has no tasks."
    notify(
        NotificationType.WORKFLOW_CREATED,
        recipients=run_recipients(run),
        dedup_key=f"workflow-created:{run.pk}",
        title=f"New workflow run: {run.template.name} for {run.anchor_date.isoformat()}",
        body=f"Anchor date {run.anchor_date.isoformat()}. {first_text}",
        link=run.get_absolute_url(),
        run=run,
        template=run.template,
        data={"anchor_date": run.anchor_date.isoformat(), "first_task_id": str(first.pk) if first else None},
    )
