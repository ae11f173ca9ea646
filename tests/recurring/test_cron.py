"""recurring/cron.py: validation, the Vixie day rule, windows, DST fire times, explanations.

Pure tests: no database, no Django.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from recurring.cron import CronError, Schedule, compile_schedule, explain, validate, validate_timezone

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """The UTC instant of a local wall time (PEP 495 makes inter-zone == False in a fold)."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def every_day(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "normalised"),
    [
        ("0 9 * * *", "0 9 * * *"),
        ("  0   9\t* *  MON ", "0 9 * * MON"),
        ("*/15 9-17 * * 1-5", "*/15 9-17 * * 1-5"),
        ("0 0 1,15 * FRI", "0 0 1,15 * FRI"),
        ("0 9 * jan,JUL mon-fri", "0 9 * jan,JUL mon-fri"),
        ("0 0 * * 7", "0 0 * * 7"),
        ("0 0 * * 0-7", "0 0 * * 0-7"),
        ("5/10 * * * *", "5/10 * * * *"),
        ("0 12 29 2 *", "0 12 29 2 *"),
        ("0 0 31 2 MON", "0 0 31 2 MON"),  # Feb 31 never occurs, but the Mondays of February do
        ("59 23 31 12 SUN", "59 23 31 12 SUN"),
        ("0-59/30 0-23/6 1-31/10 1-12/3 0-7/2", "0-59/30 0-23/6 1-31/10 1-12/3 0-7/2"),
        ("0 9 5-5 * *", "0 9 5-5 * *"),
        # Any step above zero, as in Vixie/Debian cron.
        ("*/61 * * * *", "*/61 * * * *"),
        ("0 0 * * */8", "0 0 * * */8"),
        ("1 1 */100,1-7 * MON", "1 1 */100,1-7 * MON"),
        ("0 0 */99999999999999999999 * *", "0 0 */99999999999999999999 * *"),
    ],
)
def test_validate_accepts_standard_five_field_syntax_and_normalises_spacing(expression, normalised):
    assert validate(expression) == normalised


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "0 9 * * * *",
            "cron expression must have exactly 5 fields (minute hour day-of-month month day-of-week); got 6",
        ),
        ("0 9 * *", "cron expression must have exactly 5 fields (minute hour day-of-month month day-of-week); got 4"),
        ("0 0 9 * * * 2030", "got 7"),
        ("", "cron expression is empty"),
        ("   ", "cron expression is empty"),
        ("@daily", "'@daily' macros are not supported: write the five fields, e.g. '0 0 * * *'"),
        ("@hourly", "'@hourly' macros are not supported: write the five fields, e.g. '0 * * * *'"),
        ("@reboot", "'@reboot' macros are not supported: write the five fields"),
        ("0 9 L * *", "day-of-month: 'L' (last day) is not supported"),
        ("0 9 * * 5L", "day-of-week: 'L' (last day) is not supported"),
        ("0 9 LW * *", "day-of-month: 'L' (last day) is not supported"),
        ("0 9 15W * *", "day-of-month: 'W' (nearest weekday) is not supported"),
        ("0 9 * * MON#1", "day-of-week: '#' (nth weekday of the month, as in 'MON#1') is not supported"),
        ("0 9 ? * MON", "day-of-month: '?' is not supported: use '*' for any value"),
        ("H 9 * * *", "minute: 'H' (hashed value) is not supported"),
        ("H/15 * * * *", "minute: 'H' (hashed value) is not supported"),
        ("60 * * * *", "minute: 60 is out of range 0-59"),
        ("0 24 * * *", "hour: 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month: 0 is out of range 1-31"),
        ("0 0 32 * *", "day-of-month: 32 is out of range 1-31"),
        ("0 0 * 13 *", "month: 13 is out of range 1-12"),
        ("0 0 * 0 *", "month: 0 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
        ("0 1-24 * * *", "hour: 24 is out of range 0-23"),
        ("*/0 * * * *", "minute: step 0 in '*/0' must be 1 or more"),
        ("0 0 1-9/00 * *", "day-of-month: step 0 in '1-9/00' must be 1 or more"),
        # Unsupported constructs are named wherever they stand in a field.
        ("0 9 1-L * *", "day-of-month: 'L' (last day) is not supported"),
        ("0 9 L/2 * *", "day-of-month: 'L' (last day) is not supported"),
        ("0 9 1,L-3 * *", "day-of-month: 'L' (last day) is not supported"),
        ("0 9 15W-20 * *", "day-of-month: 'W' (nearest weekday) is not supported"),
        ("0 9 * * 1-5,R", "day-of-week: 'R' (random value) is not supported"),
        ("R 9 * * *", "minute: 'R' (random value) is not supported"),
        ("0 1-H * * *", "hour: 'H' (hashed value) is not supported"),
        ("0~30 9 * * *", "minute: '~' (random value) is not supported"),
        ("0 9 ?,1 * *", "day-of-month: '?' is not supported"),
        # A plain mistake in an earlier field does not hide a construct we cannot run at all.
        ("*/0 9 * * MON#1", "day-of-week: '#' (nth weekday of the month, as in 'MON#1') is not supported"),
        ("0 99 */0 * 5L", "day-of-week: 'L' (last day) is not supported"),
        ("0 9 32 * W1", "day-of-week: 'W' (nearest weekday) is not supported"),
        ("*/x * * * *", "minute: step 'x' in '*/x' is not a number"),
        ("*/ * * * *", "minute: missing step after '/' in '*/'"),
        ("0 0 * * MOM", "day-of-week: unknown name 'MOM' (use SUN-SAT or 0-7)"),
        ("0 0 * FOO *", "month: unknown name 'FOO' (use JAN-DEC or 1-12)"),
        ("0 0 * * JAN", "day-of-week: unknown name 'JAN'"),
        ("0 0 * MON *", "month: unknown name 'MON'"),
        ("abc 0 * * *", "minute: 'abc' is not a number"),
        ("0 MON * * *", "hour: 'MON' is not a number"),
        ("1,,2 0 * * *", "minute: empty item in the list"),
        ("0 0 1, * *", "day-of-month: empty item in the list"),
        ("0 17-9 * * *", "hour: range '17-9' runs backwards; cron ranges cannot wrap around"),
        ("0 0 * * FRI-MON", "day-of-week: range 'FRI-MON' runs backwards"),
        ("5-5/10 * * * *", "minute: '5-5/10' is ambiguous: write '5' or '5/10'"),
        ("0 -5 * * *", "hour: '-5' is not a valid value or range"),
        ("0 5- * * *", "hour: '5-' is not a valid value or range"),
        ("0 *-5 * * *", "hour: '*' cannot be part of a range in '*-5'"),
        ("0 0 31 2 *", "day-of-month: 31 never occurs in February, so the schedule would never run"),
        ("0 0 31 4,6 *", "day-of-month: 31 never occurs in April and June"),
        ("0 0 30,31 2 */2", "day-of-month: 30 and 31 never occur in February"),
    ],
)
def test_validate_refuses_with_a_reason(expression, message):
    with pytest.raises(CronError) as refused:
        validate(expression)
    assert message in str(refused.value)


