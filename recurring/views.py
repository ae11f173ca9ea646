"""The Recurring pages: every schedule (recurring configs and automatic workflow templates) with
its state, last run and next fire time; pause, resume, generate now and backfill in place; and
the create/edit form of a config with presets and a live preview of the schedule.

Views are thin: pausing, resuming, generating, backfilling and saving are the calls the API and
the admin make (``recurring.services``; a template's trigger through the admin's domain path),
so the three doors can never disagree. Every view is reachable only by portal members (the
project's middleware); each looks its schedule up per request, so a missing one is a 404.
Rules of schedules and windows: ``docs/schedules.md``.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from workflows.errors import DomainError
from workflows.inputs import parse_date
from workflows.models import Run, WorkflowTemplate

from . import services
from .filters import RecurringConfigFilterSet, TemplateScheduleFilterSet, failing_condition
from .forms import CONFIG_FORM_FIELDS, BackfillForm, RecurringConfigForm
from .models import GenerationRun, GenerationTrigger, RecurringConfig, last_run_of, schedule_description

LIST_TEMPLATE = "recurring/list.html"
FORM_TEMPLATE = "recurring/config_form.html"

#: Schedules an operator picks most; each fills the cron field (with or without JavaScript).
PRESETS = [
    ("Every weekday at 9:00", "0 9 * * MON-FRI"),
    ("Daily at 9:00", "0 9 * * *"),
    ("Weekly on Monday at 10:00", "0 10 * * MON"),
    ("Monthly on the 1st at 10:00", "0 10 1 * *"),
    ("Every Friday at 16:00", "0 16 * * FRI"),
]
PRESET_EXPRESSIONS = {expression for _, expression in PRESETS}
DUTY_FIELDS = ("title", "instructions", "instructions_url", "area", "priority")
ASSIGNMENT_FIELDS = ("assignee", "estimate_minutes", "requires_link", "requires_file", "requires_proof_note")
ZONE_CHOICES = [(name, name) for name in sorted(available_timezones())]


# --------------------------------------------------------------------------------------------
# One row of the list, whichever model holds the schedule
# --------------------------------------------------------------------------------------------


@dataclass
class ScheduleRow:
    kind: str  # "configs" | "templates" (the URL segment)
    schedule: RecurringConfig | WorkflowTemplate
    title: str
    expression: str
    zone: str
    in_words: str
    assignee: Any
    last_run: GenerationRun | None
    generated: int
    next_fire: dt.datetime | None  # naive wall-clock time in the schedule's zone
    failing: bool
    #: After an action: what happened (rendered by the row), and the backfill form's state.
    outcome: dict[str, Any] | None = None
    backfill: dict[str, Any] = field(default_factory=dict)

    @property
    def pk(self):
        return self.schedule.pk

    @property
    def is_config(self) -> bool:
        return self.kind == "configs"

    @property
    def archived(self) -> bool:
        return self.schedule.archived_at is not None

    @property
    def paused(self) -> bool:
        enabled = self.schedule.enabled if self.is_config else self.schedule.trigger_enabled
        return not enabled

    @property
    def noun(self) -> str:
        return "task" if self.is_config else "run"


def _wall_clock(instant: dt.datetime | None, zone) -> dt.datetime | None:
    """An instant as the schedule's local wall-clock time, which the date filters then show as
    it is (a fire time reads in the schedule's own zone, not the reader's)."""
    return instant.astimezone(zone).replace(tzinfo=None) if instant else None


def _config_row(config: RecurringConfig, *, now: dt.datetime) -> ScheduleRow:
    fires = config.upcoming_fire_times(after=now, count=1) if config.schedule_active else []
    return ScheduleRow(
        kind="configs",
        schedule=config,
        title=config.title,
        expression=config.cron_expression,
        zone=config.timezone,
        in_words=schedule_description(config.cron_expression),
        assignee=config.assignee,
        last_run=last_run_of(config),
        generated=config.generated_count,
        next_fire=_wall_clock(fires[0], config.zone) if fires else None,
        failing=config.failing,
    )


def _trigger_schedule(template: WorkflowTemplate) -> RecurringConfig:
    """A template's trigger as an unsaved schedule, so its fire times are read by the same rule
    as a config's (from ``starts_on`` on, in the trigger's zone)."""
    return RecurringConfig(
        cron_expression=template.trigger_schedule, timezone=template.trigger_timezone, starts_on=template.starts_on
    )


def _template_row(template: WorkflowTemplate, *, now: dt.datetime) -> ScheduleRow:
    fires = _trigger_schedule(template).upcoming_fire_times(after=now, count=1) if template.schedule_active else []
    return ScheduleRow(
        kind="templates",
        schedule=template,
        title=template.name,
        expression=template.trigger_schedule,
        zone=template.trigger_timezone,
        in_words=schedule_description(template.trigger_schedule),
        assignee=None,
        last_run=last_run_of(template),
        generated=template.generated_count,
        next_fire=_wall_clock(fires[0], ZoneInfo(template.trigger_timezone)) if fires else None,
        failing=template.failing,
    )


def _configs() -> QuerySet:
    return RecurringConfig.objects.with_history().annotate(failing=failing_condition("recurring_config"))


def _templates() -> QuerySet:
    """Automatic templates with the runs their trigger generated and their latest real
    generation run (one prefetch for the whole list)."""
    generated = (
        Run.objects.filter(template=OuterRef("pk"), trigger_date__isnull=False)
        .order_by()
        .values("template")
        .annotate(n=Count("pk"))
        .values("n")
    )
    latest = GenerationRun.objects.filter(dry_run=False).order_by("-started_at", "-at")[:1]
    return (
        WorkflowTemplate.objects.automatic()
        .annotate(
            generated_count=Coalesce(Subquery(generated, output_field=IntegerField()), Value(0)),
            failing=failing_condition("template"),
        )
        .prefetch_related(Prefetch("generation_runs", queryset=latest, to_attr="latest_runs"))
    )


def _load(kind: str, pk) -> RecurringConfig | WorkflowTemplate:
    if kind == "configs":
        return get_object_or_404(RecurringConfig, pk=pk)
    return get_object_or_404(WorkflowTemplate.objects.automatic(), pk=pk)


def _row(kind: str, pk) -> ScheduleRow:
    now = timezone.now()
    if kind == "configs":
        return _config_row(get_object_or_404(_configs(), pk=pk), now=now)
    return _template_row(get_object_or_404(_templates(), pk=pk), now=now)


# --------------------------------------------------------------------------------------------
# The list
# --------------------------------------------------------------------------------------------


def _list_context(request: HttpRequest, params: QueryDict) -> tuple[dict, int]:
    """Configs, then automatic templates; the failing ones first in each."""
    now = timezone.now()
    config_filter = RecurringConfigFilterSet(params, queryset=_configs())
    template_filter = TemplateScheduleFilterSet(params, queryset=_templates())
    if not config_filter.is_valid():
        return {"filter": config_filter, "rows": [], "filtered": True}, 400
    rows = [_config_row(c, now=now) for c in config_filter.qs.order_by("-failing", "title", "id")]
    rows += [_template_row(t, now=now) for t in template_filter.qs.order_by("-failing", "name", "id")]
    filtered = any(config_filter.form.cleaned_data.get(name) for name in ("state", "archived", "failing"))
    return {"filter": config_filter, "rows": rows, "filtered": filtered}, 200


@require_GET
def schedule_list(request: HttpRequest) -> HttpResponse:
    context, status = _list_context(request, request.GET)
    template = f"{LIST_TEMPLATE}#schedule-list" if request.htmx else LIST_TEMPLATE
    return render(request, template, context, status=status)


def _render_list_with(request: HttpRequest, row: ScheduleRow, status: int) -> HttpResponse:
    """The whole page with one row carrying an action's state (the page without JavaScript)."""
    context, _ = _list_context(request, QueryDict(""))
    rows = [row if other.pk == row.pk else other for other in context["rows"]]
    if not any(other.pk == row.pk for other in rows):
        rows.insert(0, row)
    return render(request, LIST_TEMPLATE, {**context, "rows": rows}, status=status)


