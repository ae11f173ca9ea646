"""Insights on a hand-built history: counts, rates, medians, weeks and the per-config history."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from portal.insights import config_history, insights
from recurring.models import RecurringConfig
from tests.factories import TaskFactory
from workflows.models import TaskSource
from workflows.services import instantiate_run, save_template

pytestmark = pytest.mark.django_db

TODAY = dt.date(2028, 2, 9)  # a Wednesday


@pytest.fixture(autouse=True)
def _now(settings):
    settings.PORTAL_TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(dt.datetime(2028, 2, 9, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo("Europe/Berlin"))


def config(title="Slack invites") -> RecurringConfig:
    return RecurringConfig.objects.create(title=title, cron_expression="0 9 * * *")


def occurrence(cfg, due: dt.date, *, start=None, done=None, skip=None, by=None):
    task = TaskFactory(source=TaskSource.RECURRING, recurring_config=cfg, window_date=due, due_date=due, assignee=by)
    if start:
        with time_machine.travel(start, tick=False):
            task.start(by=by)
    if done:
        with time_machine.travel(done, tick=False):
            task.complete(by=by)
    if skip:
        with time_machine.travel(skip, tick=False):
            task.skip(by=by, reason="No invites today")
    return task


def entry_of(data, cfg):
    return next(e for e in data.configs if e.id == cfg.pk)


def test_rates_and_medians_of_a_hand_built_history(operator):
    cfg = config()
    d = TODAY - dt.timedelta(days=10)
    # on time, 30 min (done late evening local time: still the due date in Berlin)
    occurrence(cfg, d, start=local(d, 23, 0), done=local(d, 23, 30), by=operator)
    # two days late, 60 min
    d2 = TODAY - dt.timedelta(days=9)
    occurrence(
        cfg, d2, start=local(d2 + dt.timedelta(days=2), 9), done=local(d2 + dt.timedelta(days=2), 10), by=operator
    )
    # done on time without being started: counts for lateness, not for time to complete
    d3 = TODAY - dt.timedelta(days=8)
    occurrence(cfg, d3, done=local(d3, 8), by=operator)
    # skipped, still open (missed), open but not yet due, and one outside the period
    occurrence(cfg, TODAY - dt.timedelta(days=7), skip=local(TODAY - dt.timedelta(days=7), 9), by=operator)
    occurrence(cfg, TODAY - dt.timedelta(days=6), by=operator)
    occurrence(cfg, TODAY, by=operator)
    occurrence(cfg, TODAY - dt.timedelta(days=40), done=local(TODAY - dt.timedelta(days=40), 9), by=operator)

    entry = entry_of(insights(today=TODAY, days=30), cfg)

    assert (entry.due, entry.done, entry.skipped, entry.open) == (6, 3, 1, 2)
    assert entry.completion_rate == 0.5
    assert entry.on_time_rate == round(2 / 3, 4)
    assert entry.median_minutes_to_complete == 45  # median of 30 and 60
    assert entry.median_days_late == 0  # 0, 2, 0
    assert sum(w.on_time for w in entry.weeks) == 2
    assert sum(w.late for w in entry.weeks) == 1
    assert sum(w.missed for w in entry.weeks) == 2  # the skip and the open task past its due date
    assert all(w.week_start.weekday() == 0 for w in entry.weeks)


def test_weeks_start_on_monday_and_count_by_due_date(operator):
    cfg = config()
    monday = TODAY - dt.timedelta(days=TODAY.weekday())  # 2028-02-07
    occurrence(cfg, monday - dt.timedelta(days=1), done=local(monday, 9), by=operator)  # Sunday, done late
    occurrence(cfg, monday, done=local(monday, 9), by=operator)  # Monday, on time

    weeks = {w.week_start: w for w in entry_of(insights(today=TODAY, days=30), cfg).weeks}

    assert (weeks[monday - dt.timedelta(days=7)].late, weeks[monday - dt.timedelta(days=7)].on_time) == (1, 0)
    assert (weeks[monday].on_time, weeks[monday].late) == (1, 0)


def test_nothing_due_means_null_rates_and_entries_sort_worst_on_time_first(operator):
    quiet, good, poor = config("Quiet"), config("Good"), config("Poor")
    d = TODAY - dt.timedelta(days=3)
    occurrence(good, d, done=local(d, 9), by=operator)
    occurrence(poor, d, done=local(d + dt.timedelta(days=1), 9), by=operator)

    data = insights(today=TODAY, days=30)

    assert [e.title for e in data.configs] == ["Poor", "Good", "Quiet"]
    quiet_entry = entry_of(data, quiet)
    assert (quiet_entry.completion_rate, quiet_entry.on_time_rate, quiet_entry.median_days_late) == (None, None, None)


def test_templates_are_counted_through_their_runs(operator):
    template = save_template(
        data={"name": "Newsletter", "stages": ["draft"]},
        tasks=[{"ref": "draft", "title": "Draft", "stage": "draft", "offset_days": -1}],
    )
    run = instantiate_run(template=template, anchor_date=TODAY - dt.timedelta(days=4)).run
    task = run.tasks.get()
    with time_machine.travel(local(TODAY - dt.timedelta(days=5), 9), tick=False):
        task.complete(by=operator)

    entry = next(e for e in insights(today=TODAY, days=30).templates if e.id == template.pk)

    assert (entry.due, entry.done, entry.on_time_rate) == (1, 1, 1.0)


def test_the_period_is_bounded_and_a_config_history_lists_each_window(operator):
    cfg = config()
    d = TODAY - dt.timedelta(days=2)
    occurrence(cfg, d, start=local(d, 9), done=local(d + dt.timedelta(days=1), 9, 30), by=operator)
    occurrence(cfg, TODAY - dt.timedelta(days=1), skip=local(TODAY, 8), by=operator)

    history = config_history(cfg, today=TODAY, days=30)

    assert [t.window_date for t in history] == [TODAY - dt.timedelta(days=1), d]
    assert history[0].missed and history[0].days_late is None
    assert history[1].days_late == 1 and history[1].worked == dt.timedelta(days=1, minutes=30)
    with pytest.raises(ValueError):
        insights(today=TODAY, days=0)
    with pytest.raises(ValueError):
        insights(today=TODAY, days=367)


def test_insights_use_a_constant_number_of_queries(operator, django_assert_max_num_queries):
    def build(n):
        for i in range(n):
            cfg = config(f"Duty {RecurringConfig.objects.count()}")
            d = TODAY - dt.timedelta(days=i % 20 + 1)
            occurrence(cfg, d, done=local(d, 9), by=operator)

    build(2)
    with django_assert_max_num_queries(8) as small:
        insights(today=TODAY, days=90)
    build(25)
    with django_assert_max_num_queries(len(small.captured_queries)):
        insights(today=TODAY, days=90)
