"""SQL for the operators' calendar, computed by the database itself.

Django's generic date functions run as Python callbacks on SQLite (one call per row), which costs
seconds over a hundred thousand tasks. These expressions use each database's own functions:

* :class:`LocalDate` — the calendar date of an instant in a time zone. PostgreSQL converts with
  ``AT TIME ZONE``; SQLite adds the zone's UTC offset, which is constant between the zone's
  transitions, so the expression is a ``CASE`` over the transitions of the years asked for.
* :class:`WeekStart` — the Monday of a date's week.
* :class:`MinutesBetween` — minutes from one instant to another.
* :class:`DaysBetween` — whole days from one date to another.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import DateField, F, FloatField, Func, IntegerField


def offset_segments(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime | None, int]]:
    """The zone's UTC offsets (in minutes) from ``start`` to ``end``: ``[(until, offset), …]``
    where ``until`` is the UTC instant the offset stops applying (None for the last one)."""
    step = dt.timedelta(hours=1)
    moment = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    end = end.astimezone(dt.UTC)

    def offset(at: dt.datetime) -> int:
        return int(at.astimezone(zone).utcoffset().total_seconds() // 60)

    segments: list[tuple[dt.datetime | None, int]] = []
    current = offset(moment)
    day = dt.timedelta(days=1)
    while moment < end:
        following = moment + day
        if offset(following) != current:
            # The change happens within this day: find its hour.
            probe = moment
            while offset(probe) == current:
                probe += step
            segments.append((probe, current))
            current = offset(probe)
            moment = probe
            continue
        moment = following
    segments.append((None, current))
    return segments


class LocalDate(Func):
    """The date of an instant column in ``zone`` (instants between ``start`` and ``end`` are
    converted exactly on SQLite; outside that span the nearest known offset applies)."""

    output_field = DateField()

    def __init__(self, expression, *, zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> None:
        super().__init__(F(expression) if isinstance(expression, str) else expression)
        self.zone, self.start, self.end = zone, start, end

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql}) AT TIME ZONE %s)::date", [*params, self.zone.key]

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        segments = offset_segments(self.zone, self.start, self.end)
        if len(segments) == 1:
            return f"date({sql}, %s)", [*params, f"{segments[0][1]:+d} minutes"]
        whens, when_params = [], []
        for until, minutes in segments[:-1]:
            whens.append(f"WHEN {sql} < %s THEN date({sql}, %s)")
            when_params += [*params, until.strftime("%Y-%m-%d %H:%M:%S"), *params, f"{minutes:+d} minutes"]
        last = segments[-1][1]
        return (
            f"CASE {' '.join(whens)} ELSE date({sql}, %s) END",
            [*when_params, *params, f"{last:+d} minutes"],
        )


class WeekStart(Func):
    """The Monday of a date column's week."""

    output_field = DateField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"date_trunc('week', {sql})::date", params

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        # 'weekday 0' moves forward to the coming Sunday (or stays on one): six days back is Monday.
        return f"date({sql}, 'weekday 0', '-6 days')", params


class MinutesBetween(Func):
    """Minutes from the first instant column to the second (negative when the second is earlier)."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        (a, a_params), (b, b_params) = (compiler.compile(e) for e in self.source_expressions)
        return f"(EXTRACT(EPOCH FROM ({b} - {a})) / 60.0)", [*b_params, *a_params]

    def as_sqlite(self, compiler, connection, **extra_context):
        (a, a_params), (b, b_params) = (compiler.compile(e) for e in self.source_expressions)
        return f"((julianday({b}) - julianday({a})) * 1440.0)", [*b_params, *a_params]


class DaysBetween(Func):
    """Whole days from the first date expression to the second."""

    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        (a, a_params), (b, b_params) = (compiler.compile(e) for e in self.source_expressions)
        return f"(({b}) - ({a}))", [*b_params, *a_params]

    def as_sqlite(self, compiler, connection, **extra_context):
        (a, a_params), (b, b_params) = (compiler.compile(e) for e in self.source_expressions)
        return f"CAST(round(julianday({b}) - julianday({a})) AS INTEGER)", [*b_params, *a_params]
