"""Admin of recurring duties and of the automation's history (``docs/schedules.md``).

Every change goes through ``recurring.services`` (saving syncs celery-beat; pause, resume,
archive, generate and backfill are the same calls the API and the pages make). The change list
annotates its derived columns in SQL, so its number of queries does not grow with its length.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from workflows.admin import (
    AssigneeChoicesMixin,
    DeletionRefusalMixin,
    DomainErrorMessagesMixin,
    apply_to_each,
    form_action,
)
from workflows.errors import DomainError
from workflows.forms import keep_current_assignee
from workflows.models import Task, WorkflowTemplate

from . import services
from .forms import CONFIG_FORM_FIELDS, AcknowledgeForm, BackfillForm, RecurringConfigForm
from .models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig, schedule_description


def _when(value) -> str:
    """An instant in the operator's words: local to the schedule when known, with the zone."""
    return value.strftime("%a %Y-%m-%d %H:%M %Z") if value else "—"


def _attention_badge() -> str:
    return format_html(
        '<strong style="color: var(--error-fg, #ba2121)" title="{}">⚠ Needs attention</strong>',
        "Failed, not resolved by a later success and not acknowledged.",
    )


def _result_summary(result) -> str:
    parts = [f"{result.generated} generated", f"{result.skipped} skipped"]
    if result.recovered:
        parts.append(f"{result.recovered} recovered")
    if result.missed:
        parts.append(f"{result.missed} missed")
    if result.failed:
        parts.append(f"{result.failed} failed")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# Backfill: date range → dry-run preview → confirm → real run (configs and automatic templates)
# --------------------------------------------------------------------------------------------


def backfill_view(
    request: HttpRequest,
    *,
    model_admin: admin.ModelAdmin,
    schedule: RecurringConfig | WorkflowTemplate,
    done_url: str,
) -> HttpResponse:
    """The backfill page of one schedule. "Preview" runs the backfill as a dry run and lists which
    windows would be generated and which already exist; "Confirm" runs it for real with the same
    range and reports the counts. Range refusals come back as form errors; nothing is written."""
    adapter = services.schedule_of(schedule)
    is_config = adapter.is_config
    preview = None
    # A missed-windows notification links here with the range in the query string: prefill it.
    initial = {name: request.GET[name] for name in ("start_date", "end_date") if request.GET.get(name)}
    form = BackfillForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        start, end = form.cleaned_data["start_date"], form.cleaned_data["end_date"]
        confirm = "confirm" in request.POST
        try:
            with transaction.atomic():
                result = services.backfill(
                    schedule,
                    start=start,
                    end=end,
                    dry_run=not confirm,
                    by=request.user,
                    trigger=GenerationTrigger.ADMIN,
                )
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            if confirm:
                level = messages.ERROR if result.failed else messages.SUCCESS
                what = "task(s)" if is_config else "run(s)"
                text = (
                    f"Backfill of “{schedule}” from {start:%Y-%m-%d} to {end:%Y-%m-%d}: "
                    f"{result.generated} {what} generated, {result.skipped} already existed"
                )
                if result.recovered:
                    text += f", {result.recovered} missing task(s) recovered"
                if result.error:
                    text += f". Failed: {result.error}"
                if result.notes:
                    text += ". " + " ".join(note.rstrip(".") + "." for note in result.notes).rstrip(".")
                model_admin.message_user(request, text + ".", level)
                return HttpResponseRedirect(done_url)
            preview = result
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": f"Backfill “{schedule}”",
        "schedule": schedule,
        "is_config": is_config,
        "schedule_in_words": schedule_description(adapter.expression),
        "zone": adapter.zone_name,
        "form": form,
        "preview": preview,
        "done_url": done_url,
    }
    return TemplateResponse(request, "admin/recurring/backfill.html", context)


# --------------------------------------------------------------------------------------------
# Recurring configs
# --------------------------------------------------------------------------------------------