def test_validate_refuses_non_text():
    with pytest.raises(CronError, match="must be text"):
        validate(None)  # type: ignore[arg-type]


def test_cron_error_is_a_value_error():
    assert issubclass(CronError, ValueError)


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", "America/New_York", " Asia/Kolkata "])
def test_validate_timezone_accepts_iana_names(name):
    assert validate_timezone(name) == name.strip()


@pytest.mark.parametrize("name", ["Mars/Olympus", "CEST", "../etc/passwd", "Europe/"])
def test_validate_timezone_refuses_unknown_names(name):
    with pytest.raises(CronError, match=r"unknown time zone"):
        validate_timezone(name)


def test_validate_timezone_refuses_empty_names():
    with pytest.raises(CronError, match="time zone is empty"):
        validate_timezone("")


def test_compile_schedule_refuses_an_unknown_zone():
    with pytest.raises(CronError, match="unknown time zone 'Mars/Olympus'"):
        compile_schedule("0 9 * * *", "Mars/Olympus")


def test_compile_schedule_is_cached_and_the_schedule_is_immutable():
    schedule = compile_schedule("0 9 * * MON", BERLIN)
    assert compile_schedule("0 9 * * MON", BERLIN) is schedule
    assert (schedule.expression, schedule.timezone) == ("0 9 * * MON", BERLIN)
    with pytest.raises(AttributeError):
        schedule.expression = "0 10 * * *"  # type: ignore[misc]


