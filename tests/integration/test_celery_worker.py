"""A real Celery worker against Redis and PostgreSQL: a task sent through the broker runs in the
worker process and its effect is visible in the database (runs inside the PostgreSQL pass)."""

from __future__ import annotations

import time

import pytest
from django_celery_beat.models import PeriodicTask

from notifications.models import Notification, NotificationType
from portal.celery import app
from tests.factories import OperatorFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TASK_TIMEOUT = 30


def _wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _notification_for(user) -> Notification:
    return Notification.objects.create(
        recipient=user,
        type=NotificationType.TASK_OVERDUE,
        title="Back up the Mailchimp mailing list is overdue",
        body="Due yesterday.",
        link="/",
        dedup_key=f"task-overdue:integration:{user.pk}",
    )


# The session runs tasks eagerly; send_task always goes through the broker, which is the point here.
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_worker_sends_notification_email_from_a_task_sent_through_redis(transactional_db, celery_worker_process):
    operator = OperatorFactory(username="olivia", email="olivia@example.com")
    notification = _notification_for(operator)
    worker = celery_worker_process(beat=True)

    with app.connection_for_write(worker.broker_url) as broker:
        app.send_task(
            "notifications.tasks.send_notification_emails",
            args=[[str(notification.pk)]],
            queue=worker.queue,
            connection=broker,
        )

    emailed = _wait_until(
        lambda: Notification.objects.filter(pk=notification.pk, emailed_at__isnull=False).exists(), TASK_TIMEOUT
    )
    assert emailed, f"The worker did not e-mail the notification within {TASK_TIMEOUT}s:\n{worker.log()[-4000:]}"
    mails = [path.read_text() for path in (worker.var_dir / "mail").glob("*.log")]
    assert len(mails) == 1 and "olivia@example.com" in mails[0] and notification.title in mails[0]
    # Embedded beat came up next to the worker, on the database scheduler: that scheduler writes
    # celery's own housekeeping entry into django-celery-beat's table when it starts.
    worker.wait_for_log("beat: Starting...", 10)
    assert _wait_until(lambda: PeriodicTask.objects.filter(name="celery.backend_cleanup").exists(), 10), worker.log()[
        -4000:
    ]
    assert worker.stop() == 0, worker.log()[-4000:]


def test_worker_stops_cleanly_on_sigterm(transactional_db, celery_worker_process):
    worker = celery_worker_process()

    assert worker.stop() == 0
    assert "warm shutdown" in worker.log().lower()
