"""celery-beat rows fire on exactly the windows (``docs/schedules.md``).

celery's crontab ANDs day_of_month with day_of_week while ``docs/schedules.md`` ORs them when both are
restricted, so ``Schedule.beat_field_sets()`` may return one field set per day field. Here
celery itself decides when each set fires: ``crontab.remaining_estimate`` with a fixed clock
gives the next run after the last one, and ``is_due`` confirms beat would run it then. The union
of the dates those runs fall on must equal the windows. Dates only: the time of day beat fires
at is its own business (generation is idempotent).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from celery import Celery
from celery.schedules import crontab

from recurring.cron import compile_schedule
from tests.recurring.test_cron_oracle import random_expressions

APP = Celery("beat-dates-test", set_as_current=False)
APP.conf.timezone = "UTC"
APP.conf.enable_utc = True

NAMED = [
    "0 9 1 * MON",
    "0 9 */2 * MON",
    "0 0 1,15 * FRI",
    "0 10 * * WED",
    "0 10 1 * *",
    "30 9 * * 1-5",
    "0 9 * * *",
    "0 * * * *",
    "*/15 9-17 * * 1-5",
    "0 9 1-7 * MON",
    "0 9 10-20/3 */2 SUN,7",
    "0 9 */5 * 1/2",
    "0 9 2-31/2 jan-jun 5-7",
    "0 9 * * 0-7",
    "0 9 1-31 * MON",
    "0 0 31 2 MON",  # February 31st never comes; February's Mondays do
    "0 0 29 2 *",
    "0 0 29,30 2 */7",
    "59 23 31 * *",
    "* * * * 7",
    "0 12 1 1,4,7,10 *",
    "0 9 *,15 * MON",
    "0 9 15 * *,MON",
]
CORPUS = NAMED + random_expressions(seed=44, count=60)


def celery_firing_dates(fields: dict[str, str], start: date, end: date) -> set[date]:
    """Dates in [start, end] on which celery's crontab(**fields) fires, as beat computes them."""
    clock = [datetime.combine(start, time(), tzinfo=UTC) - timedelta(minutes=1)]
    schedule = crontab(**fields, nowfun=lambda: clock[0], app=APP)
    fired: set[date] = set()
    last_run = clock[0]
    while True:
        clock[0] = last_run
        next_run = last_run + schedule.remaining_estimate(last_run)
        if next_run.date() > end:
            return fired
        # Beat's own question at that moment and a minute before.
        clock[0] = next_run - timedelta(minutes=1)
        assert not schedule.is_due(last_run).is_due
        clock[0] = next_run
        assert schedule.is_due(last_run).is_due
        fired.add(next_run.date())
        # Jump to the last minute of that date: the next run is on a later date.
        last_run = datetime.combine(next_run.date(), time(23, 59), tzinfo=UTC)


@pytest.mark.parametrize("expression", CORPUS)
def test_beat_field_sets_fire_on_exactly_the_windows(expression):
    schedule = compile_schedule(expression)
    for start, end in [(date(2026, 1, 1), date(2026, 12, 31)), (date(2028, 1, 1), date(2028, 12, 31))]:
        celery_dates: set[date] = set()
        for fields in schedule.beat_field_sets():
            celery_dates |= celery_firing_dates(fields, start, end)
        assert sorted(celery_dates) == schedule.windows(start, end), schedule.beat_field_sets()


def test_or_schedule_needs_two_beat_rows_because_celery_ands_day_fields():
    schedule = compile_schedule("0 9 1 * MON")
    (dom_only, dow_only) = schedule.beat_field_sets()
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    # One celery crontab with both day fields would fire only on Mondays that are the 1st.
    anded = celery_firing_dates({**dom_only, "day_of_week": dow_only["day_of_week"]}, start, end)
    assert sorted(anded) == [date(2026, 6, 1)]
    assert len(schedule.windows(start, end)) == 12 + 52 - 1


def test_star_step_schedule_stays_one_anded_beat_row():
    assert compile_schedule("0 9 */2 * MON").beat_field_sets() == [
        {"minute": "0", "hour": "9", "month_of_year": "*", "day_of_week": "1", "day_of_month": "*/2"}
    ]


def test_impossible_day_of_month_row_is_left_out_because_celery_refuses_it():
    sets = compile_schedule("0 0 31 2 MON").beat_field_sets()
    assert sets == [{"minute": "0", "hour": "0", "month_of_year": "2", "day_of_week": "1", "day_of_month": "*"}]
    with pytest.raises(ValueError):
        crontab(minute="0", hour="0", day_of_month="31", month_of_year="2", app=APP)
