"""Operator pages for workflow runs: the Workflows list (risk cards with filters) and launching a
run from a template (anchor date → preview → confirm).

Portal membership is checked for every request by the login middleware; objects are looked up
per request. A plain request renders the whole page, an HTMX request the page's fragment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .errors import DomainError
from .models import Run, RunStatus, Task, WorkflowTemplate, portal_today
from .run_filters import RunFilter
from .services import instantiate_run, preview_run
from .template_forms import LaunchForm

#: At most this many runs are listed; filters and search narrow the rest.
RUN_LIST_LIMIT = 100
STATUS_RANK = {RunStatus.ACTIVE: 0, RunStatus.PAUSED: 1, RunStatus.COMPLETED: 2, RunStatus.CANCELLED: 3}


def _fragment(request: HttpRequest, page: str, fragment: str) -> str:
    return f"{page}#{fragment}" if request.htmx else page


@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    """Active and recent runs as risk cards, at-risk first, then by status and next due date."""
    today = portal_today()
    queryset = Run.objects.with_risk(today).select_related("template").order_by("-anchor_date", "title")
    run_filter = RunFilter(request.GET, queryset=queryset)
    runs = list(run_filter.qs[: RUN_LIST_LIMIT + 1]) if run_filter.is_valid() else []
    truncated = len(runs) > RUN_LIST_LIMIT
    runs = runs[:RUN_LIST_LIMIT]
    next_ids = {run.risk_next_due_task_id for run in runs if run.risk_next_due_task_id}
    next_tasks = Task.objects.select_related("assignee").in_bulk(next_ids) if next_ids else {}
    for run in runs:
        run.card = run.risk()
        run.next_due_task = next_tasks.get(run.risk_next_due_task_id)
    runs.sort(
        key=lambda r: (
            not r.card["at_risk"],
            STATUS_RANK.get(r.status, len(STATUS_RANK)),
            r.next_due_task.due_date if r.next_due_task else dt.date.max,
            r.anchor_date,
            r.title,
        )
    )
    context = {
        "filter": run_filter,
        "runs": runs,
        "truncated": truncated,
        "limit": RUN_LIST_LIMIT,
        "filtered": any(value.strip() for value in request.GET.values()),
        "today": today,
    }
    return render(request, _fragment(request, "workflows/run_list.html", "results"), context)


@dataclass
class StageGroup:
    """The tasks of one stage of a run, with its progress."""

    name: str
    tasks: list
    resolved: int
    is_current: bool

    @property
    def total(self) -> int:
        return len(self.tasks)


def stage_groups(run: Run, tasks: list[Task]) -> list[StageGroup]:
    """``tasks`` grouped by stage in the template's stage order (names as written); tasks of a
    stage the template no longer lists come after, under their own stage name."""
    order = run.template.stage_order()
    by_stage: dict[str, list[Task]] = {}
    for task in sorted(tasks, key=lambda t: (order.get(t.stage, len(order)), t.stage, t.due_date, t.title)):
        by_stage.setdefault(task.stage, []).append(task)
    return [
        StageGroup(
            name=stage or "Tasks",
            tasks=group,
            resolved=sum(not task.is_open for task in group),
            is_current=bool(stage) and stage == run.current_stage,
        )
        for stage, group in by_stage.items()
    ]


@require_http_methods(["GET", "POST"])
def run_launch(request: HttpRequest, pk) -> HttpResponse:
    """Pick an anchor date, see every task with its stage, due date and prerequisites, confirm.
    Confirming an anchor date that already has a run opens that run instead of adding one."""
    template = get_object_or_404(WorkflowTemplate, pk=pk)
    data = request.POST if request.method == "POST" else (request.GET if "anchor_date" in request.GET else None)
    form = LaunchForm(data, initial={"anchor_date": portal_today()})
    preview = None
    if form.is_valid():
        anchor_date = form.cleaned_data["anchor_date"]
        try:
            if request.method == "POST":
                result = instantiate_run(template=template, anchor_date=anchor_date, by=request.user)
                _announce_launch(request, result)
                return redirect("run-detail", pk=result.run.pk)
            preview = preview_run(template=template, anchor_date=anchor_date)
        except DomainError as exc:
            form.add_error("anchor_date" if exc.extra.get("field") in (None, "anchor_date") else None, exc.detail)
    context = {"template": template, "form": form, "preview": preview}
    status = 400 if form.is_bound and form.errors else 200
    return render(request, _fragment(request, "workflows/run_launch.html", "launch"), context, status=status)


def _announce_launch(request: HttpRequest, result) -> None:
    if result.created:
        messages.success(request, f"Run launched with {len(result.task_ids)} tasks.")
    elif result.recovered:
        messages.info(
            request,
            f"A run for this anchor date already existed, so it was opened instead of adding another; "
            f"{result.recovered} missing task(s) were added to it.",
        )
    else:
        messages.info(request, "A run for this anchor date already exists, so it was opened instead of adding another.")
