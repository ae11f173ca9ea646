"""One date style for people: the ``portal_format`` filters."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from portal.templatetags.portal_format import choice_label, due_phrase, due_tone, human_date, human_datetime, tone
from workflows.models import Priority, RunStatus, Task, TaskStatus

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen(settings):
    settings.PORTAL_TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(NOW, tick=False):
        yield


def test_nearby_days_are_words_and_others_are_short_dates():
    assert human_date(dt.date(2026, 12, 4)) == "today"
    assert human_date(dt.date(2026, 12, 5)) == "tomorrow"
    assert human_date(dt.date(2026, 12, 3)) == "yesterday"
    assert human_date(dt.date(2026, 12, 11)) == "Fri 11 Dec"
    assert human_date(dt.date(2026, 12, 4), False) == "Fri 4 Dec"
    assert human_date(dt.date(2027, 1, 8)) == "Fri 8 Jan 2027"
    assert human_date(None) == ""


def test_date_times_read_in_the_operators_zone():
    late_evening_utc = dt.datetime(2026, 12, 4, 23, 30, tzinfo=dt.UTC)  # 00:30 on the 5th in Berlin
    assert human_datetime(late_evening_utc) == "tomorrow 00:30"
    assert human_date(late_evening_utc) == "tomorrow"


def test_due_phrases_count_days_from_today():
    assert due_phrase(dt.date(2026, 12, 1)) == "3 days overdue"
    assert due_phrase(dt.date(2026, 12, 3)) == "1 day overdue"
    assert due_phrase(dt.date(2026, 12, 4)) == "due today"
    assert due_phrase(dt.date(2026, 12, 5)) == "due tomorrow"
    assert due_phrase(dt.date(2026, 12, 8)) == "due in 4 days"
    assert due_phrase(dt.date(2026, 12, 25)) == "due Fri 25 Dec"


def test_enum_values_show_their_labels():
    assert choice_label(Task(status=TaskStatus.IN_PROGRESS), "status") == "In progress"


def test_every_status_and_priority_has_a_tone_by_meaning():
    assert tone(TaskStatus.DONE) == "ok" and tone(RunStatus.ACTIVE) == "ok"
    assert tone(TaskStatus.WAITING) == "warn" and tone(RunStatus.PAUSED) == "warn"
    assert tone(TaskStatus.IN_PROGRESS) == "info"
    assert tone(TaskStatus.SKIPPED) == "muted" and tone(RunStatus.CANCELLED) == "muted"
    assert tone(Priority.URGENT) == "danger" and tone(Priority.HIGH) == "warn"
    assert tone("failed") == "danger" and tone("succeeded") == "ok"
    assert tone("no-such-value") == "muted"
    for value in [*TaskStatus.values, *RunStatus.values, *Priority.values]:
        assert tone(value) in {"ok", "warn", "danger", "info", "muted"}


def test_due_tone_warns_today_and_tomorrow_and_alarms_when_overdue():
    assert due_tone(dt.date(2026, 12, 3)) == "danger"
    assert due_tone(dt.date(2026, 12, 4)) == "warn"
    assert due_tone(dt.date(2026, 12, 5)) == "warn"
    assert due_tone(dt.date(2026, 12, 6)) == "muted"
    assert due_tone(None) == "muted"


def test_stored_status_values_read_as_labels():
    from portal.templatetags.portal_format import status_label

    assert status_label("in_progress") == "In progress"
    assert status_label("todo") == "To do"
    assert status_label("") == ""


def test_durations_read_in_minutes_hours_and_days():
    from portal.templatetags.portal_format import duration_text

    assert duration_text(dt.timedelta(minutes=25)) == "25 min"
    assert duration_text(dt.timedelta(minutes=65)) == "1 h 5 min"
    assert duration_text(dt.timedelta(hours=2)) == "2 h"
    assert duration_text(dt.timedelta(days=2, hours=3)) == "2 days 3 h"
    assert duration_text(dt.timedelta(days=1)) == "1 day"
