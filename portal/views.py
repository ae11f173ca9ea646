from __future__ import annotations

import datetime as dt

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from workflows.filters import HOME_DEFAULT_SCOPE
from workflows.forms import HomeQueryForm
from workflows.history import attach_typical_minutes
from workflows.inputs import LAST_DATE
from workflows.models import portal_today

from .selectors import EMPTY_STATES, HOME_GROUPS, SCOPES, operations_home

GROUP_TITLES = {
    "follow_ups_due": "Follow-ups due",
    "overdue": "Overdue",
    "missing_evidence": "Missing evidence",
    "today": "Today",
    "waiting": "Waiting",
    "upcoming": "Upcoming",
}
#: The page's default: the operator's own queue (assigned to them or to nobody).
DEFAULT_SCOPE = HOME_DEFAULT_SCOPE
#: Rows per group on the page; the counts are always complete and "Show all" opens the group's
#: full list (the task list page, paginated), so the page weighs the same at any amount of work.
HOME_GROUP_LIMIT = 12
#: Rows of a group shown before its disclosure: a phone screen stays a morning's view. Every row
#: loads its action forms when it is opened, so a row weighs the same wherever it stands.
HOME_ROWS_SHOWN = 10
#: Workflow risk cards shown in full (at-risk first); the Workflows page lists them all.
HOME_RISK_CARDS_SHOWN = 6
#: At-risk runs named in the strip above the groups.
HOME_AT_RISK_SHOWN = 10
#: The tone of a group's count in the summary strip (docs/home.md): how urgent its rows are.
GROUP_TONES = {
    "follow_ups_due": "warn",
    "overdue": "danger",
    "missing_evidence": "danger",
    "today": "info",
    "waiting": "warn",
    "upcoming": "muted",
}


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Open to anyone (load balancers): answers 200 when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


def _home_query(request: HttpRequest) -> tuple[dt.date, str, list[str]]:
    """The day and scope asked for. A malformed value is named in an error and replaced by the
    default, so the operator still gets a usable page."""
    errors: list[str] = []
    today = portal_today()
    # The same reading as a row's actions (absent: today and mine), but a refused value is named
    # and replaced by its default instead of refusing the page.
    form = HomeQueryForm(request.GET)
    form.is_valid()
    day = form.cleaned_data.get("date") or today
    if "date" in form.errors:
        errors.append(form.errors["date"][0].rstrip(".") + "; showing today.")
    scope = form.cleaned_data.get("scope", DEFAULT_SCOPE)
    if "scope" in form.errors:
        errors.append(form.errors["scope"][0].rstrip(".") + f"; showing {DEFAULT_SCOPE}.")
    return day, scope, errors


def _group_list_url(name: str, day: dt.date, scope: str) -> str:
    """The task list page showing all of one group, for the same day and scope."""
    query = QueryDict(mutable=True)
    query.update({"group": name, "date": day.isoformat(), "scope": scope})
    return f"{reverse('task-list')}?{query.urlencode()}"


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Operations Home (``docs/home.md``) for ``?date=`` (default today in PORTAL_TIME_ZONE) and
    ``?scope=mine|all`` (default mine). An HTMX request for ``?fragment=groups`` gets only the
    groups, risk cards and failures (the page re-fetches them after each in-place action)."""
    day, scope, errors = _home_query(request)
    home = operations_home(
        today=day,
        user=request.user,
        scope=scope,
        limit=HOME_GROUP_LIMIT,
        cards=max(HOME_RISK_CARDS_SHOWN, HOME_AT_RISK_SHOWN),
    )
    attach_typical_minutes([task for name in HOME_GROUPS for task in home.groups[name]])
    groups = [
        {
            "name": name,
            "title": GROUP_TITLES[name],
            "tasks": home.groups[name],
            "first": home.groups[name][:HOME_ROWS_SHOWN],
            "rest": home.groups[name][HOME_ROWS_SHOWN:],
            "count": home.counts[name],
            "list_url": _group_list_url(name, day, scope),
            "tone": GROUP_TONES[name],
            "empty": EMPTY_STATES[name],
        }
        for name in HOME_GROUPS
    ]
    # Ranked at-risk first, so the first cards hold the first at-risk runs.
    at_risk_runs = [run for run in home.runs if run.at_risk]
    context = {
        "home": home,
        "groups": groups,
        "at_risk_runs": at_risk_runs[:HOME_AT_RISK_SHOWN],
        "at_risk_count": home.at_risk_count,
        "risk_cards": home.runs[:HOME_RISK_CARDS_SHOWN],
        "errors": errors,
        "home_date": day,
        "home_scope": scope,
        "is_today": day == portal_today(),
        "previous_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1) if day < LAST_DATE else None,
        "default_follow_up": day + dt.timedelta(days=3),
        "empty_states": EMPTY_STATES,
        "scopes": SCOPES,
    }
    if request.htmx and request.GET.get("fragment") == "groups":
        return render(request, "portal/home.html#groups", context)
    return render(request, "portal/home.html", context, status=400 if errors else 200)