def _row_response(request: HttpRequest, row: ScheduleRow, *, status: int = 200) -> HttpResponse:
    return render(request, f"{LIST_TEMPLATE}#schedule-row", {"s": row}, status=status)


def _outcome_text(row: ScheduleRow) -> str:
    """The row's outcome as plain text, for the message of the page without JavaScript."""
    return html.unescape(render_to_string(f"{LIST_TEMPLATE}#outcome", {"s": row})).strip()


def _after_action(request: HttpRequest, kind: str, pk, outcome: dict, *, status: int = 200) -> HttpResponse:
    row = _row(kind, pk)
    row.outcome = outcome
    if request.htmx:
        return _row_response(request, row, status=status)
    level = messages.ERROR if outcome.get("level") == "error" else messages.SUCCESS
    messages.add_message(request, level, _outcome_text(row))
    return redirect(f"{reverse('recurring-list')}#schedule-{pk}")


# --------------------------------------------------------------------------------------------
# Actions: pause, resume, generate now, backfill
# --------------------------------------------------------------------------------------------


def _generate_outcome(schedule, result: services.GenerationResult, *, now: dt.datetime) -> dict:
    """What generate-now did, and when nothing was generated, why: the schedule is paused, the
    due window already exists, or no window is due yet (the row shows the next one)."""
    zone = schedule.zone if isinstance(schedule, RecurringConfig) else ZoneInfo(schedule.trigger_timezone)
    today = now.astimezone(zone).date()
    return {
        "action": "generate",
        "level": "error" if result.error else "ok",
        "error": result.error,
        "paused": not schedule.schedule_active,
        "generated": result.generated,
        "recovered": result.recovered,
        "windows": result.windows,
        "existing": result.existing,
        "existing_today": result.existing == [today],
        "missed": result.missed,
    }


