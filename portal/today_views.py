"""The Start today and Insights pages.

Start today works without JavaScript: every action is a plain form post that comes back to the
page, and "skip for now" is a link that carries the put-off tasks in the page's address
(``?later=<id>,<id>``), so nothing about the task changes and the next visit starts afresh.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from recurring.models import RecurringConfig
from workflows.errors import DomainError
from workflows.models import Task, portal_today
from workflows.views import perform_task_action

from .insights import PERIODS, config_history, insights
from .templatetags.portal_format import human_date
from .today import start_today

#: The task actions Start today offers (the task page's forms and rules).
TODAY_ACTIONS = ("start", "complete", "wait", "follow-up-sent", "response-received", "skip", "proof", "comment")
#: At most this many put-off tasks are carried in the address.
MAX_LATER = 200


def _later(request: HttpRequest) -> list[str]:
    """The ids put off for this visit, from ``?later=`` (malformed entries are dropped)."""
    raw = request.GET.get("later", "") or request.POST.get("later", "")
    ids: list[str] = []
    for part in raw.split(",")[:MAX_LATER]:
        try:
            ids.append(str(UUID(part.strip())))
        except ValueError:
            continue
    return list(dict.fromkeys(ids))


def _today_url(later: list[str]) -> str:
    url = reverse("start-today")
    return f"{url}?{urlencode({'later': ','.join(later)})}" if later else url


@require_GET
def today_page(request: HttpRequest) -> HttpResponse:
    """One task at a time from the user's queue for today."""
    later = _later(request)
    data = start_today(user=request.user, today=portal_today(), later=later)
    current = data.current
    skip_for_now_url = None
    if current is not None and len(data.queue) > 1:
        skip_for_now_url = _today_url([pk for pk in later if pk != str(current.pk)] + [str(current.pk)])
    context = {
        "data": data,
        "current": current,
        "up_next": data.queue[1:],
        "later": ",".join(later),
        "default_follow_up": data.date + dt.timedelta(days=3),
        "skip_for_now_url": skip_for_now_url,
        "percent": round(100 * data.progress["resolved"] / data.progress["total"]) if data.progress["total"] else 100,
    }
    if current is not None:
        context.update(current_task_context(current))
    return render(request, "portal/today.html", context)


def current_task_context(task: Task) -> dict:
    """Requirements, run links and prerequisites of the task on screen (a few queries, once)."""
    fresh = (
        Task.objects.select_related("run", "recurring_config")
        .prefetch_related("proofs", "required_run_links", "dependencies", "run__links")
        .get(pk=task.pk)
    )
    return {
        "requirements": fresh.requirements(),
        "run_links": list(fresh.run.links.all()) if fresh.run_id else [],
        "blocked_by": fresh.open_prerequisites(),
        "proofs": list(fresh.proofs.all()),
    }


@require_POST
def today_action(request: HttpRequest, pk, action: str) -> HttpResponse:
    """An action on the task on screen; back to Start today with what happened (or why not)."""
    task = get_object_or_404(Task, pk=pk)
    if action not in TODAY_ACTIONS:
        return HttpResponse("Unknown action.", status=404)
    later = _later(request)
    try:
        message = perform_task_action(task, action, request)
    except DomainError as exc:
        missing = exc.extra.get("missing") or []
        detail = exc.detail + (" Missing: " + ", ".join(map(str, missing)) + "." if missing else "")
        messages.error(request, f"{task.title}: {detail}")
    else:
        messages.success(request, f"{task.title}: {message}")
    return redirect(_today_url(later))


def _days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", PERIODS[0]))
    except ValueError:
        return PERIODS[0]
    return days if days in PERIODS else PERIODS[0]


@require_GET
def insights_page(request: HttpRequest) -> HttpResponse:
    """Per duty: how much was done, how much on time, how long it took; worst first."""
    days = _days(request)
    data = insights(today=portal_today(), days=days)
    return render(
        request,
        "portal/insights.html",
        {"data": data, "days": days, "periods": PERIODS, "chart_weeks": chart_weeks(data.totals_by_week())},
    )


def chart_weeks(weeks) -> list[dict]:
    """Weeks as the chart script reads them (the same numbers as the table under it)."""
    return [
        {"label": human_date(w.week_start, False), "on_time": w.on_time, "late": w.late, "missed": w.missed}
        for w in weeks
    ]


@require_GET
def insights_config_page(request: HttpRequest, pk) -> HttpResponse:
    """One recurring duty's windows in the period, each with its outcome."""
    config = get_object_or_404(RecurringConfig, pk=pk)
    days = _days(request)
    today = portal_today()
    entry = next(iter(insights(today=today, days=days, config=config).configs), None)
    history = config_history(config, today=today, days=days)
    return render(
        request,
        "portal/insights_config.html",
        {
            "config": config,
            "entry": entry,
            "history": history,
            "days": days,
            "periods": PERIODS,
            "chart_weeks": chart_weeks(entry.weeks if entry else []),
        },
    )
