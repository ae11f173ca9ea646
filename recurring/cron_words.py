"""Cron expressions in plain words ("At 09:00, only on Monday"): the explanation half of
``recurring.cron``, kept in a module of its own so each half stays readable. Pure like
``recurring.cron``: no Django, no project imports beyond it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cron import MONTH_WORDS, WEEKDAY_WORDS, _runs, _step_of

if TYPE_CHECKING:
    from .cron import _Parsed


def join_words(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def number_list(values: list[int], fmt: str = "{}") -> str:
    """'1, 3 and 5' / '1 through 7 and 15' with runs of three or more collapsed."""
    parts = []
    for first, last in _runs(values):
        if last - first >= 2:
            parts.append(f"{fmt.format(first)} through {fmt.format(last)}")
        else:
            parts.extend(fmt.format(v) for v in range(first, last + 1))
    return join_words(parts)


def _clock(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


def _explain_time(minutes: list[int], hours: list[int]) -> str:
    all_minutes, all_hours = len(minutes) == 60, len(hours) == 24
    if len(minutes) * len(hours) <= 6 and not all_minutes:
        return "At " + join_words([_clock(h, m) for h in hours for m in minutes])

    minute_step = _step_of(minutes, 0, 59)
    if all_minutes:
        what = "Every minute"
    elif minute_step is not None:
        what = f"Every {minute_step} minutes"
    elif len(minutes) == 1:
        what = f"At minute {minutes[0]}"
    else:
        what = f"At minutes {number_list(minutes)}"

    if all_hours:
        if len(minutes) == 1:
            return f"Every hour at minute {minutes[0]}"
        return what if what.startswith("Every") else f"{what} past every hour"

    hour_runs = _runs(hours)
    if len(hour_runs) == 1:
        first, last = hour_runs[0]
        span = f"from {_clock(first, minutes[0])} through {_clock(last, minutes[-1])}"
        if len(minutes) == 1:
            return f"Every hour {span}"
        return f"{what} {span}" if what.startswith("Every") else f"{what} past the hour, {span}"

    hour_step = _step_of(hours, 0, 23)
    if hour_step is not None and len(minutes) == 1:
        return f"Every {hour_step} hours at minute {minutes[0]}"
    hour_text = number_list(hours, "{:02d}")
    if len(minutes) == 1:
        return f"At minute {minutes[0]} past hours {hour_text}"
    return f"{what} past hours {hour_text}"


def _weekday_indexes(days_of_week: frozenset[int]) -> list[int]:
    """Cron weekdays (0 = Sunday) as date.weekday() indexes (Monday = 0), sorted."""
    return sorted((d - 1) % 7 for d in days_of_week)


def _weekday_run(indexes: list[int]) -> tuple[int, int] | None:
    """(first, last) if the weekdays form one run of three or more, wrapping past Sunday."""
    if not 3 <= len(indexes) < 7:
        return None
    present = set(indexes)
    starts = [i for i in indexes if (i - 1) % 7 not in present]
    if len(starts) != 1:
        return None
    first = starts[0]
    return first, (first + len(indexes) - 1) % 7


def _weekday_list(indexes: list[int], word: str = "and") -> str:
    return join_words([WEEKDAY_WORDS[i] for i in indexes], word)


def _explain_days_of_month(days: list[int]) -> str:
    if days == list(range(1, 32, 2)):
        return "on odd days of the month (1, 3, 5, …)"
    if days == list(range(2, 32, 2)):
        return "on even days of the month (2, 4, 6, …)"
    step = days[1] - days[0] if len(days) > 4 else 0
    if step > 1 and days == list(range(days[0], 32, step)):
        return f"on every {_ordinal(step)} day of the month from day {days[0]} ({days[0]}, {days[1]}, {days[2]}, …)"
    noun = "day" if len(days) == 1 else "days"
    return f"on {noun} {number_list(days)} of the month"


def _explain_days(parsed: _Parsed) -> str:
    days = sorted(parsed.days_of_month)
    weekdays = _weekday_indexes(parsed.days_of_week)
    dom_restricted, dow_restricted = len(days) < 31, len(weekdays) < 7
    run = _weekday_run(weekdays)

    if parsed.days_or:
        if not (dom_restricted and dow_restricted):
            return "every day"  # one side already matches every day
        if run is not None:
            weekday_text = f"on {WEEKDAY_WORDS[run[0]]} through {WEEKDAY_WORDS[run[1]]}"
        else:
            weekday_text = f"on every {_weekday_list(weekdays)}"
        return f"{_explain_days_of_month(days)} and {weekday_text}"

    if dom_restricted and dow_restricted:
        if len(weekdays) == 1:
            condition = f"if it is a {WEEKDAY_WORDS[weekdays[0]]}"
        elif run is not None:
            condition = f"if it falls on {WEEKDAY_WORDS[run[0]]} through {WEEKDAY_WORDS[run[1]]}"
        else:
            condition = f"if it is a {_weekday_list(weekdays, 'or')}"
        return f"{_explain_days_of_month(days)} {condition}"
    if dom_restricted:
        return _explain_days_of_month(days)
    if dow_restricted:
        if run is not None:
            return f"{WEEKDAY_WORDS[run[0]]} through {WEEKDAY_WORDS[run[1]]}"
        return f"only on {_weekday_list(weekdays)}"
    return "every day"


def _explain_months(months: list[int]) -> str:
    if len(months) == 12:
        return ""
    runs = _runs(months)
    if len(runs) == 1 and len(months) >= 3:
        return f"only from {MONTH_WORDS[months[0]]} through {MONTH_WORDS[months[-1]]}"
    return f"only in {join_words([MONTH_WORDS[m] for m in months])}"


def explain_parsed(parsed: _Parsed) -> str:
    parts = [
        _explain_time(list(parsed.minutes), list(parsed.hours)),
        _explain_days(parsed),
        _explain_months(sorted(parsed.months)),
    ]
    return ", ".join(part for part in parts if part)
