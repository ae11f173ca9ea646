"""Acknowledging an automation failure: it stops the retries, closes every attempt of its window
and its notification, and a later attempt of the same failure is born acknowledged."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from notifications.models import Notification, NotificationType
from portal.selectors import automation_failures
from recurring import services
from recurring.models import GenerationRun, GenerationStatus, RecurringConfig
from recurring.services import acknowledge_failure, acknowledge_failures_by_key, reconcile
from tests.factories import make_recurring_config, utc

pytestmark = pytest.mark.django_db

FIRE = utc(2028, 2, 2, 9)


def failure_notices():
    return Notification.objects.filter(type=NotificationType.AUTOMATION_FAILURE)


@pytest.fixture
def broken(monkeypatch):
    """Task creation of configs raises."""

    def explode(config, day, *, created_by_id=None):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(RecurringConfig, "task_for_window", explode)


def test_acknowledging_a_failure_stops_its_retries_until_the_next_regular_fire_time(broken, admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    reconcile(at=FIRE)
    [failed] = GenerationRun.objects.filter(recurring_config=config, status=GenerationStatus.FAILED)

    with time_machine.travel(FIRE + dt.timedelta(seconds=30), tick=False):
        acknowledge_failure(failed, by=admin_user, note="Known; done by hand.")

    stored = RecurringConfig.objects.get(pk=config.pk)
    assert (stored.failure_streak, stored.retry_at, stored.next_fire_at) == (0, None, utc(2028, 2, 3, 9))
    assert reconcile(at=FIRE + dt.timedelta(minutes=1)) == []
    assert reconcile(at=FIRE + dt.timedelta(hours=5)) == []


def test_acknowledging_the_notice_also_stops_the_retries(broken, admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    reconcile(at=FIRE)
    notice = failure_notices().get(recipient=admin_user)

    with time_machine.travel(FIRE + dt.timedelta(seconds=30), tick=False):
        acknowledge_failures_by_key(notice.dedup_key, by=admin_user, note="Known.")

    assert reconcile(at=FIRE + dt.timedelta(minutes=1)) == []
    assert RecurringConfig.objects.get(pk=config.pk).retry_at is None


def test_a_later_attempt_of_an_acknowledged_window_is_born_acknowledged_and_not_notified(broken, admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    reconcile(at=FIRE)
    [failed] = GenerationRun.objects.filter(recurring_config=config, status=GenerationStatus.FAILED)
    with time_machine.travel(FIRE + dt.timedelta(seconds=30), tick=False):
        acknowledge_failure(failed, by=admin_user, note="Known.")
    notices = failure_notices().count()

    # someone runs the window again by hand: the same failure, already acknowledged
    with time_machine.travel(FIRE + dt.timedelta(minutes=2), tick=False):
        services.generate_due(
            RecurringConfig.objects.get(pk=config.pk), at=FIRE + dt.timedelta(minutes=2), trigger="command"
        )

    runs = GenerationRun.objects.filter(recurring_config=config, status=GenerationStatus.FAILED)
    assert runs.count() == 2 and all(run.acknowledged_at for run in runs)
    assert [f for f in automation_failures() if f.recurring_config_id == config.pk] == []
    assert failure_notices().count() == notices


def test_a_schedule_wide_failure_acknowledged_keeps_its_key_and_raises_no_new_notification(admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    RecurringConfig.objects.filter(pk=config.pk).update(cron_expression="not a cron")
    reconcile(at=FIRE)
    [failed] = GenerationRun.objects.filter(recurring_config=config, status=GenerationStatus.FAILED)
    with time_machine.travel(FIRE + dt.timedelta(seconds=30), tick=False):
        acknowledge_failure(failed, by=admin_user, note="Fixing the expression.")
    notices = failure_notices().count()

    with time_machine.travel(FIRE + dt.timedelta(minutes=2), tick=False):
        services.generate_due(
            RecurringConfig.objects.get(pk=config.pk), at=FIRE + dt.timedelta(minutes=2), trigger="command"
        )

    latest = GenerationRun.objects.filter(recurring_config=config).latest("started_at", "id")
    assert latest.failure_key == failed.failure_key
    assert latest.acknowledged_at is not None
    assert failure_notices().count() == notices
    assert [f for f in automation_failures() if f.recurring_config_id == config.pk] == []
