"""How every door reads dates, instants, booleans and ids: one strict parser each.

Pages (Django forms), the API (serializers), the admin and the management commands all call these,
so a date that one door accepts is accepted by every other door, with the same message when it is
refused. Refusals raise :class:`workflows.errors.DomainError`; the form and serializer fields below
translate them into their own validation errors, and commands into a one-line ``CommandError``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from rest_framework import serializers

from .errors import DomainError

#: Exactly ``YYYY-MM-DD``: ``date.fromisoformat`` alone would also take ``20261101`` or ``2026-W47-1``.
DATE_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: An ISO 8601 date-time with a ``T`` or a space, minutes required, seconds and offset optional.
INSTANT_FORMAT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
#: The portal's calendar: every date and instant any door accepts lies in years 2000–2100
#: (``docs/api.md``). No duty of the portal is dated outside it, and inside it every zone offset
#: (−12:00 to +14:00), every offset a template or a lead time adds (ten years at most) and every
#: fire time derived from a date stays representable by Python and by the database.
FIRST_DATE = dt.date(2000, 1, 1)
LAST_DATE = dt.date(2100, 12, 31)
FIRST_INSTANT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LAST_INSTANT = dt.datetime(2101, 1, 1, tzinfo=dt.UTC) - dt.timedelta(microseconds=1)
CALENDAR = f"years {FIRST_DATE.year}–{LAST_DATE.year}"

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def strict_date(text: str) -> dt.date:
    """``text`` as a date when it is exactly ``YYYY-MM-DD`` and a real date; ValueError otherwise."""
    if not isinstance(text, str) or not DATE_FORMAT.fullmatch(text):
        raise ValueError(text)
    return dt.date.fromisoformat(text)


def outside_calendar(name: str, shown: str) -> str:
    """The one message for a date or an instant outside the portal's calendar."""
    return f"{name}: {shown} is outside the portal's calendar ({CALENDAR}: {FIRST_DATE} to {LAST_DATE})."


def check_date(day: dt.date, name: str) -> dt.date:
    """``day`` when it lies in the portal's calendar; ``validation_error`` naming ``name`` otherwise."""
    if not FIRST_DATE <= day <= LAST_DATE:
        raise DomainError("validation_error", outside_calendar(name, day.isoformat()), field=name)
    return day


def check_instant(instant: dt.datetime, name: str) -> dt.datetime:
    """``instant`` (aware) when it lies in the portal's calendar in UTC; ``validation_error`` naming
    ``name`` otherwise."""
    if not FIRST_INSTANT <= instant <= LAST_INSTANT:
        raise DomainError("validation_error", outside_calendar(name, instant.isoformat()), field=name)
    return instant


def parse_date(value: Any, name: str, *, required: bool = True) -> dt.date | None:
    """A date (a ``date`` object, not a ``datetime``, or exactly ``YYYY-MM-DD`` text) in the
    portal's calendar (``FIRST_DATE`` to ``LAST_DATE``). Refused with ``validation_error`` when
    missing or outside the calendar and with ``invalid_date`` when malformed, naming the field
    either way."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if not required:
            return None
        raise DomainError("validation_error", f"{name} is required (YYYY-MM-DD).", field=name)
    if isinstance(value, dt.datetime):
        raise DomainError("invalid_date", f"{name}: '{value}' is a date-time; give a date (YYYY-MM-DD).", field=name)
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = strict_date(value.strip() if isinstance(value, str) else value)
        except ValueError:
            detail = f"{name}: '{value}' is not a date in YYYY-MM-DD form."
            raise DomainError("invalid_date", detail, field=name) from None
    return check_date(day, name)


def parse_instant(value: Any, name: str) -> dt.datetime:
    """An ISO 8601 date-time (``INSTANT_FORMAT``); without an offset it is read in
    ``PORTAL_TIME_ZONE``. Refused with ``invalid_datetime`` naming the field when malformed
    (empty included) and with ``validation_error`` when outside the portal's calendar (in UTC,
    so every zone's wall time of it is representable)."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        if not INSTANT_FORMAT.fullmatch(text):
            raise ValueError(text)
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(
            "invalid_datetime",
            f"{name}: '{value}' is not an ISO 8601 date-time (e.g. 2028-02-02T09:00:00+00:00).",
            field=name,
        ) from None
    if timezone.is_naive(instant):
        try:
            instant = instant.replace(tzinfo=ZoneInfo(settings.PORTAL_TIME_ZONE))
            instant.utcoffset()
        except OverflowError:
            raise DomainError("validation_error", outside_calendar(name, text), field=name) from None
    try:
        instant.astimezone(dt.UTC)
    except OverflowError:
        raise DomainError("validation_error", outside_calendar(name, text), field=name) from None
    return check_instant(instant, name)