def test_schedule_keeps_the_normalised_expression():
    assert Schedule("  0  9 * *   MON").expression == "0 9 * * MON"


# --- day rule (Vixie) ----------------------------------------------------------------------------


def test_both_day_fields_restricted_means_the_first_of_the_month_or_any_monday():
    schedule = compile_schedule("0 9 1 * MON")
    start, end = date(2026, 1, 1), date(2026, 6, 30)
    expected = [d for d in every_day(start, end) if d.day == 1 or d.weekday() == 0]
    assert schedule.windows(start, end) == expected
    assert date(2026, 4, 1) in expected and date(2026, 4, 6) in expected  # a Wednesday and a Monday


def test_weekday_range_yields_weekdays_only():
    start, end = date(2026, 1, 1), date(2026, 3, 31)
    assert compile_schedule("0 9 * * 1-5").windows(start, end) == [d for d in every_day(start, end) if d.weekday() < 5]


def test_star_step_day_of_month_counts_as_unrestricted_so_days_are_anded():
    # Vixie/Debian: '*/2' starts with '*', so "odd days AND Mondays" (croniter would OR them).
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    windows = compile_schedule("0 9 */2 * MON").windows(start, end)
    assert windows == [d for d in every_day(start, end) if d.day % 2 == 1 and d.weekday() == 0]


def test_odd_mondays_in_2025_are_27_windows_as_in_debian_cron():
    # Known figure: Debian cron (and cronsim) fire '0 0 */2 * 1' on 27 dates in 2025; croniter,
    # which treats '*/2' as a restricted day-of-month and ORs the fields, yields 210.
    assert len(compile_schedule("0 0 */2 * 1").windows(date(2025, 1, 1), date(2025, 12, 31))) == 27


def test_full_day_of_month_list_is_restricted_so_or_makes_every_day_a_window():
    # '1-31' does not start with '*': both fields restricted, OR -> every day matches.
    start, end = date(2026, 2, 1), date(2026, 2, 28)
    assert compile_schedule("0 0 1-31 * MON").windows(start, end) == every_day(start, end)


def test_star_list_in_day_of_week_ands_with_day_of_month():
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    assert compile_schedule("0 0 1 * *,MON").windows(start, end) == [date(2026, m, 1) for m in range(1, 13)]


def test_day_of_week_7_is_sunday():
    start, end = date(2026, 1, 1), date(2026, 1, 31)
    sundays = [d for d in every_day(start, end) if d.weekday() == 6]
    assert compile_schedule("0 0 * * 7").windows(start, end) == sundays
    assert compile_schedule("0 0 * * 0,7").windows(start, end) == sundays
    assert compile_schedule("0 0 * * sun").windows(start, end) == sundays


def test_day_of_week_start_with_step_runs_to_sunday_7():
    # cronsim and Debian read '1/2' in day-of-week as 1-7/2: Monday, Wednesday, Friday, Sunday.
    start, end = date(2026, 1, 1), date(2026, 1, 31)
    assert compile_schedule("0 0 * * 1/2").windows(start, end) == [
        d for d in every_day(start, end) if d.weekday() in (0, 2, 4, 6)
    ]


def test_equal_range_is_a_single_value_not_the_whole_field():
    # croniter widens '5-5' to every day; cron means day 5 only.
    assert compile_schedule("0 9 5-5 * *").windows(date(2026, 1, 1), date(2026, 2, 28)) == [
        date(2026, 1, 5),
        date(2026, 2, 5),
    ]


