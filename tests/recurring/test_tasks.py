"""The scheduler's celery tasks: a beat tick with nothing due, or during a retry back-off, writes
nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from recurring.models import GenerationRun, RecurringConfig
from tests.factories import make_recurring_config, utc

pytestmark = pytest.mark.django_db

FIRE = utc(2028, 2, 2, 9)
NOW = utc(2028, 3, 1, 12)


@pytest.fixture
def broken(monkeypatch):
    """Task creation of configs raises."""

    def explode(config, day, *, created_by_id=None):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(RecurringConfig, "task_for_window", explode)


@pytest.fixture
def daily(time_machine):
    time_machine.move_to(NOW, tick=False)
    return make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 23 * * *", tz="America/New_York")


def _beat(config, at):
    from recurring import tasks

    with time_machine.travel(at, tick=False):
        return tasks.generate_schedule.apply(kwargs={"kind": "recurring", "id": str(config.pk)}).get()


def test_a_beat_tick_before_the_next_fire_time_writes_no_generation_run():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *")
    _beat(config, utc(2028, 2, 2, 9, 0, 1))

    for hour in (10, 11, 12):  # an hourly entry of a daily schedule
        assert _beat(config, utc(2028, 2, 2, hour)) is None

    assert GenerationRun.objects.filter(recurring_config=config).count() == 1


def test_a_beat_tick_during_the_retry_back_off_does_not_generate(broken):
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *")
    _beat(config, FIRE)
    assert RecurringConfig.objects.get(pk=config.pk).retry_at == FIRE + dt.timedelta(minutes=1)

    assert _beat(config, FIRE + dt.timedelta(seconds=30)) is None

    assert GenerationRun.objects.filter(recurring_config=config).count() == 1
