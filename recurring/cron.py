"""Cron expressions and schedule windows (``docs/schedules.md``).

This is the only module that talks to the cron library (croniter); everything else asks it to
validate an expression, list the windows between two dates, compute fire times, explain a
schedule in plain words, or translate it into celery-beat crontab rows. It is a pure module: no
Django, no project imports.

Rules enforced here (the reference is Debian/Vixie cron as implemented by cronsim):

* Exactly five fields (minute hour day-of-month month day-of-week) with ranges, steps, lists and
  names. Any step above zero is valid, as in Vixie cron (``*/100`` in day-of-month is day 1).
  Macros, ``L``, ``W``, ``#``, ``?``, ``H``, ``R``/``~`` and 6/7-field forms are refused, naming
  the construct, because celery-beat cannot express them either.
* Day rule: when both day fields are restricted, a date matches if EITHER matches. A day field
  whose text starts with ``*`` (including ``*/2``) counts as unrestricted, so then the two day
  fields are ANDed: ``0 9 */2 * MON`` is "odd days that are Mondays".
* A **window** is a local calendar date whose day-of-month, month and day-of-week fields match.
  DST never adds or removes a window.
* A window's **fire time** is the earliest matching minute of that date in the schedule's zone;
  in a repeated autumn hour, its first occurrence. Minutes that fall in a spring-forward gap are
  handled as Debian cron does (see ``Schedule.fire_time``).

croniter is used for expansion, but it reads some things differently from Vixie cron: it treats
``*/2`` day fields as restricted, widens an equal range such as ``5-5`` to the whole field, wraps
reversed ranges around, and reads ``N/step`` in the day-of-week field against 0-6 instead of 0-7.
This module therefore validates and normalises every term itself, hands croniter only terms it
expands the Vixie way, and applies the day rule and the DST rules itself.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

__all__ = [
    "CronError",
    "Schedule",
    "compile_schedule",
    "explain",
    "validate",
    "validate_timezone",
]


class CronError(ValueError):
    """A cron expression or time zone is refused; the message says why."""


# --------------------------------------------------------------------------------------------
# Fields and validation
# --------------------------------------------------------------------------------------------

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DOW_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

MONTH_WORDS = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Indexed by Python's date.weekday() (Monday = 0): explanations list Monday first.
WEEKDAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Longest possible month, leap years included: decides whether a day-of-month can ever occur.
MAX_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

MACRO_EQUIVALENTS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

FIELDS_HINT = "(minute hour day-of-month month day-of-week)"


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int  # highest value that may be written (7 for day-of-week: 7 = Sunday)
    names: tuple[str, ...] = ()
    name_offset: int = 0  # value of names[0]

    @property
    def span(self) -> int:
        """How many values can be written (8 for day-of-week, 0-7): a step at least this large
        selects only the first value of its range."""
        return self.high - self.low + 1

    @property
    def distinct(self) -> range:
        """Every distinct value (day-of-week 7 is Sunday, so 0-6)."""
        return range(self.low, 7) if self.names is DOW_NAMES else range(self.low, self.high + 1)


MINUTE = _FieldSpec("minute", 0, 59)
HOUR = _FieldSpec("hour", 0, 23)
DAY_OF_MONTH = _FieldSpec("day-of-month", 1, 31)
MONTH = _FieldSpec("month", 1, 12, MONTH_NAMES, 1)
DAY_OF_WEEK = _FieldSpec("day-of-week", 0, 7, DOW_NAMES, 0)
FIELD_SPECS = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)

_LAST_RE = re.compile(r"^(\d*L|L-?\d*|LW|\d+L)$")
_NEAREST_WEEKDAY_RE = re.compile(r"^(\d+W|W\d+)$")
_HASH_RE = re.compile(r"^H(\(.*\))?(/.*)?$")
# The same constructs as one part of a range or step ('1-L', 'L/2', '15W-20', 'R/5').
_LAST_PART_RE = re.compile(r"^(\d*LW?|L\d*)$")
_NEAREST_WEEKDAY_PART_RE = re.compile(r"^(\d+W|W\d*)$")
_HASH_PART_RE = re.compile(r"^H(\(.*\))?$")
_RANDOM_PART_RE = re.compile(r"^(\d*R\d*|R\(.*\))$")
# A step written with more digits than this is larger than any field: read it as "very large".
_STEP_DIGITS = 6


def _number(text: str, spec: _FieldSpec, term: str) -> int:
    """Read one value (a number or, in month/day-of-week, a name) and check its range."""
    if text == "*":
        raise CronError(f"{spec.name}: '*' cannot be part of a range in '{term}'")
    if text.isascii() and text.isdigit():
        value = int(text)
        if not spec.low <= value <= spec.high:
            raise CronError(f"{spec.name}: {value} is out of range {spec.low}-{spec.high}")
        return value
    upper = text.upper()
    if spec.names and upper in spec.names:
        return spec.names.index(upper) + spec.name_offset
    if spec.names and text.isascii() and text.isalpha():
        allowed = f"{spec.names[0]}-{spec.names[-1]} or {spec.low}-{spec.high}"
        raise CronError(f"{spec.name}: unknown name '{text}' (use {allowed})")
    if text.startswith("-") or text == "":
        raise CronError(f"{spec.name}: '{term}' is not a valid value or range")
    raise CronError(f"{spec.name}: '{text}' is not a number")


def _refuse_unsupported(term: str, spec: _FieldSpec) -> None:
    """Name the cron extension a term uses when we refuse it (celery-beat cannot express them):
    'L' (last day), 'W' (nearest weekday), '#' (nth weekday), '?', 'H' (hashed) and 'R' or '~'
    (random), whether the term is the construct alone or one end of a range or step."""
    upper = term.upper()
    beat = "celery-beat cannot express it"
    if "?" in term:
        raise CronError(f"{spec.name}: '?' is not supported: use '*' for any value")
    if "#" in term:
        raise CronError(f"{spec.name}: '#' (nth weekday of the month, as in 'MON#1') is not supported: {beat}")
    if "~" in term:
        raise CronError(f"{spec.name}: '~' (random value) is not supported: write the value itself, e.g. '15'")
    if _HASH_RE.match(upper) and upper not in spec.names:
        raise CronError(f"{spec.name}: 'H' (hashed value) is not supported: write the value itself, e.g. '15'")
    if upper in spec.names:
        return
    if _LAST_RE.match(upper):
        raise CronError(f"{spec.name}: 'L' (last day) is not supported: {beat}")
    if _NEAREST_WEEKDAY_RE.match(upper):
        raise CronError(f"{spec.name}: 'W' (nearest weekday) is not supported: {beat}")
    for part in re.split(r"[-/]", upper):
        if part in spec.names:
            continue
        if _LAST_PART_RE.match(part):
            raise CronError(f"{spec.name}: 'L' (last day) is not supported: {beat}")
        if _NEAREST_WEEKDAY_PART_RE.match(part):
            raise CronError(f"{spec.name}: 'W' (nearest weekday) is not supported: {beat}")
        if _HASH_PART_RE.match(part):
            raise CronError(f"{spec.name}: 'H' (hashed value) is not supported: write the value itself, e.g. '15'")
        if _RANDOM_PART_RE.match(part):
            raise CronError(f"{spec.name}: 'R' (random value) is not supported: write the value itself, e.g. '15'")


def _parse_term(term: str, spec: _FieldSpec) -> tuple[int, int, int, bool]:
    """Parse one list item into (low, high, step, is_star); values stay as written (7 = Sun)."""
    if term == "":
        raise CronError(f"{spec.name}: empty item in the list")
    base, slash, step_text = term.partition("/")
    step = 1
    if slash:
        if step_text == "":
            raise CronError(f"{spec.name}: missing step after '/' in '{term}'")
        if not (step_text.isascii() and step_text.isdigit()):
            raise CronError(f"{spec.name}: step '{step_text}' in '{term}' is not a number")
        # Any step above zero is valid (Vixie/Debian cron): a step at least as large as the
        # field selects the first value of its range only. '*/100' in day-of-month is the known
        # idiom for "day 1, and the day fields are ANDed" (the field starts with '*').
        step = int(step_text) if len(step_text) <= _STEP_DIGITS else 10**_STEP_DIGITS
        if step < 1:
            raise CronError(f"{spec.name}: step {step} in '{term}' must be 1 or more")
    if base == "*":
        return spec.low, spec.high, step, True
    first, dash, last = base.partition("-")
    if not dash:
        value = _number(base, spec, term)
        # "N/step" means "from N to the end of the field, every step" (cronsim, croniter).
        return (value, spec.high, step, False) if slash else (value, value, 1, False)
    if first == "":
        raise CronError(f"{spec.name}: '{term}' is not a valid value or range")
    low, high = _number(first, spec, term), _number(last, spec, term)
    if low > high:
        raise CronError(
            f"{spec.name}: range '{base}' runs backwards; cron ranges cannot wrap around, "
            f"so write it as two ranges, e.g. '{first}-{spec.high},{spec.low}-{last}'"
        )
    if low == high and slash:
        # Vixie reads "5-5/10" as just 5, cronsim as "5/10" (5, 15, 25, ...): refuse the guess.
        raise CronError(f"{spec.name}: '{term}' is ambiguous: write '{first}' or '{first}/{step}'")
    return low, high, step, False


def _croniter_term(spec: _FieldSpec, low: int, high: int, step: int, is_star: bool) -> str:
    """Spell a parsed term the way croniter expands it exactly like Vixie cron.

    croniter widens an equal range ('5-5') to the whole field and reads 'N/step' against 0-6 in
    the day-of-week field, so single values are written alone and every step gets an explicit,
    increasing range.
    """
    step = min(step, spec.span)  # larger steps select the same single value
    if is_star:
        return "*" if step == 1 else f"*/{step}"
    if low == high:
        return str(low)
    return f"{low}-{high}" if step == 1 else f"{low}-{high}/{step}"


@dataclass(frozen=True)
class _Parsed:
    expression: str  # normalised text
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # cron numbering, 0 = Sunday (7 folded into 0)
    dom_star: bool  # field text starts with '*': unrestricted for the OR/AND day rule
    dow_star: bool
    wildcard_time: bool  # minute or hour text starts with '*' (changes DST-gap handling)

    @property
    def days_or(self) -> bool:
        """Vixie rule: both day fields restricted -> a date matches if either matches."""
        return not (self.dom_star or self.dow_star)


def _split(expression: str) -> list[str]:
    if not isinstance(expression, str):
        raise CronError("cron expression must be text")
    fields = expression.split()
    if not fields:
        raise CronError(f"cron expression is empty: write five fields {FIELDS_HINT}")
    if fields[0].startswith("@"):
        macro = fields[0].lower()
        example = MACRO_EQUIVALENTS.get(macro)
        hint = f", e.g. '{example}'" if example else f" {FIELDS_HINT}"
        raise CronError(f"'{fields[0]}' macros are not supported: write the five fields{hint}")
    if len(fields) != 5:
        raise CronError(f"cron expression must have exactly 5 fields {FIELDS_HINT}; got {len(fields)}")
    return fields


def _expand_with_croniter(terms: list[str], expression: str) -> list[list[int]]:
    try:
        expanded, _nth = croniter.expand(" ".join(terms))
    except CroniterError as exc:  # our own checks should have caught it first
        raise CronError(f"cron expression '{expression}' is not valid: {exc}") from exc
    result = []
    for spec, values in zip(FIELD_SPECS, expanded, strict=True):
        if "*" in values:
            # croniter collapses a full field to '*' (and keeps a listed '*' as is); day-of-week
            # 7 is already folded into 0.
            values = list(spec.distinct)
        result.append(sorted({int(v) for v in values}))
    return result


def _parse(expression: str) -> _Parsed:
    fields = _split(expression)
    # Unsupported constructs first, in every field: a plain mistake elsewhere (a zero step, an
    # out-of-range value) must not hide that the expression uses something we cannot run at all.
    for text, spec in zip(fields, FIELD_SPECS, strict=True):
        for term in text.split(","):
            _refuse_unsupported(term, spec)
    croniter_fields = []
    for text, spec in zip(fields, FIELD_SPECS, strict=True):
        terms = [_parse_term(term, spec) for term in text.split(",")]
        croniter_fields.append(",".join(_croniter_term(spec, *term) for term in terms))
    normalised = " ".join(fields)
    minutes, hours, doms, months, dows = _expand_with_croniter(croniter_fields, normalised)
    parsed = _Parsed(
        expression=normalised,
        minutes=tuple(minutes),
        hours=tuple(hours),
        days_of_month=frozenset(doms),
        months=frozenset(months),
        days_of_week=frozenset(d % 7 for d in dows),
        dom_star=fields[2].startswith("*"),
        dow_star=fields[4].startswith("*"),
        wildcard_time=fields[0].startswith("*") or fields[1].startswith("*"),
    )
    if not parsed.days_or:
        # With the day fields ANDed, a day-of-month that no selected month has means the
        # schedule never runs (cronsim refuses it too); with OR the weekdays still match.
        longest = max(MAX_DAYS_IN_MONTH[m] for m in months)
        if min(doms) > longest:
            from .cron_words import join_words, number_list

            month_text = join_words([MONTH_WORDS[m] for m in months])
            verb = "occurs" if len(doms) == 1 else "occur"
            raise CronError(
                f"day-of-month: {number_list(doms)} never {verb} in {month_text}, so the schedule would never run"
            )
    return parsed


def validate(expression: str) -> str:
    """Return the normalised expression (stripped, single spaces) or raise CronError saying why.

    Accepts five fields with ranges, steps, lists, names (MON, JAN; any case) and day-of-week
    0-7 (0 and 7 = Sunday) and any step above zero. Refuses macros, L, W, #, ?, H, R, ~ (naming
    the construct, in whichever field it is), other field counts, out-of-range values, zero
    steps, unknown names, empty list items, backwards ranges and day-of-month values that can
    never occur in the selected months.
    """
    return _parse(expression).expression


def validate_timezone(name: str) -> str:
    """Return the IANA time zone name if zoneinfo knows it, else raise CronError."""
    if not isinstance(name, str) or not name.strip():
        raise CronError("time zone is empty: use an IANA name such as 'Europe/Berlin'")
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise CronError(f"unknown time zone '{name}'") from exc
    return name


# --------------------------------------------------------------------------------------------
# Compiled schedules
# --------------------------------------------------------------------------------------------

_ONE_DAY = timedelta(days=1)
# The Gregorian calendar (weekdays included) repeats every 400 years: a schedule with no window
# in that span has none at all.
_SEARCH_HORIZON = timedelta(days=146_097)


# The fire time given to a window whose real fire time lies past ``datetime.max`` (a window on the
# last days of year 9999 in a zone west of UTC): later than any instant, so it is never due, and
# left out of ``windows_due`` and ``next_fire_times``.
BEYOND_RANGE = datetime.max.replace(tzinfo=UTC)


def _local_date(instant: datetime, zone: ZoneInfo) -> date:
    """The local date of ``instant`` in ``zone``; ``date.max`` / ``date.min`` when that date is
    not representable (an instant on 9999-12-31 UTC in a zone east of UTC)."""
    try:
        return instant.astimezone(zone).date()
    except OverflowError:
        return date.max if instant.year == date.max.year else date.min


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


class Schedule:
    """A validated cron expression compiled for one time zone; immutable and cheap to query.

    Get one from ``compile_schedule`` (cached). Dates are local calendar dates in the
    schedule's zone; every datetime returned is timezone-aware UTC.
    """

    __slots__ = (
        "_parsed",
        "_zone",
        "_months",
        "_dom",
        "_dow",
        "_days_or",
        "_month_days",
        "_times",
        "expression",
        "timezone",
    )

    expression: str
    timezone: str

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        parsed = _parse(expression)
        timezone = validate_timezone(timezone)
        set_ = object.__setattr__
        set_(self, "expression", parsed.expression)
        set_(self, "timezone", timezone)
        set_(self, "_parsed", parsed)
        set_(self, "_zone", ZoneInfo(timezone))
        # Lookup tables indexed by month (1-12), day of month (1-31) and date.weekday()
        # (Monday = 0): matching a date costs three tuple lookups.
        set_(self, "_months", tuple(m in parsed.months for m in range(13)))
        set_(self, "_dom", tuple(d in parsed.days_of_month for d in range(32)))
        set_(self, "_dow", tuple((wd + 1) % 7 in parsed.days_of_week for wd in range(7)))
        set_(self, "_days_or", parsed.days_or)
        set_(self, "_times", tuple((h, m) for h in parsed.hours for m in parsed.minutes))
        # Matching days of a month depend only on its first weekday and length: 7 x 4 shapes.
        month_days = {}
        for first_weekday in range(7):
            for length in (28, 29, 30, 31):
                month_days[first_weekday, length] = tuple(
                    day for day in range(1, length + 1) if self._day_matches(day, (first_weekday + day - 1) % 7)
                )
        set_(self, "_month_days", month_days)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Schedule is immutable")

    def __repr__(self) -> str:
        return f"Schedule({self.expression!r}, {self.timezone!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self.expression, self.timezone) == (other.expression, other.timezone)

    def __hash__(self) -> int:
        return hash((self.expression, self.timezone))

    # -- windows ------------------------------------------------------------------------------

    def _day_matches(self, day_of_month: int, weekday: int) -> bool:
        dom_ok, dow_ok = self._dom[day_of_month], self._dow[weekday]
        return (dom_ok or dow_ok) if self._days_or else (dom_ok and dow_ok)

    def is_window(self, day: date) -> bool:
        """True if ``day`` (a local date) matches the day-of-month, month and day-of-week rules."""
        return self._months[day.month] and self._day_matches(day.day, day.weekday())

    def windows(self, start: date, end: date) -> list[date]:
        """Every window from ``start`` to ``end`` inclusive, in order."""
        result: list[date] = []
        if start > end:
            return result
        year, month = start.year, start.month
        last = (end.year, end.month)
        while (year, month) <= last:
            if self._months[month]:
                first_weekday, length = calendar.monthrange(year, month)
                low = start.day if (year, month) == (start.year, start.month) else 1
                high = end.day if (year, month) == last else length
                result.extend(
                    date(year, month, day) for day in self._month_days[first_weekday, length] if low <= day <= high
                )
            if month == 12:
                year, month = year + 1, 1
            else:
                month += 1
        return result

    # -- fire times ---------------------------------------------------------------------------

    def fire_time(self, day: date) -> datetime:
        """The instant (UTC) at which window ``day`` fires; CronError if ``day`` is no window.

        Rule: the earliest matching minute of that local date; in a repeated autumn hour, its
        first occurrence. In a spring-forward gap we follow Debian cron (as cronsim does):

        * fixed-time jobs (neither minute nor hour starts with '*'): a matching minute inside
          the gap fires at the first instant after the gap, so ``30 2 * * *`` in Berlin fires at
          03:00 CEST on 2026-03-29, and ``30 2,4 * * *`` fires at 03:00 too, not at 04:30;
        * wildcard jobs (``*/30 2,4 * * *``, ``0 * * * *``): minutes inside the gap are skipped,
          so the window fires at its first matching minute after the gap (04:00). If every
          matching minute of the date is in the gap, Debian cron would skip the day, but a
          window is never lost to DST (``docs/schedules.md``): it fires at the first instant after the gap.

        A window whose fire time lies past the representable range (``datetime.max``) gets
        ``BEYOND_RANGE``: it never becomes due.
        """
        if not self.is_window(day):
            raise CronError(f"{day.isoformat()} is not a window of '{self.expression}'")
        return self._fire_time(day)

    def _fire_time(self, day: date) -> datetime:
        try:
            return self._exact_fire_time(day)
        except OverflowError:
            return BEYOND_RANGE

    def _exact_fire_time(self, day: date) -> datetime:
        hour, minute = self._times[0]
        first_ordinal, offsets, transition_days = _zone_year(self._zone, day.year)
        index = day.toordinal() - first_ordinal
        # Build the local wall time labelled UTC and subtract the zone's offset: the arithmetic
        # happens in UTC, never on local wall times.
        wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        if index not in transition_days:
            return wall - offsets[index]
        return self._fire_time_on_transition_day(day)

    def _fire_time_on_transition_day(self, day: date) -> datetime:
        """Fire time on a date whose UTC offset changes: gaps and repeated hours live here."""
        gap_end = None
        for position, (hour, minute) in enumerate(self._times):
            wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
            offset = self._zone.utcoffset(wall.replace(tzinfo=self._zone))
            # fold=1 gives the later reading of a repeated wall time, and the post-transition
            # offset inside a gap: a gap is the only case where it exceeds the fold=0 offset.
            later = self._zone.utcoffset(wall.replace(tzinfo=self._zone, fold=1))
            assert offset is not None and later is not None
            if offset >= later:
                return wall - offset  # exists; fold=0 is the first occurrence of a repeat
            if position == 0:
                gap_end = self._gap_end(wall, offset, later)
                if not self._parsed.wildcard_time:
                    return gap_end  # fixed-time job: runs as soon as the gap ends
        # Wildcard job with every matching minute in the gap: keep the window (docs/schedules.md).
        assert gap_end is not None
        return gap_end

    def _gap_end(self, wall: datetime, before: timedelta, after: timedelta) -> datetime:
        """The transition instant ending the gap that contains local ``wall`` (labelled UTC)."""
        # Read with the post-transition offset the wall time lies before the transition, with
        # the pre-transition offset after it; bisect the seconds in between.
        low, high = wall - after, wall - before
        zone = self._zone
        while high - low > timedelta(seconds=1):
            middle = low + (high - low) // 2
            if middle.astimezone(zone).utcoffset() == after:
                high = middle
            else:
                low = middle
        return high.replace(microsecond=0)

    def windows_due(self, *, start: date, after: datetime | None, until: datetime) -> list[tuple[date, datetime]]:
        """Windows D >= ``start`` whose fire time f has ``after`` < f <= ``until``, in order.

        ``after=None`` means no lower bound on the fire time. Returns (window, fire time) pairs.
        """
        _require_aware(until, "until")
        low = start
        if after is not None:
            _require_aware(after, "after")
            # One day of slack either side: the local date of an instant and the date of the
            # window firing then can differ around DST transitions near midnight.
            after_day = _local_date(after, self._zone)
            low = max(low, after_day - _ONE_DAY if after_day > date.min else after_day)
        high = min(_local_date(until, self._zone), date.max - _ONE_DAY) + _ONE_DAY
        due = []
        for day in self.windows(low, high):
            fire = self._fire_time(day)
            if fire is BEYOND_RANGE:
                break  # every later window is beyond the range too
            if fire <= until and (after is None or fire > after):
                due.append((day, fire))
        return due

    def next_fire_times(self, after: datetime, count: int = 5) -> list[datetime]:
        """Fire times strictly after ``after``, one per window, at most ``count``, in order."""
        _require_aware(after, "after")
        result: list[datetime] = []
        if count <= 0:
            return result
        local_day = _local_date(after, self._zone)
        start = local_day - _ONE_DAY if local_day > date.min else local_day
        horizon = _clamped_add(start, _SEARCH_HORIZON)
        # Start with about a month (enough for most schedules), then take a year at a time.
        span = timedelta(days=40)
        while start <= horizon:
            end = _clamped_add(start, span)
            for day in self.windows(start, end):
                fire = self._fire_time(day)
                if fire is BEYOND_RANGE:
                    return result  # every later window is beyond the range too
                if fire > after:
                    result.append(fire)
                    if len(result) == count:
                        return result
            if end == date.max:
                break
            start, span = end + _ONE_DAY, timedelta(days=366)
        return result

    def next_fire_time(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after``, or None if there is none."""
        fires = self.next_fire_times(after, count=1)
        return fires[0] if fires else None

    # -- descriptions -------------------------------------------------------------------------

    def explain(self) -> str:
        """The schedule in plain English, e.g. 'At 09:00, on day 1 of the month and on every
        Monday' (the day fields' OR/AND rule is spelled out)."""
        from .cron_words import explain_parsed

        return explain_parsed(self._parsed)

    def beat_field_sets(self) -> list[dict[str, str]]:
        """celery ``crontab`` keyword sets whose union of firing dates equals the windows.

        celery ANDs day_of_month with day_of_week. When the Vixie rule ORs them (both fields
        restricted) this returns two sets, one per day field, with the other day field '*'.
        Day-of-week uses celery's numbering 0-6 (0 = Sunday); names become numbers. A set that
        could never fire (a day-of-month no selected month has) is left out, as celery refuses it.
        """
        parsed = self._parsed
        common = {
            "minute": _celery_field(parsed.minutes, MINUTE.low, MINUTE.high),
            "hour": _celery_field(parsed.hours, HOUR.low, HOUR.high),
            "month_of_year": _celery_field(parsed.months, MONTH.low, MONTH.high),
        }
        dom = _celery_field(parsed.days_of_month, DAY_OF_MONTH.low, DAY_OF_MONTH.high)
        dow = _celery_field(parsed.days_of_week, 0, 6)
        if not parsed.days_or or dom == "*" or dow == "*":
            # ANDed (or one side matches every day, so OR reduces to the other side being '*').
            if parsed.days_or:
                dom = dow = "*"
            return [{**common, "day_of_week": dow, "day_of_month": dom}]
        sets = []
        longest = max(MAX_DAYS_IN_MONTH[m] for m in parsed.months)
        if min(parsed.days_of_month) <= longest:
            sets.append({**common, "day_of_week": "*", "day_of_month": dom})
        sets.append({**common, "day_of_week": dow, "day_of_month": "*"})
        return sets


