"""The task list page (``/tasks/``): every task a filter selects, a page at a time — where each
Operations Home group's "Show all" leads.

It reads the query string through the same :class:`~workflows.filters.TaskFilterSet` as
``GET /api/v1/tasks/`` (``group`` with ``date``, ``scope``, ``assignee``, ``unassigned``,
``source``, ``recurring_config``, ``run``, ``status``, ...) and pages with the same cursor on
``(due_date, id)`` (``workflows.keyset``), so its last page costs what its first costs. Portal
membership is checked for every request by the login middleware. A plain request renders the
whole page, an HTMX request the ``results`` fragment.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .filters import TaskFilterSet
from .keyset import Cursor, check_no_page_number, keyset_page
from .models import Task, portal_today

#: Tasks per page of the list.
TASK_LIST_PAGE_SIZE = 50
GROUP_TITLES = {
    "follow_ups_due": "Follow-ups due",
    "overdue": "Overdue",
    "missing_evidence": "Missing evidence",
    "today": "Due today",
    "waiting": "Waiting",
    "upcoming": "Upcoming",
}


def _link(request: HttpRequest, cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    query = request.GET.copy()
    query["cursor"] = cursor.encode()
    return f"{request.path}?{query.urlencode()}"


def _home_url(request: HttpRequest, errors: list[str]) -> str:
    """Operations Home for the same day and scope as the list (when they were valid)."""
    query = QueryDict(mutable=True)
    if not errors:
        for name in ("date", "scope"):
            if name in request.GET:
                query[name] = request.GET[name]
    return f"/?{query.urlencode()}" if query else "/"


@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    """A filtered, paginated list of tasks (archived ones left out unless asked for)."""
    queryset = Task.objects.select_related("assignee", "recurring_config", "run")
    filterset = TaskFilterSet(request.GET, queryset=queryset, request=request)
    errors: list[str] = []
    rows, count, page = [], 0, None
    try:
        filtered = filterset.filtered()
        check_no_page_number(request.GET)
        raw = request.GET.get("cursor")
        page = keyset_page(filtered, cursor=Cursor.decode(raw) if raw is not None else None, size=TASK_LIST_PAGE_SIZE)
        rows, count = page.rows, filtered.order_by().count()
    except ValidationError as exc:
        errors = [f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()]
    group = request.GET.get("group")
    day = filterset.form.cleaned_data.get("date") if not errors else None
    context = {
        "tasks": rows,
        "count": count,
        "errors": errors,
        "group_title": GROUP_TITLES.get(group) if not errors else None,
        "day": day or portal_today(),
        "scope": request.GET.get("scope"),
        "next_url": _link(request, page.next if page else None),
        "previous_url": _link(request, page.previous if page else None),
        "home_url": _home_url(request, errors),
    }
    template = "workflows/task_list.html#results" if request.htmx else "workflows/task_list.html"
    return render(request, template, context, status=400 if errors else 200)
