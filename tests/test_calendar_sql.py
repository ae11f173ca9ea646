"""The calendar expressions computed by the database agree with Python's own calendar."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.factories import TaskFactory
from workflows.calendar_sql import DaysBetween, LocalDate, MinutesBetween, WeekStart, offset_segments
from workflows.models import Task

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def test_offset_segments_follow_daylight_saving_changes():
    segments = offset_segments(BERLIN, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 31, tzinfo=dt.UTC))
    assert [minutes for _, minutes in segments] == [60, 120, 60]
    assert segments[0][0] == dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)
    assert segments[1][0] == dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "completed",
    [
        dt.datetime(2026, 3, 28, 22, 59, tzinfo=dt.UTC),  # 23:59 in winter time
        dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC),  # midnight: the next day
        dt.datetime(2026, 3, 29, 21, 59, tzinfo=dt.UTC),  # 23:59 in summer time
        dt.datetime(2026, 3, 29, 22, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC),  # the repeated hour
        dt.datetime(2026, 10, 25, 22, 59, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 25, 23, 0, tzinfo=dt.UTC),
    ],
)
def test_local_date_matches_python_around_the_changes(completed):
    task = TaskFactory(due_date=dt.date(2026, 3, 28), started_at=completed - dt.timedelta(minutes=90))
    Task.objects.filter(pk=task.pk).update(completed_at=completed)
    row = (
        Task.objects.filter(pk=task.pk)
        .annotate(
            local=LocalDate(
                "completed_at",
                zone=BERLIN,
                start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                end=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
            ),
            minutes=MinutesBetween("started_at", "completed_at"),
            week=WeekStart("due_date"),
        )
        .values("local", "minutes", "week")
        .get()
    )
    assert row["local"] == completed.astimezone(BERLIN).date()
    assert round(row["minutes"]) == 90
    assert row["week"] == dt.date(2026, 3, 23)


def test_days_between_two_dates():
    task = TaskFactory(due_date=dt.date(2026, 2, 27), window_date=dt.date(2026, 3, 2))
    row = Task.objects.filter(pk=task.pk).annotate(days=DaysBetween("due_date", "window_date")).values("days").get()
    assert row["days"] == 3
