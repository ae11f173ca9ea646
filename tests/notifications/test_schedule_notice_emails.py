"""E-mail of the scheduler's notifications: a broker outage or a failing address never loses or
blocks the others, and the sweep sends immediate e-mails left unsent once."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from notifications import delivery, tasks
from notifications.models import ChannelPreference, Notification, NotificationType
from notifications.scanner import scan
from tests.factories import OperatorFactory, TaskFactory, utc

pytestmark = pytest.mark.django_db

NOW = utc(2028, 3, 1, 12)
DUE = dt.date(2028, 3, 1)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def prefer_immediate(user, type_: str = NotificationType.TASK_DUE) -> None:
    ChannelPreference.objects.create(user=user, type=type_, email=ChannelPreference.Email.IMMEDIATE)


def test_an_enqueue_failure_after_commit_is_logged_not_raised(operator, monkeypatch, caplog):
    prefer_immediate(operator)
    TaskFactory(due_date=DUE, assignee=operator)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.send_notification_emails, "delay", broker_down)
    with caplog.at_level(logging.ERROR, logger="portal.notifications"):
        delivery._enqueue(["x"])  # what the commit hook runs
    [record] = [r for r in caplog.records if r.name == "portal.notifications"]
    assert record.operation == "enqueue_email" and record.notification_ids == ["x"]


def test_the_commit_hook_survives_a_broker_outage(operator, monkeypatch, django_capture_on_commit_callbacks):
    prefer_immediate(operator)
    TaskFactory(due_date=DUE, assignee=operator)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.send_notification_emails, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        scan(NOW)

    assert len(callbacks) == 1
    assert Notification.objects.get(recipient=operator).emailed_at is None


def test_one_failing_address_does_not_stop_the_other_emails(operator, monkeypatch, caplog):
    other = OperatorFactory(username="otto", email="otto@example.org")
    for user in (operator, other):
        prefer_immediate(user)
        TaskFactory(due_date=DUE, assignee=user)
    scan(NOW)
    real_send = delivery.send_mail

    def refuse_operator(subject, body, sender, recipients, **kwargs):
        if recipients == [operator.email]:
            raise OSError("mailbox unavailable")
        return real_send(subject, body, sender, recipients, **kwargs)

    monkeypatch.setattr(delivery, "send_mail", refuse_operator)
    ids = [str(pk) for pk in Notification.objects.values_list("pk", flat=True)]
    with caplog.at_level(logging.ERROR, logger="portal.notifications"):
        sent = delivery.send_emails(ids)

    assert sent == 1
    assert [m.to for m in mail.outbox] == [[other.email]]
    assert Notification.objects.get(recipient=operator).emailed_at is None
    assert Notification.objects.get(recipient=other).emailed_at is not None
    assert any(getattr(r, "operation", None) == "send_email" for r in caplog.records)


def test_the_email_task_retries_what_failed(operator, monkeypatch):
    prefer_immediate(operator)
    TaskFactory(due_date=DUE, assignee=operator)
    scan(NOW)
    real_send = delivery.send_mail
    attempts = []

    def fail_once(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("temporary failure")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(delivery, "send_mail", fail_once)
    ids = [str(pk) for pk in Notification.objects.values_list("pk", flat=True)]

    # throw=False lets eager mode run the retry instead of raising it (a worker would requeue it).
    tasks.send_notification_emails.apply(args=[ids], throw=False)

    assert len(attempts) == 2
    assert len(mail.outbox) == 1
    assert Notification.objects.get(recipient=operator).emailed_at is not None


def test_the_scanner_task_sends_immediate_emails_left_unsent_once(operator, monkeypatch):
    prefer_immediate(operator)
    TaskFactory(due_date=DUE, assignee=operator)
    monkeypatch.setattr(tasks.send_notification_emails, "delay", lambda ids: None)  # lost in an outage
    with time_machine.travel(NOW, tick=False):
        scan(NOW)
    assert mail.outbox == []

    with time_machine.travel(NOW + dt.timedelta(minutes=15), tick=False):
        tasks.scan_notifications()
        tasks.scan_notifications()

    assert len(mail.outbox) == 1
    assert Notification.objects.get(recipient=operator).emailed_at is not None


def test_the_sweep_leaves_out_digest_types_and_day_old_notifications(operator, time_machine):
    time_machine.move_to(NOW, tick=False)
    ChannelPreference.objects.create(
        user=operator, type=NotificationType.TASK_DUE, email=ChannelPreference.Email.DIGEST
    )
    TaskFactory(due_date=DUE, assignee=operator)
    scan(NOW)
    prefer_immediate(operator, NotificationType.TASK_OVERDUE)
    TaskFactory(due_date=DUE - dt.timedelta(days=1), assignee=operator)
    scan(NOW)

    assert Notification.objects.filter(recipient=operator).count() == 2
    assert delivery.pending_immediate_ids(NOW + dt.timedelta(days=2)) == []
    assert len(delivery.pending_immediate_ids(NOW + dt.timedelta(minutes=10))) == 1
