"""Operator pages for one task and one workflow run.

Every action is a POST that calls the same model method as the API and the admin; a refused
action re-renders the page (or, for HTMX, the task panel) with the specific reason. Every view is
reachable only by portal members (middleware); objects are looked up per request, so a missing
or archived-away object is a 404, never someone else's data.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from .errors import DomainError
from .forms import TASK_PAGE_FORMS, HomeOriginForm, HomeQueryForm, RunPageForm
from .history import attach_typical_minutes, typical_minutes_of
from .models import (
    Run,
    RunStatus,
    Task,
    TaskComment,
    add_proof,
    portal_today,
)
from .run_views import stage_groups


def _task_queryset():
    return Task.objects.select_related(
        "assignee", "completed_by", "recurring_config", "run", "run__template"
    ).prefetch_related(
        "proofs",
        "required_run_links",
        "dependencies",
        "dependents",
        Prefetch("history", queryset=TaskComment.objects.select_related("author")),
        "run__links",
    )


def _task_context(task: Task, **extra) -> dict:
    today = portal_today()
    typical_minutes, typical_from_history = typical_minutes_of(task)
    return {
        "typical_minutes": typical_minutes,
        "typical_from_history": typical_from_history,
        "task": task,
        "today": today,
        "requirements": task.requirements(),
        "blocked_by": task.open_prerequisites(),
        # Waiting work is governed by its follow-up date, never by its due date.
        "days_overdue": task.overdue_days(today),
        "follow_up_due": task.is_follow_up_due(today),
        "default_follow_up": today + dt.timedelta(days=3),
        **extra,
    }


@require_GET
def task_detail(request: HttpRequest, pk) -> HttpResponse:
    task = get_object_or_404(_task_queryset(), pk=pk)
    template = "workflows/task_detail.html#panel" if request.htmx else "workflows/task_detail.html"
    return render(request, template, _task_context(task))


def perform_task_action(task: Task, action: str, request: HttpRequest) -> str:
    """Perform ``action`` on ``task`` from the posted page form (the task page, Home and Start
    today post the same forms); returns what happened, or raises ``DomainError``."""
    data, user = TASK_PAGE_FORMS[action](request.POST, request.FILES).values(), request.user
    if action == "start":
        task.start(by=user)
        return "Started."
    if action == "complete":
        task.complete(by=user, note=data["note"])
        return "Completed."
    if action == "wait":
        task.mark_waiting(
            by=user, waiting_for=data["waiting_for"], follow_up_at=data["follow_up_at"], note=data["note"]
        )
        return "Marked as waiting."
    if action == "follow-up-sent":
        task.follow_up_sent(by=user, note=data["note"], next_follow_up_at=data["next_follow_up_at"])
        return "Follow-up recorded."
    if action == "response-received":
        task.response_received(by=user, note=data["note"])
        return "Response recorded; the task is back to do."
    if action == "skip":
        skipped = task.skip(by=user, reason=data["reason"], cascade=data["cascade"])
        return f"Skipped (and {len(skipped)} dependent task(s))." if skipped else "Skipped."
    if action == "reopen":
        task.reopen(by=user, reason=data["reason"])
        return "Reopened."
    if action == "comment":
        task.add_comment(by=user, body=data["body"])
        return "Comment added."
    add_proof(
        task,
        by=user,
        kind=data["kind"],
        label=data["label"],
        url=data["url"],
        note=data["note"],
        file=data["file"],
    )
    return "Proof added."


def _home_day(request: HttpRequest) -> dt.date:
    """The Home page's day the action came from (its badges are relative to it); today if absent
    or malformed."""
    return HomeOriginForm(request.POST).day(default=portal_today())


def _home_rows():
    """Tasks as an Operations Home row shows them: with the ``is_blocked`` and
    ``evidence_missing`` flags and what the row and its actions read."""
    return (
        Task.objects.on_home()
        .with_flags()
        .select_related("assignee", "recurring_config", "run")
        .prefetch_related(*Task.objects.listing_prefetches("proofs", "required_run_links"))
    )


def _home_row_context(request: HttpRequest, pk, **extra) -> dict:
    """What one Operations Home row needs after an action posted from it: the task (None once
    it has left Home), relative to the page's day."""
    day = _home_day(request)
    task = _home_rows().filter(pk=pk).first()
    if task is not None:
        task.days_overdue = task.overdue_days(day)
        attach_typical_minutes([task])
    return {
        "task": task,
        "home_date": day,
        "home_scope": HomeOriginForm(request.POST).scope,
        "default_follow_up": day + dt.timedelta(days=3),
        **extra,
    }


def _home_actions_note(pk, text: str, *, status: int, alert: bool = False, link: bool = True) -> HttpResponse:
    """A short answer standing where a Home row's actions would be, with the way to the task page
    (unless there is no task to go to)."""
    paragraph = format_html('<p class="error" role="alert">{}</p>' if alert else "<p>{}</p>", text)
    way = format_html('<p><a href="{}">Open the task</a></p>', reverse("task-detail", args=[pk])) if link else ""
    return HttpResponse(format_html('<div class="row-actions">{}{}</div>', paragraph, way), status=status)