class ArchivedFilter(admin.SimpleListFilter):
    """Archived configs are hidden from the default list (history stays reachable)."""

    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", "Not archived"), ("yes", "Archived"), ("all", "All")]

    def choices(self, changelist):
        current = self.value() or "no"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "no"
        if value == "no":
            return queryset.filter(archived_at__isnull=True)
        if value == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


@admin.register(RecurringConfig)
class RecurringConfigAdmin(AssigneeChoicesMixin, DomainErrorMessagesMixin, DeletionRefusalMixin, admin.ModelAdmin):
    """Assignees: active portal members only, as in the API and ``services.save_config``; a
    config's own assignee who has since left stays selectable on that config."""

    form = RecurringConfigForm
    list_display = [
        "title",
        "schedule_in_words",
        "timezone",
        "state",
        "assignee",
        "last_run",
        "generated",
        "next_fire_time",
    ]
    list_filter = [
        ArchivedFilter,
        "enabled",
        "catch_up",
        "priority",
        "area",
        "timezone",
        ("assignee", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["title", "instructions", "area", "cron_expression", "assignee__username"]
    readonly_fields = [
        "schedule_in_words",
        "next_fire_times",
        "state",
        "last_run",
        "generated",
        "backfill_link",
        "next_fire_at",
        "resumed_at",
        "archived_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["title", "instructions", "instructions_url", "area", "priority", "estimate_minutes"]}),
        (
            "Schedule",
            {
                "fields": [
                    "cron_expression",
                    "timezone",
                    "starts_on",
                    "schedule_in_words",
                    "next_fire_times",
                    "enabled",
                    "catch_up",
                ]
            },
        ),
        ("Assignment and proof", {"fields": ["assignee", "requires_link", "requires_file", "requires_proof_note"]}),
        (
            "Automation history",
            {
                "fields": [
                    "state",
                    "last_run",
                    "generated",
                    "backfill_link",
                    "next_fire_at",
                    "resumed_at",
                    "archived_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    actions = ["pause", "resume", "generate_now", "archive"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).with_history()

    # -- derived columns --------------------------------------------------------------------

    @admin.display(description="Schedule")
    def schedule_in_words(self, config: RecurringConfig) -> str:
        if not config.cron_expression:
            return "—"
        return f"{config.schedule_description} ({config.cron_expression})"

    @admin.display(description="Next 5 fire times")
    def next_fire_times(self, config: RecurringConfig) -> str:
        # A new config already has its UUID before it is saved: ask Django whether it is stored.
        if config._state.adding:
            return "Shown after saving."
        fires = config.upcoming_fire_times(after=timezone.now())
        if not fires:
            return "—"
        items = format_html_join("", "<li>{}</li>", ((_when(fire),) for fire in fires))
        note = "" if config.schedule_active else " (paused: nothing is generated until it is resumed)"
        return format_html('<ol style="margin: 0; padding-left: 1.5em">{}</ol>{}', items, note)

    @admin.display(description="State")
    def state(self, config: RecurringConfig) -> str:
        if config.archived_at:
            return "Archived"
        return "Enabled" if config.enabled else "Paused"

    @admin.display(description="Last run")
    def last_run(self, config: RecurringConfig) -> str:
        run = None if config._state.adding else config.last_run
        if run is None:
            return "Never"
        text = f"{run.at:%Y-%m-%d %H:%M} UTC · {run.get_status_display()} ({run.generated} generated)"
        if run.needs_attention:
            return format_html("{} {}", text, _attention_badge())
        return text

    @admin.display(description="Generated tasks")
    def generated(self, config: RecurringConfig) -> int:
        count = getattr(config, "generated_count", None)
        if count is None:
            return 0 if config._state.adding else Task.objects.filter(recurring_config=config).count()
        return count

    @admin.display(description="Next fire time")
    def next_fire_time(self, config: RecurringConfig) -> str:
        if not config.schedule_active:
            return "— (archived)" if config.archived_at else "— (paused)"
        fires = config.upcoming_fire_times(after=timezone.now(), count=1)
        return _when(fires[0]) if fires else "—"

    @admin.display(description="Backfill")
    def backfill_link(self, config: RecurringConfig) -> str:
        if config._state.adding:
            return "—"
        url = reverse("admin:recurring_recurringconfig_backfill", args=[config.pk])
        return format_html('<a href="{}">Backfill a date range…</a> (dry-run preview first)', url)

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class ConfigForm(form):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                keep_current_assignee(self)

        return ConfigForm

    # -- saving through the domain code -----------------------------------------------------

    def save_model(self, request: HttpRequest, obj: RecurringConfig, form, change: bool) -> None:
        """Save through ``services.save_config`` so celery-beat follows. The service receives the
        config as stored (not the form-mutated instance) so it can see what changed, e.g. a
        re-enable that counts as a resume."""
        data = {name: form.cleaned_data[name] for name in CONFIG_FORM_FIELDS if name in form.cleaned_data}
        stored = RecurringConfig.objects.get(pk=obj.pk) if change else None
        saved = services.save_config(config=stored, data=data, by=request.user)
        for field in RecurringConfig._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
        obj._state.db = saved._state.db

    # -- deleting: refused when there is history ---------------------------------------------

    def deletion_refusal(self, config: RecurringConfig) -> str | None:
        count = Task.objects.filter(recurring_config=config).count()
        if not count and not GenerationRun.objects.filter(recurring_config=config).exists():
            return None
        return (
            f"“{config}” cannot be deleted: it has generated history ({count} task(s) and its generation runs), "
            "which must stay intact. Archive it instead (action “Archive”): it stops generating, leaves the "
            "default lists, and keeps its tasks, comments and proof."
        )

    def delete_model(self, request: HttpRequest, obj: RecurringConfig) -> None:
        services.delete_config(obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for config in queryset:
            services.delete_config(config, by=request.user)

    # -- actions --------------------------------------------------------------------------

    @admin.action(description="Pause selected configs (no new work; history kept)")
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_to_each(self, request, queryset, lambda c: services.pause_config(c, by=request.user), done="Paused")

    @admin.action(description="Resume selected configs (only windows from now on)")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_to_each(self, request, queryset, lambda c: services.resume_config(c, by=request.user), done="Resumed")

    @admin.action(description="Archive selected configs (paused and hidden; history kept)")
    def archive(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_to_each(self, request, queryset, lambda c: services.archive_config(c, by=request.user), done="Archived")

    @admin.action(description="Generate now (the windows due at this moment)")
    def generate_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        now = timezone.now()
        for config in queryset:
            try:
                with transaction.atomic():
                    result = services.generate_due(config, at=now, trigger=GenerationTrigger.ADMIN, by=request.user)
            except DomainError as exc:
                self.message_user(request, f"“{config}”: {exc.detail}", messages.ERROR)
                continue
            text = f"“{config}”: {_result_summary(result)}."
            if result.error:
                self.message_user(request, f"{text} Failed: {result.error}", messages.ERROR)
            else:
                self.message_user(request, text, messages.SUCCESS)

    # -- backfill pages -------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<uuid:object_id>/backfill/", wrap(self.config_backfill_view), name="recurring_recurringconfig_backfill"
            ),
            path(
                "template/<uuid:object_id>/backfill/",
                wrap(self.template_backfill_view),
                name="recurring_template_backfill",
            ),
            *super().get_urls(),
        ]

    def config_backfill_view(self, request: HttpRequest, object_id) -> HttpResponse:
        config = get_object_or_404(RecurringConfig, pk=object_id)
        if not self.has_change_permission(request, config):
            return HttpResponse("You may not change this recurring config.", status=403)
        done_url = reverse("admin:recurring_recurringconfig_change", args=[config.pk])
        return backfill_view(request, model_admin=self, schedule=config, done_url=done_url)

    def template_backfill_view(self, request: HttpRequest, object_id) -> HttpResponse:
        """Backfill of an automatic workflow template, over trigger (run) dates."""
        template = get_object_or_404(WorkflowTemplate, pk=object_id)
        if not request.user.has_perm("workflows.change_workflowtemplate"):
            return HttpResponse("You may not change workflow templates.", status=403)
        try:
            done_url = reverse("admin:workflows_workflowtemplate_change", args=[template.pk])
        except NoReverseMatch:
            done_url = reverse("admin:recurring_generationrun_changelist") + f"?template__id__exact={template.pk}"
        return backfill_view(request, model_admin=self, schedule=template, done_url=done_url)


# --------------------------------------------------------------------------------------------
# Generation runs (read-only history)
# --------------------------------------------------------------------------------------------


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("recurring", "Recurring config"), ("template", "Workflow template")]

    def queryset(self, request, queryset):
        if self.value() == "recurring":
            return queryset.filter(recurring_config__isnull=False)
        if self.value() == "template":
            return queryset.filter(template__isnull=False)
        return queryset


class AttentionFilter(admin.SimpleListFilter):
    title = "attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("needed", "Needs attention"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "needed":
            return queryset.needing_attention()
        if value == "acknowledged":
            return queryset.filter(acknowledged_at__isnull=False)
        if value == "resolved":
            return queryset.filter(status=GenerationStatus.FAILED, resolved_at__isnull=False)
        return queryset


@admin.register(GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin):
    """The automation's history: read-only, except acknowledging a failure with a note."""

    list_display = [
        "attention",
        "schedule",
        "trigger",
        "status",
        "at",
        "generated",
        "skipped",
        "missed",
        "recovered",
        "failed",
        "short_error",
    ]
    list_display_links = ["schedule"]
    list_filter = [AttentionFilter, "status", "trigger", KindFilter, "dry_run"]
    list_select_related = ["recurring_config", "template"]
    search_fields = ["recurring_config__title", "template__name", "error", "acknowledgement_note"]
    date_hierarchy = "started_at"
    actions = ["acknowledge"]

    def get_readonly_fields(self, request, obj=None):
        return ["attention", *[f.name for f in GenerationRun._meta.fields]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Attention")
    def attention(self, run: GenerationRun) -> str:
        if run.needs_attention:
            return _attention_badge()
        if run.acknowledged_at:
            return f"Acknowledged {run.acknowledged_at:%Y-%m-%d}"
        if run.status == GenerationStatus.FAILED and run.resolved_at:
            return f"Resolved {run.resolved_at:%Y-%m-%d}"
        return ""

    @admin.display(description="Schedule")
    def schedule(self, run: GenerationRun) -> str:
        if run.recurring_config_id:
            return f"Recurring · {run.recurring_config.title}"
        return f"Workflow template · {run.template.name}"

    @admin.display(description="Error")
    def short_error(self, run: GenerationRun) -> str:
        return Truncator(run.error).chars(80) if run.error else ""

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("recurring.change_generationrun")

    @form_action(
        form_class=AcknowledgeForm,
        description="Acknowledge failure (with a note)",
        explanation="Acknowledging closes the selected failures on Operations Home and in the admin; the note is "
        "kept with each generation run and its notifications. Runs that do not need attention are left alone.",
        submit_label="Acknowledge",
        permissions=("acknowledge",),
    )
    def acknowledge(self, request: HttpRequest, queryset: QuerySet, data: dict) -> None:
        """Acknowledge every selected failure that still needs attention, through
        ``services.acknowledge_failure``."""
        failures = list(queryset.needing_attention())
        if not failures:
            self.message_user(
                request, "None of the selected generation runs is an unacknowledged failure.", messages.WARNING
            )
            return
        apply_to_each(
            self,
            request,
            failures,
            lambda run: services.acknowledge_failure(run, by=request.user, note=data["note"]),
            done="Acknowledged",
        )
