"""Admin of workflow templates and their task definitions."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..errors import DomainError
from ..forms import (
    AnchorDateForm,
    CloneForm,
    TemplateTaskForm,
    TemplateTaskFormSet,
    WorkflowTemplateForm,
)
from ..models import (
    Run,
    TemplateTask,
    WorkflowTemplate,
)
from ..services import (
    TEMPLATE_FIELDS,
    clone_template,
    instantiate_run,
    save_template,
)
from .conventions import (
    ArchivedFilter,
    AssigneeChoicesMixin,
    DeletionRefusalMixin,
    DomainErrorMessagesMixin,
    ReadOnlyAdminMixin,
    admin_link,
    apply_to_each,
    changelist_url,
    form_action,
)


class TemplateTaskInline(AssigneeChoicesMixin, admin.StackedInline):
    model = TemplateTask
    form = TemplateTaskForm
    formset = TemplateTaskFormSet
    verbose_name = "task definition"
    verbose_name_plural = "task definitions (editing them never changes tasks of existing runs)"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("position", "ref", "title"),
                    ("stage", "offset_days", "priority"),
                    ("assignee", "area", "estimate_minutes"),
                    "depends_on",
                    ("requires_link", "requires_file", "requires_proof_note"),
                    "requires_run_links",
                    "instructions",
                )
            },
        ),
    )

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None else 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("assignee")


class LaunchableTemplateFilter(admin.SimpleListFilter):
    title = "trigger"
    parameter_name = "trigger"

    def lookups(self, request, model_admin):
        return [("manual", "Manual"), ("active", "Automatic, enabled"), ("paused", "Automatic, paused")]

    def queryset(self, request, queryset):
        if self.value() == "manual":
            return queryset.filter(trigger_type="manual")
        if self.value() == "active":
            return queryset.filter(trigger_type="automatic", trigger_enabled=True)
        if self.value() == "paused":
            return queryset.filter(trigger_type="automatic", trigger_enabled=False)
        return queryset


@admin.register(WorkflowTemplate)
class WorkflowTemplateAdmin(DomainErrorMessagesMixin, DeletionRefusalMixin, admin.ModelAdmin):
    """Templates with their task definitions, saved together by ``save_template``."""

    form = WorkflowTemplateForm
    inlines = (TemplateTaskInline,)
    list_display = ("name", "category", "trigger_display", "task_count", "run_count", "archived")
    list_filter = (LaunchableTemplateFilter, ("category", admin.AllValuesFieldListFilter), ArchivedFilter)
    search_fields = ("name", "description", "category", "tasks__ref", "tasks__title")
    readonly_fields = (
        "schedule_explained",
        "next_fire_times",
        "runs_link",
        "automation_links",
        "archived_at",
        "created_at",
        "updated_at",
        "resumed_at",
        "next_fire_at",
        "failure_streak",
    )
    actions = (
        "launch_run",
        "clone",
        "pause_triggers",
        "resume_triggers",
        "archive_templates",
        "restore_templates",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(task_count=Count("tasks", distinct=True), run_count=Count("runs", distinct=True))
        )

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ("name", "description", "category", "stages", "run_links")}),
            (
                "Trigger",
                {
                    "fields": (
                        "trigger_type",
                        "trigger_schedule",
                        "schedule_explained",
                        "next_fire_times",
                        ("trigger_timezone", "trigger_lead_days"),
                        ("trigger_enabled", "trigger_starts_on", "catch_up"),
                    ),
                    "description": "An automatic template creates a run when its cron schedule matches a date R; "
                    "the run's anchor date is R + lead days.",
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "Record",
                    {
                        "fields": (
                            "runs_link",
                            "automation_links",
                            "archived_at",
                            ("created_at", "updated_at"),
                            ("resumed_at", "next_fire_at", "failure_streak"),
                        )
                    },
                )
            )
        return fieldsets

    def save_model(self, request, obj, form, change):
        # The template and its task definitions are one save_template call, made in save_related
        # where the inline task definitions are available.
        pass

    def save_related(self, request, form, formsets, change):
        task_formset = next(fs for fs in formsets if isinstance(fs, TemplateTaskFormSet))
        data = {name: form.cleaned_data[name] for name in TEMPLATE_FIELDS if name in form.cleaned_data}
        # Editing starts from the stored template so save_template sees what changed (a trigger
        # switched on counts as a resume).
        template = WorkflowTemplate.objects.get(pk=form.instance.pk) if change else form.instance
        save_template(template=template, data=data, tasks=task_formset.task_specs(), by=request.user)
        if change:
            form.instance.refresh_from_db()
        task_formset.record_saved()
        for formset in formsets:
            if formset is not task_formset:
                self.save_formset(request, form, formset, change)

    def deletion_refusal(self, obj: WorkflowTemplate) -> str | None:
        runs = obj.runs.count()
        generation_runs = obj.generation_runs.count() if hasattr(obj, "generation_runs") else 0
        if not (runs or generation_runs):
            return None
        what = []
        if runs:
            what.append(f"{runs} run{'' if runs == 1 else 's'}")
        if generation_runs:
            what.append(f"{generation_runs} generation run{'' if generation_runs == 1 else 's'}")
        return (
            f"Template '{obj}' has {' and '.join(what)}; deleting it would lose their history. "
            "Archive it instead (action “Archive”)."
        )

    # ---- columns and read-only fields ----------------------------------------------------
    @admin.display(description="trigger", ordering="trigger_type")
    def trigger_display(self, obj: WorkflowTemplate) -> str:
        if not obj.is_automatic:
            return "Manual"
        state = "enabled" if obj.trigger_enabled else "paused"
        return f"Automatic · {obj.trigger_schedule} ({obj.trigger_timezone}) · lead {obj.trigger_lead_days} d · {state}"

    @admin.display(description="tasks", ordering="task_count")
    def task_count(self, obj: WorkflowTemplate) -> int:
        return obj.task_count

    @admin.display(description="runs", ordering="run_count")
    def run_count(self, obj: WorkflowTemplate) -> int:
        return obj.run_count

    @admin.display(description="archived", boolean=True, ordering="archived_at")
    def archived(self, obj: WorkflowTemplate) -> bool:
        return obj.archived_at is not None

    @admin.display(description="schedule in plain words")
    def schedule_explained(self, obj: WorkflowTemplate) -> str:
        from recurring import cron

        if not obj.trigger_schedule:
            return "No schedule (manual template)."
        try:
            text = cron.compile_schedule(obj.trigger_schedule, obj.trigger_timezone).explain()
        except cron.CronError as exc:
            return f"Invalid schedule: {exc}"
        return text if obj.is_automatic else f"{text} (not used while the template is manual)"

    @admin.display(description="next 5 fire times")
    def next_fire_times(self, obj: WorkflowTemplate) -> str:
        from recurring import cron

        if not obj.trigger_schedule:
            return "—"
        try:
            schedule = cron.compile_schedule(obj.trigger_schedule, obj.trigger_timezone)
            zone = ZoneInfo(obj.trigger_timezone)
            times = schedule.next_fire_times(timezone.now(), 5)
        except (cron.CronError, ValueError) as exc:
            return f"Invalid schedule: {exc}"
        return format_html_join(
            "", "<div>{}</div>", ((t.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z"),) for t in times)
        )

    @admin.display(description="runs")
    def runs_link(self, obj: WorkflowTemplate) -> str:
        count = obj.runs.count()
        return format_html(
            '<a href="{}">{} run{}</a>',
            changelist_url(Run, template__id__exact=obj.pk),
            count,
            "" if count == 1 else "s",
        )

    @admin.display(description="automation")
    def automation_links(self, obj: WorkflowTemplate) -> str:
        # The schedules admin (recurring) owns these pages; linked by URL name so the core app
        # never imports it, and simply left out when it is not installed.
        links = []
        for url_name, args, query, text in (
            ("admin:recurring_generationrun_changelist", [], f"?template__id__exact={obj.pk}", "Generation runs"),
            ("admin:recurring_template_backfill", [obj.pk], "", "Backfill / generate a date range"),
        ):
            if url_name.endswith("backfill") and not obj.is_automatic:
                continue
            try:
                links.append((reverse(url_name, args=args) + query, text))
            except NoReverseMatch:
                continue
        if not links:
            return "—"
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    # ---- actions -------------------------------------------------------------------------
    @form_action(
        form_class=AnchorDateForm,
        description="Launch a run…",
        explanation="Creates the run of each selected template for the anchor date, with all its tasks. "
        "If that run exists, only its missing tasks are created again.",
        submit_label="Launch",
    )
    def launch_run(self, request, queryset, data):
        anchor_date = data["anchor_date"]
        for template in queryset:
            try:
                result = instantiate_run(template=template, anchor_date=anchor_date, by=request.user)
            except DomainError as exc:
                self.message_user(request, f"{template}: {exc.detail}", messages.ERROR)
                continue
            if result.created:
                text = format_html("Created run {} with {} task(s).", admin_link(result.run), len(result.task_ids))
            elif result.recovered:
                text = format_html(
                    "Run {} already exists; recovered {} missing task(s).", admin_link(result.run), result.recovered
                )
            else:
                text = format_html("Run {} already exists; no task was missing.", admin_link(result.run))
            self.message_user(request, text, messages.SUCCESS)

    @form_action(
        form_class=CloneForm,
        description="Clone…",
        explanation="Copies the template and its task definitions under a new name.",
        submit_label="Clone",
        permissions=("add",),
        single=True,
    )
    def clone(self, request, queryset, data):
        template = queryset.get()
        try:
            clone = clone_template(template=template, name=data["name"], by=request.user)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return None
        self.message_user(request, format_html("Cloned '{}' as {}.", template, admin_link(clone)), messages.SUCCESS)

    @admin.action(description="Pause automatic trigger", permissions=["change"])
    def pause_triggers(self, request, queryset):
        apply_to_each(
            self,
            request,
            queryset,
            lambda t: t.set_trigger_enabled(False, by=request.user),
            done="Paused the trigger of",
        )

    @admin.action(description="Resume automatic trigger", permissions=["change"])
    def resume_triggers(self, request, queryset):
        apply_to_each(
            self,
            request,
            queryset,
            lambda t: t.set_trigger_enabled(True, by=request.user),
            done="Resumed the trigger of",
        )

    @admin.action(description="Archive (no new runs; history kept)", permissions=["change"])
    def archive_templates(self, request, queryset):
        apply_to_each(self, request, queryset, lambda t: t.archive(by=request.user), done="Archived")

    @admin.action(description="Restore from archive", permissions=["change"])
    def restore_templates(self, request, queryset):
        apply_to_each(self, request, queryset, lambda t: t.restore(by=request.user), done="Restored")


@admin.register(TemplateTask)
class TemplateTaskAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every task definition across templates, for searching; edited on its template's page."""

    list_display = ("ref", "title", "template", "stage", "offset_days", "assignee", "depends_on_refs")
    list_select_related = ("template", "assignee")
    list_filter = (("template", admin.RelatedOnlyFieldListFilter), ("assignee", admin.RelatedOnlyFieldListFilter))
    search_fields = ("ref", "title", "instructions", "template__name")
    fields = (
        "template_link",
        "ref",
        "title",
        "stage",
        "offset_days",
        "assignee",
        "depends_on_refs",
        "requires_link",
        "requires_file",
        "requires_proof_note",
        "requires_run_links",
        "instructions",
    )
    readonly_fields = fields

    @admin.display(description="template")
    def template_link(self, obj: TemplateTask) -> str:
        return admin_link(obj.template)

    @admin.display(description="depends on")
    def depends_on_refs(self, obj: TemplateTask) -> str:
        return ", ".join(obj.depends_on or []) or "—"