def test_months_restrict_windows():
    windows = compile_schedule("0 9 1 JAN,jul *").windows(date(2026, 1, 1), date(2027, 12, 31))
    assert windows == [date(2026, 1, 1), date(2026, 7, 1), date(2027, 1, 1), date(2027, 7, 1)]


def test_leap_day_window_only_in_leap_years():
    assert compile_schedule("0 9 29 2 *").windows(date(2025, 1, 1), date(2029, 12, 31)) == [date(2028, 2, 29)]


def test_is_window_agrees_with_windows():
    schedule = compile_schedule("0 9 1 * MON")
    assert schedule.is_window(date(2026, 4, 1))
    assert schedule.is_window(date(2026, 4, 6))
    assert not schedule.is_window(date(2026, 4, 7))


def test_windows_are_inclusive_and_empty_for_a_reversed_range():
    schedule = compile_schedule("0 9 * * *")
    assert schedule.windows(date(2026, 1, 5), date(2026, 1, 5)) == [date(2026, 1, 5)]
    assert schedule.windows(date(2026, 1, 6), date(2026, 1, 5)) == []


def test_windows_span_year_boundaries():
    windows = compile_schedule("0 9 31 * *").windows(date(2025, 12, 1), date(2026, 3, 31))
    assert windows == [date(2025, 12, 31), date(2026, 1, 31), date(2026, 3, 31)]


# --- fire times and DST --------------------------------------------------------------------------


def test_fire_time_is_the_earliest_matching_minute_of_the_day_in_utc():
    schedule = compile_schedule("45,15 17,9 * * *", BERLIN)
    fire = schedule.fire_time(date(2026, 1, 15))
    assert fire == local(BERLIN, 2026, 1, 15, 9, 15) == utc(2026, 1, 15, 8, 15)
    assert fire.tzinfo is UTC


def test_fire_time_of_a_non_window_is_refused():
    with pytest.raises(CronError, match="2026-04-07 is not a window of '0 9 1 \\* MON'"):
        compile_schedule("0 9 1 * MON").fire_time(date(2026, 4, 7))


def test_berlin_spring_forward_keeps_the_window_and_fires_when_the_gap_ends():
    schedule = compile_schedule("30 2 * * *", BERLIN)
    assert date(2026, 3, 29) in schedule.windows(date(2026, 3, 28), date(2026, 3, 30))
    # 02:30 does not exist on 2026-03-29: fire at 03:00 CEST, the first instant after the gap.
    assert schedule.fire_time(date(2026, 3, 29)) == utc(2026, 3, 29, 1, 0)
    assert schedule.fire_time(date(2026, 3, 28)) == utc(2026, 3, 28, 1, 30)  # 02:30 CET
    assert schedule.fire_time(date(2026, 3, 30)) == utc(2026, 3, 30, 0, 30)  # 02:30 CEST


def test_berlin_fall_back_fires_once_at_the_first_occurrence():
    schedule = compile_schedule("30 2 * * *", BERLIN)
    assert schedule.windows(date(2026, 10, 25), date(2026, 10, 25)) == [date(2026, 10, 25)]
    assert schedule.fire_time(date(2026, 10, 25)) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    fires = schedule.next_fire_times(utc(2026, 10, 24, 12, 0), count=3)
    assert fires == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30)]


def test_fixed_time_job_with_some_minutes_in_the_gap_fires_when_the_gap_ends():
    # Mixed case, decided by the cronsim differential test: Debian cron runs a fixed-time job
    # whose time was skipped right after the change, so 02:30 becomes 03:00 CEST and that is
    # earlier than the 04:30 that does exist.
    schedule = compile_schedule("30 2,4 * * *", BERLIN)
    assert schedule.fire_time(date(2026, 3, 29)) == local(BERLIN, 2026, 3, 29, 3, 0)


