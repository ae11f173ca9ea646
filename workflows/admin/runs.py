"""Admin of runs and their links."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from ..forms import (
    ReasonForm,
    RunLinkForm,
)
from ..models import (
    Run,
    RunLink,
    Task,
    portal_today,
)
from .conventions import (
    DeletionRefusalMixin,
    DomainErrorMessagesMixin,
    ReadOnlyInline,
    admin_link,
    apply_to_each,
    form_action,
)


class RunRiskFilter(admin.SimpleListFilter):
    title = "risk"
    parameter_name = "risk"

    def lookups(self, request, model_admin):
        return [("at_risk", "At risk"), ("on_track", "On track")]

    def queryset(self, request, queryset):
        if self.value() == "at_risk":
            return queryset.at_risk()
        if self.value() == "on_track":
            return queryset.on_track()
        return queryset


class RunLinkFormSet(forms.models.BaseInlineFormSet):
    def fill(self, run: Run, *, by) -> None:
        """Fill the changed links through ``Run.fill_link`` (the same path as the API)."""
        self.new_objects, self.deleted_objects, self.changed_objects = [], [], []
        for form in self.initial_forms:
            if "url" in form.changed_data:
                link = run.fill_link(name=form.instance.name, url=form.cleaned_data["url"], by=by)
                self.changed_objects.append((link, ["url"]))


class RunLinkInline(admin.TabularInline):
    model = RunLink
    form = RunLinkForm
    formset = RunLinkFormSet
    template = "admin/edit_inline/tabular_records.html"
    fields = ("name", "url", "updated_by", "updated_at")
    readonly_fields = ("name", "updated_by", "updated_at")
    extra = 0
    can_delete = False
    verbose_name_plural = "run links (shared by every task of the run)"

    def has_add_permission(self, request, obj=None):
        return False  # the template defines which links a run has

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("updated_by")


class RunTaskInline(ReadOnlyInline):
    model = Task
    fk_name = "run"
    verbose_name_plural = "tasks"
    fields = ("task_link", "template_task_ref", "stage", "status", "due_date", "assignee", "archived_at")
    readonly_fields = fields
    ordering = ("due_date", "due_time", "title")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("assignee")

    @admin.display(description="task")
    def task_link(self, obj: Task) -> str:
        return admin_link(obj)


@admin.register(Run)
class RunAdmin(DomainErrorMessagesMixin, DeletionRefusalMixin, admin.ModelAdmin):
    """Runs are created by launching a template; here they are paused, resumed, cancelled and
    their shared links filled."""

    list_display = (
        "title",
        "template",
        "anchor_date",
        "status",
        "current_stage",
        "progress",
        "at_risk",
        "risk_overdue",
        "risk_blocked",
    )
    list_select_related = ("template",)
    list_filter = (
        "status",
        RunRiskFilter,
        ("template", admin.RelatedOnlyFieldListFilter),
        ("anchor_date", admin.DateFieldListFilter),
    )
    search_fields = ("title", "template__name")
    date_hierarchy = "anchor_date"
    fields = (
        "template_link",
        "anchor_date",
        "trigger_date",
        "status",
        "current_stage",
        "risk_card",
        "cancel_reason",
        "created_by",
        ("created_at", "updated_at", "completed_at"),
    )
    readonly_fields = (
        "template_link",
        "anchor_date",
        "trigger_date",
        "status",
        "current_stage",
        "risk_card",
        "cancel_reason",
        "created_by",
        "created_at",
        "updated_at",
        "completed_at",
    )
    inlines = (RunLinkInline, RunTaskInline)
    actions = ("pause_runs", "resume_runs", "cancel_runs")

    def get_queryset(self, request):
        return super().get_queryset(request).with_risk(portal_today())

    def has_add_permission(self, request):
        return False  # a run is launched from its template (action “Launch a run…”)

    def save_model(self, request, obj, form, change):
        pass  # nothing of the run itself is edited here; links are filled in save_related

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            if isinstance(formset, RunLinkFormSet):
                formset.fill(form.instance, by=request.user)
            else:
                self.save_formset(request, form, formset, change)

    def deletion_refusal(self, obj: Run) -> str | None:
        count = obj.tasks.count()
        if not count:
            return None
        return (
            f"Run '{obj}' has {count} task{'' if count == 1 else 's'}; deleting it would lose their history. "
            "Cancel it instead (action “Cancel selected runs…”)."
        )

    @admin.display(description="template")
    def template_link(self, obj: Run) -> str:
        return admin_link(obj.template)

    @admin.display(description="progress")
    def progress(self, obj: Run) -> str:
        return f"{obj.risk_resolved}/{obj.risk_total}"

    @admin.display(description="at risk", boolean=True)
    def at_risk(self, obj: Run) -> bool:
        return obj.risk()["at_risk"]

    @admin.display(description="overdue", ordering="risk_overdue")
    def risk_overdue(self, obj: Run) -> int:
        return obj.risk_overdue

    @admin.display(description="blocked", ordering="risk_blocked")
    def risk_blocked(self, obj: Run) -> int:
        return obj.risk_blocked

    @admin.display(description="risk")
    def risk_card(self, obj: Run) -> str:
        risk = obj.risk()
        return (
            f"{risk['progress']['resolved']}/{risk['progress']['total']} resolved · "
            f"{risk['overdue']} overdue · {risk['waiting']} waiting · {risk['follow_ups_due']} follow-ups due · "
            f"{risk['missing_evidence']} missing evidence · {risk['blocked']} blocked"
            + (" · AT RISK" if risk["at_risk"] else "")
        )

    @admin.action(description="Pause selected runs", permissions=["change"])
    def pause_runs(self, request, queryset):
        apply_to_each(self, request, queryset, lambda run: run.pause(by=request.user), done="Paused")

    @admin.action(description="Resume selected runs", permissions=["change"])
    def resume_runs(self, request, queryset):
        apply_to_each(self, request, queryset, lambda run: run.resume(by=request.user), done="Resumed")

    @form_action(
        form_class=ReasonForm,
        description="Cancel selected runs…",
        explanation="A cancelled run's tasks leave Operations Home; their history is kept.",
        submit_label="Cancel runs",
    )
    def cancel_runs(self, request, queryset, data):
        apply_to_each(
            self, request, queryset, lambda run: run.cancel(reason=data["reason"], by=request.user), done="Cancelled"
        )