@lru_cache(maxsize=4096)
def _zone_year(zone: ZoneInfo, year: int) -> tuple[int, tuple[timedelta, ...], frozenset[int]]:
    """For one zone and year: the ordinal of 1 January, each day's UTC offset, and the days
    (0-based) on which the offset changes, where fire times need the careful path."""
    first = date(year, 1, 1).toordinal()
    last = min(date(year, 12, 31).toordinal() + 1, date.max.toordinal())
    # The offset at each local midnight (fold=0); a day whose midnight offset differs from the
    # next midnight's contains a transition, including one at midnight itself. (Two transitions
    # that cancel out within one day would slip through; tzdata has none in modern times.)
    midnights = [
        zone.utcoffset(datetime.fromordinal(ordinal).replace(tzinfo=zone)) for ordinal in range(first, last + 1)
    ]
    days = date(year, 12, 31).toordinal() - first + 1
    transition_days = frozenset(i for i in range(days) if i + 1 >= len(midnights) or midnights[i] != midnights[i + 1])
    return first, tuple(midnights[:days]), transition_days


def _clamped_add(day: date, delta: timedelta) -> date:
    try:
        return day + delta
    except OverflowError:
        return date.max


@lru_cache(maxsize=4096)
def compile_schedule(expression: str, timezone: str = "UTC") -> Schedule:
    """Validate ``expression`` and ``timezone`` and return the compiled Schedule (cached)."""
    return Schedule(expression, timezone)