def test_wildcard_job_with_some_minutes_in_the_gap_skips_them():
    # Mixed case for a wildcard job (minute field starts with '*'): Debian cron skips the
    # nonexistent minutes and fires at the first matching minute that exists, 04:00 CEST.
    schedule = compile_schedule("*/30 2,4 * * *", BERLIN)
    assert schedule.fire_time(date(2026, 3, 29)) == local(BERLIN, 2026, 3, 29, 4, 0)


def test_wildcard_job_with_every_minute_in_the_gap_keeps_its_window():
    # Debian cron would not run '*/30 2 * * *' at all that day; DST never removes a window
    # (``docs/schedules.md``), so it fires at the first instant after the gap.
    schedule = compile_schedule("*/30 2 * * *", BERLIN)
    assert schedule.is_window(date(2026, 3, 29))
    assert schedule.fire_time(date(2026, 3, 29)) == local(BERLIN, 2026, 3, 29, 3, 0)


def test_wildcard_hour_job_fires_at_the_first_occurrence_on_fall_back():
    schedule = compile_schedule("*/20 2 * * *", BERLIN)
    assert schedule.fire_time(date(2026, 10, 25)) == local(BERLIN, 2026, 10, 25, 2, 0, fold=0)
    assert schedule.fire_time(date(2026, 10, 25)) == utc(2026, 10, 25, 0, 0)


def test_new_york_spring_forward_and_fall_back():
    skipped = compile_schedule("30 2 * * *", NEW_YORK)
    assert skipped.fire_time(date(2026, 3, 8)) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    repeated = compile_schedule("30 1 * * *", NEW_YORK)
    assert repeated.fire_time(date(2026, 11, 1)) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, first
    assert repeated.windows(date(2026, 10, 31), date(2026, 11, 2)) == [
        date(2026, 10, 31),
        date(2026, 11, 1),
        date(2026, 11, 2),
    ]


def test_new_york_morning_job_moves_in_utc_but_not_in_local_time():
    schedule = compile_schedule("0 9 * * *", NEW_YORK)
    assert schedule.fire_time(date(2026, 3, 7)) == utc(2026, 3, 7, 14, 0)  # EST
    assert schedule.fire_time(date(2026, 3, 9)) == utc(2026, 3, 9, 13, 0)  # EDT


def test_sydney_transitions():
    schedule = compile_schedule("30 2 * * *", SYDNEY)
    assert schedule.fire_time(date(2026, 10, 4)) == local(SYDNEY, 2026, 10, 4, 3, 0)  # gap 02:00-03:00
    assert schedule.fire_time(date(2026, 10, 4)) == utc(2026, 10, 3, 16, 0)
    assert schedule.fire_time(date(2026, 4, 5)) == utc(2026, 4, 4, 15, 30)  # 02:30 AEDT, first


def test_kolkata_half_hour_offset():
    assert compile_schedule("0 9 * * *", "Asia/Kolkata").fire_time(date(2026, 6, 1)) == utc(2026, 6, 1, 3, 30)


# --- windows_due / next_fire_times ---------------------------------------------------------------


def test_windows_due_excludes_after_and_includes_until():
    schedule = compile_schedule("0 9 * * *")
    due = schedule.windows_due(start=date(2026, 1, 1), after=utc(2026, 1, 5, 9, 0), until=utc(2026, 1, 8, 9, 0))
    assert due == [
        (date(2026, 1, 6), utc(2026, 1, 6, 9, 0)),
        (date(2026, 1, 7), utc(2026, 1, 7, 9, 0)),
        (date(2026, 1, 8), utc(2026, 1, 8, 9, 0)),
    ]


def test_windows_due_without_after_starts_at_start():
    schedule = compile_schedule("0 9 * * *")
    due = schedule.windows_due(start=date(2026, 1, 7), after=None, until=utc(2026, 1, 8, 8, 59))
    assert due == [(date(2026, 1, 7), utc(2026, 1, 7, 9, 0))]


def test_windows_due_respects_start_even_when_after_is_earlier():
    schedule = compile_schedule("0 9 * * *")
    due = schedule.windows_due(start=date(2026, 1, 8), after=utc(2025, 12, 1), until=utc(2026, 1, 9, 12))
    assert [day for day, _ in due] == [date(2026, 1, 8), date(2026, 1, 9)]


