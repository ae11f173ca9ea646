"""How the portal writes dates and values for people: one style everywhere.

Dates read "Fri 4 Dec" (with the year when it is not this year's), "today", "tomorrow",
"yesterday"; due dates read "3 days overdue", "due today", "due in 2 days"; enum values show their
label from the model's ``choices``. ISO dates belong to the API only.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.utils import timezone

register = template.Library()


def _today() -> dt.date:
    return timezone.now().astimezone(ZoneInfo(settings.PORTAL_TIME_ZONE)).date()


def _as_local(value: dt.datetime) -> dt.datetime:
    if timezone.is_aware(value):
        return value.astimezone(ZoneInfo(settings.PORTAL_TIME_ZONE))
    return value


def _day_text(day: dt.date, today: dt.date) -> str:
    text = f"{day:%a} {day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


@register.filter
def human_date(value, relative: bool = True) -> str:
    """A date (or date-time, read in ``PORTAL_TIME_ZONE``) as "Fri 4 Dec"; "today", "tomorrow"
    and "yesterday" for the nearest days unless ``relative`` is false."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime):
        value = _as_local(value).date()
    today = _today()
    if relative:
        offset = (value - today).days
        if offset == 0:
            return "today"
        if offset == 1:
            return "tomorrow"
        if offset == -1:
            return "yesterday"
    return _day_text(value, today)


@register.filter
def human_datetime(value) -> str:
    """A date-time as "Fri 4 Dec 10:00" ("today 10:00") in ``PORTAL_TIME_ZONE``."""
    if value in (None, ""):
        return ""
    local = _as_local(value)
    return f"{human_date(local.date())} {local:%H:%M}"


@register.filter
def due_phrase(value) -> str:
    """How far a due date is from today: "3 days overdue", "1 day overdue", "due today",
    "due tomorrow", "due in 4 days", or "due Fri 18 Dec" beyond two weeks."""
    if value in (None, ""):
        return ""
    today = _today()
    offset = (value - today).days
    if offset < 0:
        days = -offset
        return f"{days} day{'s' if days != 1 else ''} overdue"
    if offset == 0:
        return "due today"
    if offset == 1:
        return "due tomorrow"
    if offset <= 14:
        return f"due in {offset} days"
    return f"due {_day_text(value, today)}"


@register.filter
def choice_label(obj, field_name: str) -> str:
    """The human label of a model field with ``choices`` ("In progress" for ``in_progress``)."""
    getter = getattr(obj, f"get_{field_name}_display", None)
    return getter() if getter else getattr(obj, field_name, "")


#: The colour of a badge for a value, by meaning (docs/concepts.md): ok (done, active,
#: succeeded), warn (waiting, paused, due soon), danger (overdue, failed, at risk, missing proof,
#: blocked), info (in progress, scheduled) and muted (to do, skipped, archived, cancelled, manual).
TONES: dict[str, str] = {
    # task status
    "todo": "muted",
    "in_progress": "info",
    "waiting": "warn",
    "done": "ok",
    "skipped": "muted",
    # run status
    "active": "ok",
    "paused": "warn",
    "cancelled": "muted",
    "completed": "ok",
    # priority
    "urgent": "danger",
    "high": "warn",
    "normal": "muted",
    "low": "muted",
    # trigger, source and schedule states
    "manual": "muted",
    "automatic": "info",
    "recurring": "info",
    "template": "info",
    "scheduled": "info",
    "archived": "muted",
    # outcomes and risk
    "succeeded": "ok",
    "success": "ok",
    "generated": "ok",
    "failed": "danger",
    "failure": "danger",
    "error": "danger",
    "overdue": "danger",
    "at_risk": "danger",
    "blocked": "danger",
    "missing_proof": "danger",
    "due_soon": "warn",
}


@register.filter
def tone(value) -> str:
    """The badge tone of an enum value or state name: ``class="badge badge-{{ task.status|tone }}"``.
    Unknown values are muted, never uncoloured."""
    return TONES.get(str(value), "muted")


@register.filter
def due_tone(value) -> str:
    """The tone of a due date: danger when overdue, warn today and tomorrow, muted later."""
    if value in (None, ""):
        return "muted"
    offset = (value - _today()).days
    if offset < 0:
        return "danger"
    return "warn" if offset <= 1 else "muted"


@register.filter
def status_label(value) -> str:
    """The label of a task status value stored as plain text (history entries): "In progress"."""
    from workflows.models import TaskStatus

    try:
        return TaskStatus(value).label
    except ValueError:
        return str(value or "")


@register.filter
def duration_text(value) -> str:
    """A duration for people: "25 min", "1 h 5 min", "2 days 3 h"."""
    if value in (None, ""):
        return ""
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} day{'s' if days != 1 else ''} {hours} h" if hours else f"{days} day{'s' if days != 1 else ''}"
