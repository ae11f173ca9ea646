"""Keyset (cursor) pagination of task lists, shared by ``/api/v1/tasks/`` and the task list page.

A page is "the ``size`` tasks after (or before) this one" on the unique order ``(due_date, id)``,
read along the ``task_list_due_id`` index: the last page costs what the first one costs, and a
task added or finished while someone pages never shifts the rows under them (see
``docs/api.md``). The cursor is opaque to clients: base64 of the boundary row's key and the
direction.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

ORDER = ("due_date", "id")


@dataclass(frozen=True)
class Cursor:
    due_date: dt.date
    id: uuid.UUID
    backwards: bool = False

    def encode(self) -> str:
        raw = json.dumps({"d": self.due_date.isoformat(), "i": str(self.id), "b": int(self.backwards)})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
            return cls(dt.date.fromisoformat(data["d"]), uuid.UUID(data["i"]), bool(data.get("b", 0)))
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
            raise ValidationError(
                {"cursor": ["This cursor is not valid; follow the next or previous link of a page."]}
            ) from None

    @classmethod
    def of(cls, task, *, backwards: bool = False) -> Cursor:
        return cls(task.due_date, task.pk if isinstance(task.pk, uuid.UUID) else uuid.UUID(str(task.pk)), backwards)


def check_no_page_number(params) -> None:
    """``?page=1`` (or none) is the first page; a later page number is refused, naming the
    cursor to use instead (page numbers would silently repeat the first page)."""
    page = params.get("page")
    if page is not None and page.strip() != "1":
        raise ValidationError(
            {"page": ["This list pages by cursor: follow the next or previous link (its cursor parameter)."]}
        )


@dataclass
class KeysetPage:
    rows: list
    next: Cursor | None
    previous: Cursor | None


def keyset_page(queryset: QuerySet, *, cursor: Cursor | None, size: int) -> KeysetPage:
    """``size`` rows of ``queryset`` after ``cursor`` (or before it, for a backwards cursor) on
    ``(due_date, id)``. The range condition ``due_date >= d`` lets the index scan start at the
    cursor instead of filtering from the first row."""
    if cursor is None:
        rows = list(queryset.order_by(*ORDER)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return KeysetPage(rows, Cursor.of(rows[-1]) if more else None, None)
    if cursor.backwards:
        before = Q(due_date__lte=cursor.due_date) & (Q(due_date__lt=cursor.due_date) | Q(id__lt=cursor.id))
        rows = list(queryset.filter(before).order_by("-due_date", "-id")[: size + 1])
        more = len(rows) > size
        rows = list(reversed(rows[:size]))
        if not rows:
            return KeysetPage([], None, None)
        return KeysetPage(rows, Cursor.of(rows[-1]), Cursor.of(rows[0], backwards=True) if more else None)
    after = Q(due_date__gte=cursor.due_date) & (Q(due_date__gt=cursor.due_date) | Q(id__gt=cursor.id))
    rows = list(queryset.filter(after).order_by(*ORDER)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not rows:
        return KeysetPage([], None, None)
    return KeysetPage(rows, Cursor.of(rows[-1]) if more else None, Cursor.of(rows[0], backwards=True))


class KeysetPagination:
    """DRF pagination for task lists: ``{"count", "next", "previous", "results"}`` as every
    list answers (``docs/api.md``), with ``next``/``previous`` links carrying a ``cursor``
    instead of a page number. ``page_size`` is honoured up to ``max_page_size``."""

    page_size_query_param = "page_size"
    max_page_size = 500
    display_page_controls = False

    def __init__(self) -> None:
        from django.conf import settings

        self.page_size = settings.REST_FRAMEWORK.get("PAGE_SIZE") or 50

    def _size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({"page_size": [f"Give a whole number from 1 to {self.max_page_size}."]})
        return size

    def paginate_queryset(self, queryset, request, view=None):
        from rest_framework.utils.urls import replace_query_param

        check_no_page_number(request.query_params)
        raw = request.query_params.get("cursor")
        cursor = Cursor.decode(raw) if raw is not None else None
        page = keyset_page(queryset, cursor=cursor, size=self._size(request))
        self.count = queryset.order_by().count()
        url = request.build_absolute_uri()
        self.next = replace_query_param(url, "cursor", page.next.encode()) if page.next else None
        self.previous = replace_query_param(url, "cursor", page.previous.encode()) if page.previous else None
        return page.rows

    def get_paginated_response(self, data):
        from rest_framework.response import Response

        return Response({"count": self.count, "next": self.next, "previous": self.previous, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": "Opaque position from a page's next or previous link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Tasks per page (1–{self.max_page_size}).",
                "schema": {"type": "integer"},
            },
        ]