def test_windows_due_compares_fire_times_in_the_schedule_zone():
    schedule = compile_schedule("0 9 * * *", BERLIN)
    # 09:00 CET is 08:00 UTC.
    due = schedule.windows_due(start=date(2026, 1, 1), after=utc(2026, 1, 7, 8, 0), until=utc(2026, 1, 8, 8, 0))
    assert due == [(date(2026, 1, 8), utc(2026, 1, 8, 8, 0))]


def test_windows_due_across_the_spring_gap():
    schedule = compile_schedule("30 2 * * *", BERLIN)
    due = schedule.windows_due(start=date(2026, 3, 1), after=utc(2026, 3, 28, 12), until=utc(2026, 3, 30, 12))
    assert due == [(date(2026, 3, 29), utc(2026, 3, 29, 1, 0)), (date(2026, 3, 30), utc(2026, 3, 30, 0, 30))]


def test_naive_datetimes_are_refused():
    schedule = compile_schedule("0 9 * * *")
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.next_fire_times(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.windows_due(start=date(2026, 1, 1), after=None, until=datetime(2026, 1, 2))


def test_next_fire_times_gives_five_one_per_window_even_for_an_hourly_cron():
    fires = compile_schedule("0 * * * *").next_fire_times(utc(2026, 1, 1, 10, 30))
    assert fires == [utc(2026, 1, d, 0, 0) for d in range(2, 7)]


def test_next_fire_times_includes_today_until_its_fire_time_has_passed():
    schedule = compile_schedule("0 9 * * *", BERLIN)
    assert schedule.next_fire_times(utc(2026, 1, 1, 7, 59), count=2) == [utc(2026, 1, 1, 8), utc(2026, 1, 2, 8)]
    assert schedule.next_fire_times(utc(2026, 1, 1, 8, 0), count=1) == [utc(2026, 1, 2, 8)]


def test_next_fire_times_follow_the_or_rule():
    fires = compile_schedule("0 9 1 * MON").next_fire_times(utc(2026, 3, 28))
    assert [f.date() for f in fires] == [
        date(2026, 3, 30),
        date(2026, 4, 1),
        date(2026, 4, 6),
        date(2026, 4, 13),
        date(2026, 4, 20),
    ]


def test_next_fire_time_finds_sparse_schedules_years_ahead():
    assert compile_schedule("0 0 29 2 *").next_fire_time(utc(2026, 1, 1)) == utc(2028, 2, 29)
    # 29 February that is also a Sunday ('*/7' = 0,7): 2032, then 2060.
    assert compile_schedule("0 0 29 2 */7").next_fire_times(utc(2026, 1, 1), count=2) == [
        utc(2032, 2, 29),
        utc(2060, 2, 29),
    ]


def test_next_fire_times_stop_at_the_end_of_the_calendar():
    assert compile_schedule("0 0 * * *").next_fire_times(utc(9999, 12, 30), count=5) == [utc(9999, 12, 31)]


# --- explain -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 9 * * MON", "At 09:00, only on Monday"),
        ("0 9 * * *", "At 09:00, every day"),
        ("30 9 * * 1-5", "At 09:30, Monday through Friday"),
        ("0 10 1 * *", "At 10:00, on day 1 of the month"),
        ("0 9 1 * MON", "At 09:00, on day 1 of the month and on every Monday"),
        ("0 9 */2 * MON", "At 09:00, on odd days of the month (1, 3, 5, …) if it is a Monday"),
        ("0 * * * *", "Every hour at minute 0, every day"),
        ("*/15 9-17 * * 1-5", "Every 15 minutes from 09:00 through 17:45, Monday through Friday"),
        ("0 9 * 1,7 *", "At 09:00, every day, only in January and July"),
        ("0 9 1 1 *", "At 09:00, on day 1 of the month, only in January"),
        ("0 8 * 3-10 *", "At 08:00, every day, only from March through October"),
        ("0 0 1,15 * FRI", "At 00:00, on days 1 and 15 of the month and on every Friday"),
        ("0 9 1-7 * *", "At 09:00, on days 1 through 7 of the month"),
        ("0 9 1-7 * MON", "At 09:00, on days 1 through 7 of the month and on every Monday"),
        ("0 9 */2 * *", "At 09:00, on odd days of the month (1, 3, 5, …)"),
        ("0 9 2-31/2 * *", "At 09:00, on even days of the month (2, 4, 6, …)"),
        ("0 9 * * MON,WED,FRI", "At 09:00, only on Monday, Wednesday and Friday"),
        ("0 9 * * 0,6", "At 09:00, only on Saturday and Sunday"),
        ("0 9 * * 5-7", "At 09:00, Friday through Sunday"),
        ("0 9 * * 0-7", "At 09:00, every day"),
        ("0 9 1 * 1-5", "At 09:00, on day 1 of the month and on Monday through Friday"),
        ("0 9 */2 * 1,5", "At 09:00, on odd days of the month (1, 3, 5, …) if it is a Monday or Friday"),
        ("0 9 1-31 * MON", "At 09:00, every day"),
        ("0 9,17 * * *", "At 09:00 and 17:00, every day"),
        ("15 9-11 * * *", "At 09:15, 10:15 and 11:15, every day"),
        ("0 9-17 * * *", "Every hour from 09:00 through 17:00, every day"),
        ("0 */2 * * *", "Every 2 hours at minute 0, every day"),
        ("* * * * *", "Every minute, every day"),
        ("*/5 * * * *", "Every 5 minutes, every day"),
        ("* 9 * * *", "Every minute from 09:00 through 09:59, every day"),
        ("0 0 1-3,10,20 * *", "At 00:00, on days 1 through 3, 10 and 20 of the month"),
    ],
)
def test_explain_in_plain_words(expression, words):
    assert explain(expression) == words
    assert compile_schedule(expression, BERLIN).explain() == words


