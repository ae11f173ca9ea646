"""E-mail delivery (``docs/notifications.md``): in-app always; e-mail immediately or in a daily
digest, per user and type, through Django's mail backend; safe to run twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from notifications.delivery import send_daily_digests, send_emails
from notifications.models import ChannelPreference, Notification, NotificationType
from notifications.scanner import scan
from notifications.services import notify
from tests.factories import OperatorFactory, TaskFactory

pytestmark = pytest.mark.django_db

DUE = dt.date(2028, 2, 2)
ON_DUE_DATE = dt.datetime(2028, 2, 2, 9, 0, tzinfo=dt.UTC)


def prefer(user, type_: str, email: str) -> None:
    ChannelPreference.objects.create(user=user, type=type_, email=email)


def test_immediate_email_goes_only_to_people_who_asked_for_that_type(operator, django_capture_on_commit_callbacks):
    other = OperatorFactory(username="otto")
    prefer(operator, NotificationType.TASK_DUE, ChannelPreference.Email.IMMEDIATE)
    prefer(other, NotificationType.TASK_OVERDUE, ChannelPreference.Email.IMMEDIATE)
    mine = TaskFactory(title="Back up the mailing list", due_date=DUE, assignee=operator)
    TaskFactory(title="Dump Slack", due_date=DUE, assignee=other)

    with django_capture_on_commit_callbacks(execute=True):
        scan(ON_DUE_DATE)

    assert [m.to for m in mail.outbox] == [[operator.email]]
    assert "Back up the mailing list" in mail.outbox[0].subject
    assert f"/tasks/{mine.pk}/" in mail.outbox[0].body
    # In-app is always on: both people have their notification.
    assert Notification.objects.filter(type=NotificationType.TASK_DUE).count() == 2
    assert Notification.objects.get(recipient=operator).emailed_at is not None
    assert Notification.objects.get(recipient=other).emailed_at is None


def test_sending_immediate_email_twice_sends_it_once(operator, django_capture_on_commit_callbacks):
    prefer(operator, NotificationType.TASK_DUE, ChannelPreference.Email.IMMEDIATE)
    TaskFactory(due_date=DUE, assignee=operator)
    with django_capture_on_commit_callbacks(execute=True):
        scan(ON_DUE_DATE)
    ids = [str(pk) for pk in Notification.objects.values_list("pk", flat=True)]

    assert send_emails(ids) == 0
    assert len(mail.outbox) == 1


def test_people_without_an_email_address_are_skipped(operator, django_capture_on_commit_callbacks):
    operator.email = ""
    operator.save()
    prefer(operator, NotificationType.TASK_DUE, ChannelPreference.Email.IMMEDIATE)
    TaskFactory(due_date=DUE, assignee=operator)

    with django_capture_on_commit_callbacks(execute=True):
        scan(ON_DUE_DATE)

    assert mail.outbox == []
    assert Notification.objects.filter(recipient=operator).count() == 1


def test_daily_digest_groups_each_persons_pending_notifications_in_one_email(operator):
    other = OperatorFactory(username="otto")
    prefer(operator, NotificationType.TASK_DUE, ChannelPreference.Email.DIGEST)
    prefer(operator, NotificationType.TASK_OVERDUE, ChannelPreference.Email.DIGEST)
    prefer(other, NotificationType.TASK_DUE, ChannelPreference.Email.DIGEST)
    TaskFactory(title="Handle Slack invites", due_date=DUE, assignee=operator)
    TaskFactory(title="Check invoices", due_date=DUE - dt.timedelta(days=2), assignee=operator)
    TaskFactory(title="Sponsor follow-up", due_date=DUE, assignee=other)
    scan(ON_DUE_DATE)
    assert mail.outbox == []  # digest types are not e-mailed immediately

    sent = send_daily_digests()

    assert sent == 2
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    mine = by_recipient[(operator.email,)]
    assert "2 notification(s)" in mine.subject
    assert "Handle Slack invites" in mine.body
    assert "Check invoices" in mine.body
    assert "Sponsor follow-up" not in mine.body
    assert "Sponsor follow-up" in by_recipient[(other.email,)].body


def test_daily_digest_is_safe_to_run_twice(operator):
    prefer(operator, NotificationType.TASK_DUE, ChannelPreference.Email.DIGEST)
    TaskFactory(due_date=DUE, assignee=operator)
    scan(ON_DUE_DATE)

    assert send_daily_digests() == 1
    assert send_daily_digests() == 0
    assert len(mail.outbox) == 1


def test_daily_digest_leaves_out_dismissed_and_other_types(operator):
    prefer(operator, NotificationType.TASK_DUE, ChannelPreference.Email.DIGEST)
    kept = TaskFactory(title="Kept", due_date=DUE, assignee=operator)
    dismissed = TaskFactory(title="Dismissed", due_date=DUE, assignee=operator)
    TaskFactory(title="Overdue, not in the digest", due_date=DUE - dt.timedelta(days=1), assignee=operator)
    scan(ON_DUE_DATE)
    Notification.objects.get(task=dismissed).dismiss()

    send_daily_digests()

    (message,) = mail.outbox
    assert "Kept" in message.body
    assert "Dismissed" not in message.body
    assert "Overdue, not in the digest" not in message.body
    assert Notification.objects.get(task=kept).emailed_at is not None


def test_the_digest_celery_task_sends_digests(operator):
    from notifications.tasks import send_daily_digests as digest_task

    prefer(operator, NotificationType.TASK_DUE, ChannelPreference.Email.DIGEST)
    notify(
        NotificationType.TASK_DUE,
        recipients=[operator],
        dedup_key="task-due:example",
        title="Prepare the newsletter",
        link="/tasks/example/",
    )

    digest_task.delay()

    (message,) = mail.outbox
    assert "Prepare the newsletter" in message.body
