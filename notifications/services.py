"""``notify`` is the one way to create notifications; the recipient rules of the spec live here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import Q

from portal.roles import ADMINS, OPERATORS
from workflows.models import Run, Task

from .models import Notification, NotificationType

User = get_user_model()


def portal_members() -> list:
    """Every active member of Operators and Admins (and superusers)."""
    return list(
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=[OPERATORS, ADMINS]) | Q(is_superuser=True))
        .distinct()
    )


def admins() -> list:
    return list(User.objects.filter(is_active=True).filter(Q(groups__name=ADMINS) | Q(is_superuser=True)).distinct())


def task_recipients(task: Task) -> list:
    """A task's assignee, or every operator and admin when it is unassigned."""
    if task.assignee_id and task.assignee.is_active:
        return [task.assignee]
    return portal_members()


def run_recipients(run: Run) -> list:
    """Each distinct assignee of the run's tasks, or every operator and admin."""
    assignees = list(User.objects.filter(is_active=True, tasks__run=run).distinct())
    return assignees or portal_members()


def schedule_recipients(assignees: Iterable) -> list:
    """The schedule's assignee(s) plus every Admin and superuser."""
    people = {u.pk: u for u in admins()}
    for user in assignees:
        if user is not None and user.is_active:
            people.setdefault(user.pk, user)
    return list(people.values())


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
    if type not in NotificationType.values:
        raise ValueError(f"unknown notification type {type!r}")
    if not dedup_key:
        raise ValueError("a notification needs a deduplication key")
    # The same (truncated) key for the lookup and the insert, or a long key would never match.
    dedup_key = dedup_key[:300]
    people = {u.pk: u for u in recipients if u is not None}
    if not people:
        return []
    existing = set(
        Notification.objects.filter(dedup_key=dedup_key, recipient_id__in=people).values_list("recipient_id", flat=True)
    )
    rows = [
        Notification(
            recipient_id=pk,
            type=type,
            title=title[:300],
            body=body,
            link=link,
            task=task,
            run=run,
            template=template,
            recurring_config=recurring_config,
            window_date=window_date,
            data=data or {},
            dedup_key=dedup_key,
        )
        for pk in people
        if pk not in existing
    ]
    # ignore_conflicts: a concurrent scanner may insert the same key between our read and write.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    created = list(Notification.objects.filter(pk__in=[r.pk for r in rows]))
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
        link=f"/runs/{run.pk}/",
        run=run,
        template=run.template,
    )


def on_run_instantiated(sender, *, run: Run, created: bool, recovered: int, **kwargs) -> None:
    if not created:
        return
    first = run.tasks.filter(archived_at__isnull=True).order_by("due_date", "due_time", "title").first()
    first_text = f"First due: '{first.title}' on {first.due_date.isoformat()}." if first else "It has no tasks."
    notify(
        NotificationType.WORKFLOW_CREATED,
        recipients=run_recipients(run),
        dedup_key=f"workflow-created:{run.pk}",
        title=f"New workflow run: {run.template.name} for {run.anchor_date.isoformat()}",
        body=f"Anchor date {run.anchor_date.isoformat()}. {first_text}",
        link=f"/runs/{run.pk}/",
        run=run,
        template=run.template,
        data={"anchor_date": run.anchor_date.isoformat(), "first_task_id": str(first.pk) if first else None},
    )
