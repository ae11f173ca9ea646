"""The notification core (``docs/notifications.md``): ``notify`` with deduplication, recipient rules, read /
dismiss / acknowledge, and immediate e-mail delivery."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from notifications.delivery import send_daily_digests
from notifications.models import ChannelPreference, Notification, NotificationType
from notifications.services import notify, portal_members, run_recipients, schedule_recipients, task_recipients
from tests.conftest import refused
from tests.factories import AdminFactory, OperatorFactory, TaskFactory, UserFactory, launch_result, make_template, spec
from workflows.models import Task, TaskStatus

pytestmark = pytest.mark.django_db

TODAY = dt.date(2028, 2, 10)


def overdue_notice(task: Task, recipients) -> list[Notification]:
    return notify(
        NotificationType.TASK_OVERDUE,
        recipients=recipients,
        dedup_key=f"task-overdue:{task.pk}:{task.due_date.isoformat()}",
        title=f"Overdue: {task.title}",
        link=f"/tasks/{task.pk}/",
        task=task,
    )


def failure_notice(recipients, key: str = "automation-failure:config-1:2028-02-10") -> list[Notification]:
    return notify(
        NotificationType.AUTOMATION_FAILURE,
        recipients=recipients,
        dedup_key=key,
        title="Slack invites: generation failed",
        body="ZeroDivisionError",
        window_date=TODAY,
    )


# ---- notify and deduplication ------------------------------------------------------------------------------


def test_notify_creates_one_notification_per_recipient_with_its_subject(operator, admin_user):
    task = TaskFactory(due_date=dt.date(2028, 2, 9))
    created = overdue_notice(task, [operator, admin_user, operator, None])
    assert sorted(n.recipient.username for n in created) == ["adam", "olivia"]
    note = Notification.objects.get(recipient=operator)
    assert (note.type, note.task, note.title, note.link) == (
        "task-overdue",
        task,
        f"Overdue: {task.title}",
        f"/tasks/{task.pk}/",
    )
    assert (note.read_at, note.dismissed_at, note.acknowledged_at) == (None, None, None)


def test_notify_twice_creates_nothing_new(operator, admin_user):
    task = TaskFactory()
    overdue_notice(task, [operator, admin_user])
    assert overdue_notice(task, [operator, admin_user]) == []
    assert Notification.objects.count() == 2


def test_deduplication_is_per_recipient(operator, admin_user):
    task = TaskFactory()
    overdue_notice(task, [operator])
    again = overdue_notice(task, [operator, admin_user])
    assert [n.recipient for n in again] == [admin_user]
    assert Notification.objects.filter(recipient=operator).count() == 1


def test_a_dismissed_notification_is_not_raised_again(operator):
    task = TaskFactory()
    overdue_notice(task, [operator])[0].dismiss()
    assert overdue_notice(task, [operator]) == []


def test_a_new_subject_key_is_a_new_notification(operator):
    task = TaskFactory(due_date=dt.date(2028, 2, 9))
    overdue_notice(task, [operator])
    task.due_date = dt.date(2028, 2, 12)
    assert len(overdue_notice(task, [operator])) == 1


def test_very_long_keys_still_deduplicate(operator):
    kwargs = {"recipients": [operator], "dedup_key": "missed-windows:" + "x" * 400, "title": "Missed"}
    assert len(notify(NotificationType.MISSED_WINDOWS, **kwargs)) == 1
    assert notify(NotificationType.MISSED_WINDOWS, **kwargs) == []


def test_the_database_refuses_a_duplicate_key_for_one_recipient(operator):
    overdue_notice(TaskFactory(), [operator])
    existing = Notification.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(recipient=operator, type=existing.type, title="x", dedup_key=existing.dedup_key)


def test_notify_refuses_an_unknown_type_or_a_missing_key(operator):
    with pytest.raises(ValueError, match="unknown notification type"):
        notify("task-exploded", recipients=[operator], dedup_key="k", title="t")
    with pytest.raises(ValueError, match="deduplication key"):
        notify(NotificationType.TASK_DUE, recipients=[operator], dedup_key="", title="t")
    assert not Notification.objects.exists()


def test_notify_without_recipients_creates_nothing():
    assert notify(NotificationType.TASK_DUE, recipients=[], dedup_key="k", title="t") == []


# ---- recipients ----------------------------------------------------------------------------------------------


@pytest.fixture
def people(operator, admin_user, outsider):
    return {
        "operator": operator,
        "admin": admin_user,
        "outsider": outsider,
        "root": UserFactory(username="root", is_superuser=True),
        "retired": OperatorFactory(username="retired", is_active=False),
    }


def names(users) -> set[str]:
    return {u.username for u in users}


def test_portal_members_are_active_operators_admins_and_superusers(people):
    assert names(portal_members()) == {"olivia", "adam", "root"}


def test_a_task_notification_goes_to_its_assignee(people):
    assert names(task_recipients(TaskFactory(assignee=people["outsider"]))) == {"oscar"}


def test_an_unassigned_task_notifies_every_member(people):
    assert names(task_recipients(TaskFactory())) == {"olivia", "adam", "root"}


def test_an_inactive_assignee_falls_back_to_every_member(people):
    assert names(task_recipients(TaskFactory(assignee=people["retired"]))) == {"olivia", "adam", "root"}


def test_run_notifications_go_to_each_distinct_assignee(people):
    writer = OperatorFactory(username="wendy")
    template = make_template(spec("a", assignee=writer), spec("b", assignee=writer), spec("c"))
    run = launch_result(template).run
    assert names(run_recipients(run)) == {"wendy"}


def test_run_notifications_of_an_unassigned_run_go_to_every_member(people):
    run = launch_result(make_template(spec("a"))).run
    assert names(run_recipients(run)) == {"olivia", "adam", "root"}


def test_schedule_notifications_go_to_the_assignees_admins_and_superusers(people):
    helper = UserFactory(username="helper")
    recipients = schedule_recipients([helper, people["admin"], people["retired"], None])
    assert names(recipients) == {"helper", "adam", "root"}
    assert len(recipients) == 3


# ---- read, dismiss, acknowledge ----------------------------------------------------------------------------


def test_reading_or_dismissing_never_changes_the_task(operator):
    task = TaskFactory(due_date=dt.date(2028, 2, 1), assignee=operator)
    task.mark_waiting(waiting_for="Bank", follow_up_at=dt.date(2028, 2, 5), note="Asked")
    before = Task.objects.filter(pk=task.pk).values().get()
    note = overdue_notice(task, [operator])[0]
    note.mark_read()
    note.dismiss()
    note.refresh_from_db()
    assert note.read_at is not None and note.dismissed_at is not None
    assert Task.objects.filter(pk=task.pk).values().get() == before
    assert Task.objects.on_home().filter(pk=task.pk, status=TaskStatus.WAITING).exists()
    assert not Notification.objects.unread().exists()


def test_marking_read_twice_keeps_the_first_time(operator):
    note = overdue_notice(TaskFactory(), [operator])[0]
    note.mark_read()
    first = note.read_at
    note.mark_read()
    note.dismiss()
    note.refresh_from_db()
    assert note.read_at == first


def test_reading_or_dismissing_does_not_resolve_a_failure(operator, admin_user):
    notes = failure_notice([operator, admin_user])
    for note in notes:
        note.mark_read()
        note.dismiss()
    assert Notification.objects.unresolved_failures().count() == 2


def test_acknowledge_needs_a_note(admin_user):
    note = failure_notice([admin_user])[0]
    error = refused(lambda: note.acknowledge(by=admin_user, note="  "), "note_required")
    assert error.extra["missing"] == ["note"]
    note.refresh_from_db()
    assert note.acknowledged_at is None


def test_acknowledging_closes_the_failure_for_every_recipient(operator, admin_user):
    notes = failure_notice([operator, admin_user])
    other = failure_notice([operator], key="automation-failure:config-2:2028-02-10")[0]
    mine = next(n for n in notes if n.recipient == admin_user)
    mine.acknowledge(by=admin_user, note="Fixed the cron expression")
    for note in Notification.objects.filter(pk__in=[n.pk for n in notes]):
        assert (note.acknowledged_by, note.acknowledgement_note) == (admin_user, "Fixed the cron expression")
        assert note.acknowledged_at is not None and note.read_at is not None
    assert list(Notification.objects.unresolved_failures()) == [other]
    refused(lambda: mine.acknowledge(by=admin_user, note="again"), "invalid_transition")


def test_only_failures_and_missed_windows_can_be_acknowledged(operator):
    note = overdue_notice(TaskFactory(), [operator])[0]
    refused(lambda: note.acknowledge(by=operator, note="seen"), "invalid_transition")
    missed = notify(NotificationType.MISSED_WINDOWS, recipients=[operator], dedup_key="missed:1", title="Missed")[0]
    missed.acknowledge(by=operator, note="Backfilled")
    assert missed.acknowledged_at is not None


def test_the_database_refuses_an_acknowledgement_without_a_note(operator):
    note = failure_notice([operator])[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.filter(pk=note.pk).update(acknowledged_at=note.created_at)


# ---- e-mail delivery --------------------------------------------------------------------------------------


def test_immediate_email_is_sent_after_commit_to_those_who_asked(
    operator, admin_user, django_capture_on_commit_callbacks
):
    ChannelPreference.objects.create(user=operator, type=NotificationType.TASK_OVERDUE, email="immediate")
    ChannelPreference.objects.create(user=admin_user, type=NotificationType.TASK_DUE, email="immediate")
    task = TaskFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        overdue_notice(task, [operator, admin_user])
        assert mail.outbox == []  # nothing leaves before the transaction commits
    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [[operator.email]]
    assert f"/tasks/{task.pk}/" in mail.outbox[0].body
    assert Notification.objects.get(recipient=operator).emailed_at is not None


def test_daily_digest_bundles_pending_notifications_once(operator):
    ChannelPreference.objects.create(user=operator, type=NotificationType.TASK_OVERDUE, email="digest")
    overdue_notice(TaskFactory(title="Pay invoice"), [operator])
    overdue_notice(TaskFactory(title="File receipts"), [operator])
    assert send_daily_digests() == 1
    assert "2 notification" in mail.outbox[0].subject
    assert "Pay invoice" in mail.outbox[0].body and "File receipts" in mail.outbox[0].body
    assert send_daily_digests() == 0


# ---- reactions to the work engine ---------------------------------------------------------------------------


def test_admins_are_members_for_run_notifications_only_when_nobody_is_assigned(db):
    admin = AdminFactory(username="boss")
    worker = OperatorFactory(username="worker")
    assigned = launch_result(make_template(spec("a", assignee=worker))).run
    unassigned = launch_result(make_template(spec("a"))).run
    assert names(n.recipient for n in Notification.objects.filter(run=assigned)) == {"worker"}
    assert names(n.recipient for n in Notification.objects.filter(run=unassigned)) == {"boss", "worker"}
    assert admin.notifications.count() == 1