@require_POST
def schedule_action(request: HttpRequest, kind: str, pk, action: str) -> HttpResponse:
    schedule = _load(kind, pk)
    is_config = kind == "configs"
    now = timezone.now()
    try:
        with transaction.atomic():
            if action == "pause":
                services.pause_config(schedule, by=request.user) if is_config else schedule.set_trigger_enabled(
                    False, by=request.user
                )
                outcome = {"action": "pause", "level": "ok"}
            elif action == "resume":
                services.resume_config(schedule, by=request.user) if is_config else schedule.set_trigger_enabled(
                    True, by=request.user
                )
                outcome = {"action": "resume", "level": "ok"}
            else:
                result = services.generate_due(schedule, at=now, trigger=GenerationTrigger.UI, by=request.user)
                outcome = _generate_outcome(schedule, result, now=now)
    except DomainError as exc:
        return _after_action(request, kind, pk, {"level": "error", "error": exc.detail}, status=exc.status)
    return _after_action(request, kind, pk, outcome)


@require_POST
def schedule_backfill(request: HttpRequest, kind: str, pk) -> HttpResponse:
    """Date range → dry run listing the exact windows and which already exist → confirm →
    generated/skipped counts. Refusals (range too long, end before start, archived schedule)
    come back next to the fields and write nothing."""
    schedule = _load(kind, pk)
    form = BackfillForm(request.POST)
    confirm = "confirm" in request.POST
    state: dict[str, Any] = {
        "open": True,
        "start": request.POST.get("start_date", ""),
        "end": request.POST.get("end_date", ""),
    }
    status = 200
    if form.is_valid():
        start, end = form.cleaned_data["start_date"], form.cleaned_data["end_date"]
        try:
            with transaction.atomic():
                result = services.backfill(
                    schedule, start=start, end=end, dry_run=not confirm, by=request.user, trigger=GenerationTrigger.UI
                )
        except DomainError as exc:
            field_name = exc.extra.get("field")
            form.add_error(field_name if field_name in form.fields else None, exc.detail)
            status = exc.status
        else:
            if confirm:
                outcome = {
                    "action": "backfill",
                    "level": "error" if result.error else "ok",
                    "error": result.error,
                    "start": start,
                    "end": end,
                    "generated": result.generated,
                    "skipped": result.skipped,
                    "recovered": result.recovered,
                    "notes": result.notes,
                }
                return _after_action(request, kind, pk, outcome)
            state.update(preview=result, start=start.isoformat(), end=end.isoformat(), start_day=start, end_day=end)
    if form.errors:
        state["errors"] = form.errors
        state["non_field_errors"] = form.non_field_errors()
        status = max(status, 400)
    row = _row(kind, pk)
    row.backfill = state
    if request.htmx:
        return _row_response(request, row, status=status)
    return _render_list_with(request, row, status)


# --------------------------------------------------------------------------------------------
# Create and edit a config, with presets and a live preview of the schedule
# --------------------------------------------------------------------------------------------