@require_GET
@vary_on_headers("HX-Request")
def task_home_actions(request: HttpRequest, pk) -> HttpResponse:
    """The action forms of one Operations Home row (``docs/home.md``), fetched when the operator
    opens the row's "Actions": for the page's ``?date=`` (its day) and ``?scope=`` (``mine`` or
    ``all``). A task Home no longer lists for that day and scope answers a short note instead;
    a malformed query answers 400 naming it. A plain request (no HTMX) goes to the task page,
    where the same actions are."""
    if not request.htmx:
        get_object_or_404(Task, pk=pk)
        return redirect("task-detail", pk=pk)
    try:
        day, scope = HomeQueryForm(request.GET).values(today=portal_today())
    except DomainError as exc:
        return _home_actions_note(pk, exc.detail, status=400, alert=True)
    task = _home_rows().in_any_home_group(day).in_scope(scope, request.user).filter(pk=pk).first()
    if task is None:
        if not Task.objects.filter(pk=pk).exists():
            return _home_actions_note(pk, "This task does not exist any more.", status=404, alert=True, link=False)
        return _home_actions_note(
            pk, "This task is no longer on Home for this day: it was done, moved or reassigned.", status=200
        )
    context = {
        "task": task,
        "home_date": day,
        "home_scope": scope,
        "default_follow_up": day + dt.timedelta(days=3),
    }
    return render(request, "portal/home.html#row-actions", context)


def _home_response(request: HttpRequest, pk, *, message: str = "", error: DomainError | None = None, action: str):
    """An action posted from Operations Home. HTMX: the row (refused: 400, with the reason; done:
    the updated row, or nothing once the task left Home, plus the status line) and on success
    ``HX-Trigger: home-changed`` so the page re-fetches its groups, counts and risk cards. Plain
    post: back to Home with a message."""
    if not request.htmx:
        if error is None:
            messages.success(request, message)
        else:
            missing = error.extra.get("missing", [])
            messages.error(request, f"{error.detail} {'; '.join(map(str, missing))}".strip())
        query = HomeOriginForm(request.POST).page_query()
        return redirect(reverse("index") + (f"?{urlencode(query)}" if query else "") + f"#task-{pk}")
    if error is not None:
        context = _home_row_context(
            request,
            pk,
            error=error.detail,
            error_items=error.extra.get("missing", []),
            action=action,
            actions_open=True,
        )
        if context["task"] is None:  # not on Home any more: nothing to re-render in place
            return HttpResponse(format_html('<p class="error" role="alert">{}</p>', error.detail), status=400)
        return HttpResponse(render_to_string("portal/home.html#row", context, request), status=400)
    context = _home_row_context(request, pk, flash=message, oob=True)
    row = render_to_string("portal/home.html#row", context, request) if context["task"] is not None else ""
    response = HttpResponse(row + render_to_string("portal/home.html#status", context, request))
    response["HX-Trigger"] = "home-changed"
    return response


@require_POST
def task_action(request: HttpRequest, pk, action: str) -> HttpResponse:
    """Perform ``action`` on the task. Posted from Operations Home (``home=1``), it answers with
    the Home row instead of the task panel (see ``_home_response``)."""
    task = get_object_or_404(Task, pk=pk)
    if action not in TASK_PAGE_FORMS:
        return HttpResponse("Unknown action.", status=404)
    from_home = HomeOriginForm(request.POST).from_home
    try:
        message = perform_task_action(task, action, request)
    except DomainError as exc:
        if from_home:
            return _home_response(request, pk, error=exc, action=action)
        fresh = get_object_or_404(_task_queryset(), pk=pk)
        context = _task_context(fresh, error=exc.detail, error_items=exc.extra.get("missing", []), action=action)
        template = "workflows/task_detail.html#panel" if request.htmx else "workflows/task_detail.html"
        response = render(request, template, context, status=400)
        if request.htmx:
            response["HX-Reswap"] = "outerHTML"  # show the reason in place despite the 400
        return response
    if from_home:
        return _home_response(request, pk, message=f"{task.title}: {message}", action=action)
    if request.htmx:
        fresh = get_object_or_404(_task_queryset(), pk=pk)
        response = render(request, "workflows/task_detail.html#panel", _task_context(fresh, flash=message))
        response["HX-Trigger"] = "task-changed"
        return response
    messages.success(request, message)
    return redirect("task-detail", pk=pk)


@require_GET
def run_detail(request: HttpRequest, pk) -> HttpResponse:
    today = portal_today()
    run = get_object_or_404(Run.objects.with_risk(today).select_related("template").prefetch_related("links"), pk=pk)
    tasks = list(
        run.tasks.filter(archived_at__isnull=True)
        .with_flags()
        .select_related("assignee")
        .order_by("due_date", "due_time", "title")
    )
    page = "workflows/run_detail.html#run" if request.htmx else "workflows/run_detail.html"
    return render(
        request,
        page,
        {"run": run, "risk": run.risk(), "stages": stage_groups(run, tasks), "today": today, "RunStatus": RunStatus},
    )


@require_POST
def run_action(request: HttpRequest, pk, action: str) -> HttpResponse:
    run = get_object_or_404(Run, pk=pk)
    try:
        data = RunPageForm(request.POST).values()
        if action == "links":
            run.fill_link(name=data["name"], url=data["url"], by=request.user)
            message = f"Run link '{data['name']}' saved."
        elif action == "pause":
            run.pause(by=request.user)
            message = "Run paused: its tasks leave Operations Home until it is resumed."
        elif action == "resume":
            run.resume(by=request.user)
            message = "Run resumed."
        elif action == "cancel":
            run.cancel(by=request.user, reason=data["reason"])
            message = "Run cancelled. Its history is kept."
        else:
            return HttpResponse("Unknown action.", status=404)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("run-detail", pk=pk)
    messages.success(request, message)
    return redirect("run-detail", pk=pk)