def test_explain_refuses_invalid_expressions():
    with pytest.raises(CronError):
        explain("0 9 L * *")


# --- beat field sets (the celery semantics are checked in test_beat_dates.py) --------------------


def test_beat_field_sets_split_an_or_schedule_into_one_set_per_day_field():
    assert compile_schedule("0 9 1 * MON").beat_field_sets() == [
        {"minute": "0", "hour": "9", "month_of_year": "*", "day_of_week": "*", "day_of_month": "1"},
        {"minute": "0", "hour": "9", "month_of_year": "*", "day_of_week": "1", "day_of_month": "*"},
    ]


def test_beat_field_sets_keep_an_and_schedule_in_one_set_with_numeric_sunday():
    assert compile_schedule("*/15 9-17 */2 jan-mar SUN,7").beat_field_sets() == [
        {"minute": "*/15", "hour": "9-17", "month_of_year": "1-3", "day_of_week": "0", "day_of_month": "*/2"},
    ]


# --- properties ----------------------------------------------------------------------------------


def _term(low: int, high: int, max_step: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    step = st.integers(1, max_step)
    pair = st.tuples(value, value).filter(lambda p: p[0] < p[1])
    strategies = [
        st.just("*"),
        step.map(lambda s: f"*/{s}"),
        value.map(str),
        pair.map(lambda p: f"{p[0]}-{p[1]}"),
        st.tuples(pair, step).map(lambda t: f"{t[0][0]}-{t[0][1]}/{t[1]}"),
        st.tuples(value, step).map(lambda t: f"{t[0]}/{t[1]}"),
    ]
    if names:
        strategies.append(st.sampled_from(names + tuple(n.lower() for n in names)))
    return st.one_of(strategies)


DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _field(term: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(term, min_size=1, max_size=3).map(",".join)


expressions = st.tuples(
    # Bias minutes and hours toward DST-relevant values and few firings per day.
    _field(st.one_of(st.sampled_from(["0", "30", "59", "*/20"]), _term(0, 59, 60))),
    _field(st.one_of(st.sampled_from(["0", "1", "2", "3", "2-3", "*"]), _term(0, 23, 24))),
    _field(_term(1, 31, 31)),
    _field(_term(1, 12, 12, MONTH_NAMES)),
    _field(_term(0, 7, 7, DAY_NAMES)),
).map(" ".join)


def _valid(expression: str) -> bool:
    try:
        validate(expression)
    except CronError:
        return False
    return True


@settings(max_examples=250, deadline=None)
@given(
    expression=expressions,
    zone=st.sampled_from(ZONES),
    start=st.dates(date(2024, 1, 1), date(2028, 12, 31)),
    length=st.integers(0, 400),
)
def test_windows_and_fire_times_are_consistent_across_dst(expression, zone, start, length):
    assume(_valid(expression))
    schedule = compile_schedule(expression, zone)
    tz = ZoneInfo(zone)
    end = start + timedelta(days=length)
    windows = schedule.windows(start, end)

    # Windows are exactly the matching days: sorted, no repeats, DST adds or removes none.
    assert windows == [d for d in every_day(start, end) if schedule.is_window(d)]
    assert all(a < b for a, b in zip(windows, windows[1:], strict=False))

    fires = [schedule.fire_time(d) for d in windows]
    assert all(a < b for a, b in zip(fires, fires[1:], strict=False))
    minutes, hours = _minutes_and_hours(expression)
    for window, fire in zip(windows, fires, strict=True):
        assert fire.tzinfo is UTC
        wall = fire.astimezone(tz)
        # In these zones no gap crosses midnight, so a window always fires on its own date
        # (a gap ending after midnight would move the fire time to the next date).
        assert wall.date() == window
        if wall.hour not in hours or wall.minute not in minutes:
            # Only a spring-forward gap may move the fire time off the matching minutes, and
            # then it lands exactly where the gap ends.
            assert (fire - timedelta(seconds=1)).astimezone(tz).utcoffset() != wall.utcoffset()
        else:
            # Otherwise it is the earliest matching minute at or after local midnight.
            earlier = [(h, m) for h in hours for m in minutes if (h, m) < (wall.hour, wall.minute)]
            for h, m in earlier:  # every earlier matching minute must be nonexistent that day
                candidate = datetime(window.year, window.month, window.day, h, m, tzinfo=tz)
                assert candidate.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != candidate.replace(tzinfo=None)
            if wall.fold == 1:  # repeated hour: must be the first occurrence
                pytest.fail(f"{window}: fired at the second occurrence {wall}")

    # windows_due and next_fire_times agree with windows + fire_time.
    if windows:
        after = fires[0] - timedelta(seconds=1)
        until = fires[-1]
        assert schedule.windows_due(start=start, after=after, until=until) == list(zip(windows, fires, strict=True))
        assert schedule.next_fire_times(after, count=min(5, len(fires))) == fires[:5]


def _minutes_and_hours(expression: str) -> tuple[set[int], list[int]]:
    from cronsim import CronSim

    parsed = CronSim(expression, datetime(2026, 1, 1))
    return set(parsed.minutes), sorted(parsed.hours)


@settings(max_examples=100, deadline=None)
@given(
    expression=expressions,
    zone=st.sampled_from(ZONES),
    moment=st.datetimes(datetime(2024, 1, 1), datetime(2028, 12, 31)),
)
def test_next_fire_times_are_increasing_one_per_window_and_after_the_moment(expression, zone, moment):
    assume(_valid(expression))
    schedule = compile_schedule(expression, zone)
    after = moment.replace(tzinfo=UTC)
    fires = schedule.next_fire_times(after, count=5)
    assert len(fires) == 5
    assert all(f > after for f in fires)
    assert all(a < b for a, b in zip(fires, fires[1:], strict=False))
    dates = [f.astimezone(ZoneInfo(zone)).date() for f in fires]
    assert len(set(dates)) == 5
    assert all(schedule.is_window(d) for d in dates)
    # No window was skipped between them.
    assert schedule.windows(dates[0], dates[-1]) == dates