def _config_form(*, data=None, initial=None, instance: RecurringConfig | None = None) -> RecurringConfigForm:
    form = RecurringConfigForm(data=data, initial=initial, instance=instance)
    form.fields["timezone"].widget = forms.Select(choices=ZONE_CHOICES)
    form.fields["starts_on"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    form.fields["instructions"].widget.attrs["rows"] = 3
    form.fields["cron_expression"].widget.attrs.update(
        {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off", "inputmode": "text"}
    )
    return form


def preview_of(values: QueryDict | dict) -> dict[str, Any]:
    """The plain-words schedule and next fire times of typed values, or the reason they are
    refused — the same checks the config form applies on save."""
    expression = (values.get("cron_expression") or "").strip()
    if not expression:
        return {"empty": True}
    probe = _config_form(data={"cron_expression": expression, "timezone": values.get("timezone") or "UTC"})
    probe.is_valid()
    for name in ("cron_expression", "timezone"):
        if name in probe.errors:
            return {"error": " ".join(probe.errors[name])}
    zone = probe.cleaned_data["timezone"]
    try:
        starts_on = parse_date(values.get("starts_on"), "starts_on", required=False)
    except DomainError:
        starts_on = None  # no start date yet (or one the form refuses): the schedule starts on the day it is saved
    schedule = RecurringConfig(
        cron_expression=probe.cleaned_data["cron_expression"], timezone=zone, starts_on=starts_on
    )
    fires = schedule.upcoming_fire_times(after=timezone.now())
    return {
        "in_words": schedule_description(schedule.cron_expression),
        "zone": zone,
        "fires": [_wall_clock(fire, schedule.zone) for fire in fires],
    }


def _initial_from(data: QueryDict, form: RecurringConfigForm) -> dict[str, Any]:
    """Typed values carried over when a preset is chosen without JavaScript (nothing is saved)."""
    initial: dict[str, Any] = {}
    for name, bound_field in form.fields.items():
        if isinstance(bound_field.widget, forms.CheckboxInput):
            initial[name] = name in data
        elif name in data:
            initial[name] = data.get(name)
    return initial


def _config_form_page(request: HttpRequest, config: RecurringConfig | None) -> HttpResponse:
    status = 200
    preset = request.POST.get("preset") if request.method == "POST" else None
    if preset is not None:
        form = _config_form(instance=config)
        initial = _initial_from(request.POST, form)
        if preset in PRESET_EXPRESSIONS:
            initial["cron_expression"] = preset
        form = _config_form(initial=initial, instance=config)
        values = {name: initial.get(name) for name in ("cron_expression", "timezone", "starts_on")}
    elif request.method == "POST":
        form = _config_form(data=request.POST, instance=config)
        values = request.POST
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in CONFIG_FORM_FIELDS if name in form.cleaned_data}
            # The service compares with the config as stored (the form has already changed the
            # instance), e.g. to see that a re-enable counts as a resume.
            stored = RecurringConfig.objects.get(pk=config.pk) if config else None
            try:
                saved = services.save_config(config=stored, data=data, by=request.user)
            except DomainError as exc:
                field_name = exc.extra.get("field")
                form.add_error(field_name if field_name in form.fields else None, exc.detail)
            else:
                messages.success(request, f"Saved “{saved.title}”: {schedule_description(saved.cron_expression)}.")
                return redirect(f"{reverse('recurring-list')}#schedule-{saved.pk}")
        status = 400
    else:
        form = _config_form(instance=config)
        values = {name: form[name].value() for name in ("cron_expression", "timezone", "starts_on")}
        if isinstance(values["starts_on"], dt.date):
            values["starts_on"] = values["starts_on"].isoformat()
    context = {
        "form": form,
        "config": config,
        "presets": PRESETS,
        "preview": preview_of(values),
        "duty_fields": [form[name] for name in DUTY_FIELDS],
        "schedule_fields": [form[name] for name in ("timezone", "starts_on")],
        "policy_fields": [form[name] for name in ("enabled", "catch_up")],
        "assignment_fields": [form[name] for name in ASSIGNMENT_FIELDS],
    }
    template = f"{FORM_TEMPLATE}#config-form" if request.htmx else FORM_TEMPLATE
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def config_create(request: HttpRequest) -> HttpResponse:
    return _config_form_page(request, None)


@require_http_methods(["GET", "POST"])
def config_edit(request: HttpRequest, pk) -> HttpResponse:
    return _config_form_page(request, get_object_or_404(RecurringConfig, pk=pk))


@require_GET
def schedule_preview(request: HttpRequest) -> HttpResponse:
    """The live preview under the cron field (HTMX); a plain request gets it as a page."""
    context = {"preview": preview_of(request.GET)}
    template = f"{FORM_TEMPLATE}#preview" if request.htmx else "recurring/preview.html"
    return render(request, template, context)