def parse_bool(value: Any, name: str, *, default: bool = False) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``on/off`` (any case) or a real boolean; empty means
    ``default``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise DomainError("validation_error", f"{name} must be true or false; got '{value}'.", field=name)


def parse_uuid(value: Any, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("validation_error", f"{name}: '{value}' is not a valid id.", field=name) from None


class StrictDateFormField(forms.DateField):
    """The page forms' date field: :func:`parse_date`'s rules, its message as the form error."""

    def to_python(self, value: Any) -> dt.date | None:
        try:
            return parse_date(value, self.label or "date", required=False)
        except DomainError as exc:
            raise forms.ValidationError(exc.detail, code=exc.code) from None


class StrictDateField(serializers.DateField):
    """The API's date field: exactly ``YYYY-MM-DD``, in the portal's calendar."""

    def to_internal_value(self, value: Any) -> dt.date:
        if not isinstance(value, str) or not DATE_FORMAT.fullmatch(value.strip()):
            raise serializers.ValidationError("Enter a date in YYYY-MM-DD form.")
        day = super().to_internal_value(value.strip())
        if not FIRST_DATE <= day <= LAST_DATE:
            raise serializers.ValidationError(
                f"{day.isoformat()} is outside the portal's calendar ({CALENDAR}: {FIRST_DATE} to {LAST_DATE})."
            )
        return day


# --------------------------------------------------------------------------------------------
# Text: no control characters
# --------------------------------------------------------------------------------------------

#: Characters no text the portal reads may hold: the C0 controls and DEL, except tab, line feed
#: and carriage return (multi-line text keeps its lines). NUL among them can not even be stored
#: by PostgreSQL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_character_message(value: str) -> str | None:
    """Why ``value`` is refused (naming the first control character), or None when it is plain."""
    found = CONTROL_CHARACTERS.search(value) if isinstance(value, str) else None
    if found is None:
        return None
    return f"Control characters are not allowed (found U+{ord(found.group()):04X} at position {found.start() + 1})."


def check_plain_text(value: Any, name: str) -> Any:
    """``value`` when it holds no control character; ``validation_error`` naming ``name`` otherwise.
    The domain's check, so every door refuses the same text with the same message."""
    message = control_character_message(value)
    if message:
        raise DomainError("validation_error", f"{name}: {message}", field=name)
    return value


@deconstructible
class PlainTextValidator:
    """The field validator of forms, model forms and serializers: no control characters."""

    code = "control_characters"

    def __call__(self, value: Any) -> None:
        message = control_character_message(value)
        if message:
            raise ValidationError(message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlainTextValidator)

    def __hash__(self) -> int:
        return hash(PlainTextValidator)


validate_plain_text = PlainTextValidator()


def control_character_errors(data: Any, fields: Any = None) -> dict[str, str]:
    """``{name: message}`` for every value in ``data`` (a QueryDict, a dict, a list of JSON)
    holding a control character, nested names written ``tasks[0].assignee``. Keys are read too."""
    errors: dict[str, str] = {}

    def walk(value: Any, name: str) -> None:
        if isinstance(value, str):
            message = control_character_message(value)
            if message and name not in errors:
                errors[name] = message
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key, f"{name}.{key}" if name else str(key))
                walk(item, f"{name}.{key}" if name else str(key))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, f"{name}[{index}]")

    if hasattr(data, "lists"):
        for key, values in data.lists():
            walk(key, key)
            for item in values:
                walk(item, key)
    else:
        walk(data, "")
    return errors


class PlainTextFormMixin:
    """A Django form that refuses control characters in every value it is given, before any
    field reads it (a lookup by a username with NUL in it would reach the database). The error is
    the field's (or the form's, for a name it does not know) with :class:`PlainTextValidator`'s
    message and code."""

    def full_clean(self) -> None:
        bad: dict[str, str] = {}
        if self.is_bound:
            data = self.data.copy()
            for key, message in control_character_errors(self.data).items():
                bad[key] = message
                data.pop(key, None)
            self.data = data
        super().full_clean()
        for key, message in bad.items():
            name = next((field for field in self.fields if self.add_prefix(field) == key), None)
            if name is not None:
                self._errors.pop(name, None)
            self.add_error(name, ValidationError(message if name else f"{key}: {message}", code="control_characters"))
