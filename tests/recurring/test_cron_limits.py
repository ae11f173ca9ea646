"""``recurring.cron`` at the end of the calendar: fire times past the representable range are
absent, never an overflow."""

from __future__ import annotations

import datetime as dt

import pytest

from recurring import cron

pytestmark = pytest.mark.django_db


def test_fire_times_past_the_representable_range_are_absent():
    schedule = cron.compile_schedule("0 23 * * *", "America/New_York")
    end_of_time = dt.datetime.max.replace(tzinfo=dt.UTC)

    assert schedule.fire_time(dt.date(9999, 12, 31)) is cron.BEYOND_RANGE
    assert schedule.windows_due(start=dt.date(9999, 12, 30), after=None, until=end_of_time) == [
        (dt.date(9999, 12, 30), dt.datetime(9999, 12, 31, 4, 0, tzinfo=dt.UTC))
    ]
    assert schedule.next_fire_times(dt.datetime(9999, 12, 30, tzinfo=dt.UTC)) == [
        dt.datetime(9999, 12, 30, 4, 0, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 4, 0, tzinfo=dt.UTC),
    ]


def test_instants_whose_local_date_is_past_the_calendar_do_not_overflow():
    schedule = cron.compile_schedule("30 2 * * *", "Asia/Tokyo")
    late = dt.datetime(9999, 12, 31, 20, tzinfo=dt.UTC)  # already 10000-01-01 in Tokyo

    assert schedule.next_fire_times(late) == []
    assert schedule.windows_due(start=dt.date(9999, 12, 30), after=late, until=late) == []