def explain(expression: str) -> str:
    """Describe ``expression`` in plain English; CronError if it is not valid."""
    return compile_schedule(expression).explain()


# --------------------------------------------------------------------------------------------
# celery crontab fields
# --------------------------------------------------------------------------------------------


def _runs(values: list[int] | tuple[int, ...]) -> list[tuple[int, int]]:
    """Sorted values grouped into (first, last) runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _step_of(values: list[int], low: int, high: int) -> int | None:
    """The step s > 1 if ``values`` is exactly low, low + s, ... up to high; else None."""
    if len(values) < 2 or values[0] != low:
        return None
    step = values[1] - values[0]
    if step > 1 and values == list(range(low, high + 1, step)):
        return step
    return None


def _celery_field(values: frozenset[int] | tuple[int, ...], low: int, high: int) -> str:
    """Compact celery crontab text for a set of values: '*', '*/15', '1-5,10'."""
    ordered = sorted(values)
    if ordered == list(range(low, high + 1)):
        return "*"
    step = _step_of(ordered, low, high) if len(ordered) >= 3 else None
    if step is not None:
        return f"*/{step}"
    parts = []
    for first, last in _runs(ordered):
        if last - first >= 2:
            parts.append(f"{first}-{last}")
        else:
            parts.extend(str(v) for v in range(first, last + 1))
    return ",".join(parts)
