"""Operator pages for workflow templates: the library, one template (with its dependency graph),
clone and edit. Saving goes through ``workflows.services`` (``clone_template``,
``save_template``) exactly as the admin and the API do, so the three refuse the same input with
the same reason.

Portal membership is checked for every request by the login middleware; objects are looked up
per request. A plain request renders the whole page, an HTMX request the page's fragment.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .diagrams import dependency_mermaid, dependency_outline
from .errors import DomainError
from .library import offset_phrase, success_text, trigger_in_words, with_library_stats
from .models import MAX_TEMPLATE_TASKS, WorkflowTemplate
from .services import clone_template, save_template
from .template_filters import TemplateFilter
from .template_forms import (
    CloneTemplateForm,
    TemplateEditForm,
    TemplateTaskFormSet,
    apply_domain_error,
    assignee_choices,
    task_initial,
)

TASK_PREFIX = "tasks"


def _page(request: HttpRequest, page: str, fragment: str) -> str:
    return f"{page}#{fragment}" if request.htmx else page


@require_GET
def template_library(request: HttpRequest) -> HttpResponse:
    """Templates as cards: category, stages, task count, trigger in plain words, runs launched
    and success rate; filtered by category and searched by name and description."""
    queryset = with_library_stats(WorkflowTemplate.objects.active()).order_by("category", "name")
    template_filter = TemplateFilter(request.GET, queryset=queryset)
    templates = list(template_filter.qs) if template_filter.is_valid() else []
    for template in templates:
        template.trigger_text = trigger_in_words(template)
        template.success = success_text(template.runs_completed, template.runs_cancelled)
    context = {
        "filter": template_filter,
        "templates": templates,
        "filtered": any(value.strip() for value in request.GET.values()),
    }
    return render(request, _page(request, "workflows/template_library.html", "results"), context)


def _stage_sections(template: WorkflowTemplate, tasks: list) -> list[dict]:
    order = template.stage_order()
    sections: dict[str, list] = {}
    for task in sorted(tasks, key=lambda t: (order.get(t.stage, len(order)), t.stage, t.position, t.offset_days)):
        sections.setdefault(task.stage, []).append(task)
    return [{"name": stage or "Tasks", "tasks": group} for stage, group in sections.items()]


@require_GET
def template_detail(request: HttpRequest, pk) -> HttpResponse:
    """Stages, task definitions (offset, assignee, proof, run links) and the dependency graph."""
    template = get_object_or_404(with_library_stats(), pk=pk)
    tasks = list(template.tasks.select_related("assignee"))
    titles = {task.ref: task.title for task in tasks}
    for task in tasks:
        task.offset_text = offset_phrase(task.offset_days)
        task.prerequisites = [titles.get(ref, ref) for ref in task.depends_on or []]
    context = {
        "template": template,
        "sections": _stage_sections(template, tasks),
        "task_count": len(tasks),
        "trigger_text": trigger_in_words(template),
        "success": success_text(template.runs_completed, template.runs_cancelled),
        "diagram": dependency_mermaid(template.stages, tasks),
        "outline": dependency_outline(tasks),
        "clone_form": CloneTemplateForm(initial={"name": f"{template.name} (copy)"}),
    }
    return render(request, _page(request, "workflows/template_detail.html", "detail"), context)


@require_http_methods(["GET", "POST"])
def template_clone(request: HttpRequest, pk) -> HttpResponse:
    """Copy a template under a new name (``clone_template``), then open the copy's editor."""
    template = get_object_or_404(WorkflowTemplate, pk=pk)
    form = CloneTemplateForm(request.POST or None, initial={"name": f"{template.name} (copy)"})
    if request.method == "POST" and form.is_valid():
        try:
            clone = clone_template(template=template, name=form.cleaned_data["name"], by=request.user)
        except DomainError as exc:
            form.add_error("name", exc.detail)
        else:
            messages.success(request, f"Copied “{template.name}” as “{clone.name}”. Customise it below.")
            return redirect("template-edit", pk=clone.pk)
    status = 400 if form.errors else 200
    context = {"template": template, "form": form}
    return render(request, _page(request, "workflows/template_clone.html", "clone"), context, status=status)


def _bounded_task_counts(posted) -> tuple[Any, str]:
    """The posted editor data with its task-form counts checked before any form is built: a
    count that is not a number, or more than a template may hold (``MAX_TEMPLATE_TASKS``, plus
    the blank form), is replaced by 0 and the post refused with the reason (nothing is saved), so a forged
    count never makes the page build thousands of forms."""
    data = posted.copy()
    refusal = ""
    for key in ("TOTAL_FORMS", "INITIAL_FORMS"):
        name = f"{TASK_PREFIX}-{key}"
        count = data.get(name) or "0"
        if not count.isdigit() or len(count) > 4 or int(count) > MAX_TEMPLATE_TASKS + 1:
            data[name] = "0"
            refusal = f"A template holds at most {MAX_TEMPLATE_TASKS:,} tasks; the form sent {count[:20]!r} of them."
    return data, refusal


@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk) -> HttpResponse:
    """Edit name, description, category, stages, run links and task definitions (add, change,
    remove; dependencies and proof). Saved through ``save_template``; a refusal is shown next to
    the field it concerns and nothing is saved."""
    template = get_object_or_404(WorkflowTemplate, pk=pk)
    assignees = assignee_choices(template)
    initial_tasks = task_initial(template)
    form_kwargs = {"assignees": assignees}
    status = 200
    if request.method == "GET":
        form = TemplateEditForm(initial={name: getattr(template, name) for name in TemplateEditForm.base_fields})
        formset = TemplateTaskFormSet(initial=initial_tasks, prefix=TASK_PREFIX, form_kwargs=form_kwargs)
    else:
        data, too_many = _bounded_task_counts(request.POST)
        if "add_task" in data and not too_many:
            # One more blank task form; nothing is validated or saved yet.
            total = f"{TASK_PREFIX}-TOTAL_FORMS"
            data[total] = str(int(data.get(total) or 0) + 1)
        form = TemplateEditForm(data)
        formset = TemplateTaskFormSet(data, initial=initial_tasks, prefix=TASK_PREFIX, form_kwargs=form_kwargs)
        if too_many:
            form.add_error(None, too_many)
            status = 400
        elif "add_task" not in data:
            if form.is_valid() and formset.is_valid():
                kept = formset.kept_forms()
                try:
                    save_template(
                        template=template,
                        data=form.data_for_save(),
                        tasks=[task_form.spec() for task_form in kept],
                        by=request.user,
                    )
                except DomainError as exc:
                    apply_domain_error(exc, form, kept)
                else:
                    messages.success(request, "Template saved. Runs launched before keep their tasks as they were.")
                    return redirect("template-detail", pk=template.pk)
            status = 400
    context = {
        "template": template,
        "form": form,
        "formset": formset,
        "stage_names": template.stages,
        "refs": [task["ref"] for task in initial_tasks],
        "has_errors": status == 400,
    }
    return render(request, _page(request, "workflows/template_edit.html", "editor"), context, status=status)
