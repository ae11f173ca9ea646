"""Admin of the work engine — and the conventions every admin of the portal follows.

Conventions (other apps' admins import them from here, the core):

* Admin changes go through the domain code (``workflows.services``, the task and run methods);
  a :class:`DomainError` becomes an admin error message or a form error, never a 500.
* Task status never changes by editing a field: the transitions are admin actions. A task's
  plain fields are edited by ``Task.edit`` (one "Edited …" history entry), after the same checks
  the API makes (``Task.check_edit``).
* Work is assigned only to active portal members (:class:`AssigneeChoicesMixin`).
* Objects that carry history are never hard-deleted: the delete page and the bulk "delete
  selected" action refuse with an explanation and point to archiving (:class:`DeletionRefusalMixin`).
* Actions that need input (a reason, a date, a note) show an intermediate form page
  (:func:`form_action`); actions on many objects report each refusal by name (:func:`apply_to_each`).
* List pages use a constant number of queries: related rows through ``list_select_related``,
  counts and flags as annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import model_ngettext, unquote
from django.db import models, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .errors import DomainError
from .forms import (
    AnchorDateForm,
    CloneForm,
    CommentForm,
    FollowUpForm,
    NoteForm,
    ProofForm,
    ReasonForm,
    RunLinkForm,
    SkipForm,
    TaskForm,
    TemplateTaskForm,
    TemplateTaskFormSet,
    WaitForm,
    WorkflowTemplateForm,
    assignee_field_options,
)
from .models import (
    OPEN_STATUSES,
    REQUIREMENT_FIELDS,
    RESOLVED_STATUSES,
    Proof,
    ProofKind,
    Run,
    RunLink,
    Task,
    TaskComment,
    TaskDependency,
    TaskStatus,
    TemplateTask,
    WorkflowTemplate,
    add_proof,
    portal_today,
)
from .services import (
    TASK_CREATE_FIELDS,
    TEMPLATE_FIELDS,
    clone_template,
    create_manual_task,
    instantiate_run,
    save_template,
)

#: Intermediate action pages list at most this many of the selected objects by name.
LISTED_OBJECTS = 50


# --------------------------------------------------------------------------------------------
# Domain errors as messages
# --------------------------------------------------------------------------------------------


class DomainErrorMessagesMixin:
    """A domain refusal raised while saving (e.g. a race the form could not foresee) rolls the
    whole save back and comes back as an error message on the same page."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def apply_to_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[models.Model],
    operation: Callable[[models.Model], Any],
    *,
    done: str,
) -> int:
    """Run ``operation`` on each object in its own transaction. Successes are counted in one
    message ("Started 3 tasks."); each refusal gets its own error message naming the object and
    the domain's reason. Returns the number of successes."""
    succeeded = 0
    for obj in objects:
        try:
            with transaction.atomic():
                operation(obj)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(
            request, f"{done} {succeeded} {model_ngettext(modeladmin.opts, succeeded)}.", messages.SUCCESS
        )
    return succeeded


# --------------------------------------------------------------------------------------------
# Actions with an intermediate form
# --------------------------------------------------------------------------------------------

APPLY_FIELD = "apply"


def form_action(
    *,
    form_class: type[forms.Form],
    description: str,
    explanation: str = "",
    submit_label: str = "Confirm",
    permissions: tuple[str, ...] = ("change",),
    single: bool = False,
) -> Callable:
    """Turn ``apply(modeladmin, request, queryset, cleaned_data)`` into an admin action that first
    shows ``form_class`` on an intermediate page (the selected objects listed) and applies only
    once the form is valid. ``single`` actions refuse a selection of more than one object."""

    def decorate(apply: Callable) -> Callable:
        def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: models.QuerySet):
            if single and queryset.count() != 1:
                modeladmin.message_user(
                    request, f"“{description}” works on one object at a time; select exactly one.", messages.WARNING
                )
                return None
            if APPLY_FIELD in request.POST:
                form = form_class(request.POST, request.FILES)
                if form.is_valid():
                    return apply(modeladmin, request, queryset, form.cleaned_data)
            else:
                form = form_class()
            return render_action_form(
                modeladmin,
                request,
                queryset,
                form=form,
                action=apply.__name__,
                title=description,
                explanation=explanation,
                submit_label=submit_label,
            )

        action.__name__ = apply.__name__
        action.__doc__ = apply.__doc__
        return admin.action(description=description, permissions=list(permissions))(action)

    return decorate


def render_action_form(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: models.QuerySet,
    *,
    form: forms.Form,
    action: str,
    title: str,
    explanation: str = "",
    submit_label: str = "Confirm",
) -> HttpResponse:
    opts = modeladmin.model._meta
    selected = list(queryset[: LISTED_OBJECTS + 1])
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": opts,
        "form": form,
        "explanation": explanation,
        "submit_label": submit_label,
        "action": action,
        "objects": selected[:LISTED_OBJECTS],
        "more_count": max(queryset.count() - LISTED_OBJECTS, 0) if len(selected) > LISTED_OBJECTS else 0,
        "selected_pks": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        "select_across": "1" if request.POST.get("select_across") in ("1", "True", "true") else "0",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "apply_field": APPLY_FIELD,
        "cancel_url": request.get_full_path(),
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/action_form.html", context)


# --------------------------------------------------------------------------------------------
# Refusing to delete history
# --------------------------------------------------------------------------------------------


class DeletionRefusalMixin:
    """Objects with history are archived, never hard-deleted. ``deletion_refusal(obj)`` returns
    the explanation shown when someone tries (or None when the object may go). It guards the
    delete page, the bulk "delete selected" action and, as a last line, ``delete_model`` /
    ``delete_queryset`` so no path ends in a ProtectedError 500 or silent loss of history."""

    def deletion_refusal(self, obj: models.Model) -> str | None:
        return None

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and (reason := self.deletion_refusal(obj)):
            self.message_user(request, reason, messages.ERROR)
            opts = self.model._meta
            url_name = "change" if self.has_view_or_change_permission(request, obj) else "changelist"
            args = [obj.pk] if url_name == "change" else []
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{url_name}", args=args)
            )
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _func, name, description = actions["delete_selected"]
            actions["delete_selected"] = (_delete_selected_unless_refused, name, description)
        return actions

    def delete_model(self, request, obj):
        if reason := self.deletion_refusal(obj):
            raise DomainError("history_protected", reason, status=409)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            if reason := self.deletion_refusal(obj):
                raise DomainError("history_protected", reason, status=409)
        super().delete_queryset(request, queryset)


def _delete_selected_unless_refused(modeladmin, request, queryset):
    """Django's "delete selected", refused as a whole (nothing deleted) when any selected object
    carries history; each refused object is named with its explanation."""
    refusals = [reason for obj in queryset if (reason := modeladmin.deletion_refusal(obj))]
    if refusals:
        modeladmin.message_user(
            request,
            f"Nothing was deleted: {len(refusals)} of the selected "
            f"{model_ngettext(modeladmin.opts, len(refusals))} carry history.",
            messages.ERROR,
        )
        for reason in refusals[:10]:
            modeladmin.message_user(request, reason, messages.ERROR)
        if len(refusals) > 10:
            modeladmin.message_user(request, f"… and {len(refusals) - 10} more.", messages.ERROR)
        return None
    return delete_selected(modeladmin, request, queryset)


_delete_selected_unless_refused.allowed_permissions = ("delete",)


class ReadOnlyAdminMixin:
    """Records written only by the domain code (history, proof): viewable, never edited here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    template = "admin/edit_inline/tabular_records.html"
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


def admin_link(obj: models.Model | None, text: str | None = None) -> str:
    """A link to ``obj``'s admin change page ("—" for none)."""
    if obj is None:
        return "—"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else str(obj))


def changelist_url(model: type[models.Model], **filters: Any) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    if filters:
        url += "?" + "&".join(f"{key}={value}" for key, value in filters.items())
    return url


class AssigneeChoicesMixin:
    """Assignee drop-downs offer active portal members only, like the API's assignee field; an
    object's own former member stays selectable on that object (see ``keep_current_assignee``)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            kwargs = {**assignee_field_options(), **kwargs}
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ArchivedFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", "Not archived"), ("yes", "Archived")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------


class TaskAttentionFilter(admin.SimpleListFilter):
    """What Operations Home would flag, for "today" in the operators' calendar."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "Overdue"),
            ("follow_up_due", "Follow-up due"),
            ("missing_evidence", "Missing evidence"),
            ("blocked", "Blocked"),
        ]

    def queryset(self, request, queryset):
        today = portal_today()
        if self.value() == "overdue":
            return queryset.overdue(today)
        if self.value() == "follow_up_due":
            return queryset.follow_ups_due(today)
        if self.value() == "missing_evidence":
            return queryset.missing_evidence(today)
        if self.value() == "blocked":
            return queryset.filter(status__in=OPEN_STATUSES, is_blocked=True)
        return queryset


class PrerequisiteInline(ReadOnlyInline):
    model = TaskDependency
    fk_name = "task"
    verbose_name = "prerequisite"
    verbose_name_plural = "prerequisites (must be done or skipped first)"
    fields = ("prerequisite", "prerequisite_status", "prerequisite_due_date")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("depends_on")

    @admin.display(description="task")
    def prerequisite(self, obj: TaskDependency) -> str:
        return admin_link(obj.depends_on)

    @admin.display(description="status")
    def prerequisite_status(self, obj: TaskDependency) -> str:
        return obj.depends_on.get_status_display()

    @admin.display(description="due date")
    def prerequisite_due_date(self, obj: TaskDependency):
        return obj.depends_on.due_date


class HistoryInline(ReadOnlyInline):
    model = TaskComment
    verbose_name = "history entry"
    verbose_name_plural = "history"
    fields = ("created_at", "kind", "author", "status_change", "body", "edited_values")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    @admin.display(description="status")
    def status_change(self, obj: TaskComment) -> str:
        if not obj.to_status:
            return ""
        return f"{obj.from_status or '—'} → {obj.to_status}"

    @admin.display(description="changes")
    def edited_values(self, obj: TaskComment) -> str:
        return edited_values(obj)


def edited_values(entry: TaskComment) -> str:
    """An edit entry's fields with their old and new values ("due date: 2028-02-02 → 2028-02-10"),
    one a line; the entry's text names the fields only."""
    changes = (entry.data or {}).get("changes") if isinstance(entry.data, dict) else None
    if not isinstance(changes, dict):
        return ""

    def shown(value: Any) -> str:
        return "—" if value in (None, "") else str(value)

    rows = [
        (name.replace("_", " "), shown(pair[0]), shown(pair[1]))
        for name, pair in changes.items()
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]
    return format_html_join("", "<div>{}: {} → {}</div>", rows)


class ProofInline(ReadOnlyInline):
    model = Proof
    verbose_name_plural = "proof"
    fields = ("created_at", "kind", "label", "evidence", "content_type", "file_size", "sha256", "created_by")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    @admin.display(description="evidence")
    def evidence(self, obj: Proof) -> str:
        return proof_evidence(obj)


def proof_evidence(proof: Proof) -> str:
    if proof.kind == ProofKind.LINK:
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', proof.url, proof.url)
    if proof.kind == ProofKind.FILE:
        return format_html('<a href="{}">Download {}</a>', proof.download_url, proof.file_name)
    return proof.note


@admin.register(Task)
class TaskAdmin(AssigneeChoicesMixin, DomainErrorMessagesMixin, DeletionRefusalMixin, admin.ModelAdmin):
    """Tasks: fields edited in the form (through ``Task.edit``, as the API edits them), status
    changed only by the transition actions."""

    form = TaskForm
    # A URL typed without a scheme ("example.com/guide") is taken as https, as Django 6 will.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    list_display = (
        "title",
        "status",
        "priority",
        "due_date",
        "assignee",
        "source_display",
        "stage",
        "flags",
    )
    list_select_related = ("assignee", "run", "recurring_config")
    list_filter = (
        "status",
        "source",
        "priority",
        TaskAttentionFilter,
        ("assignee", admin.RelatedOnlyFieldListFilter),
        ("due_date", admin.DateFieldListFilter),
        ("run__template", admin.RelatedOnlyFieldListFilter),
        ("recurring_config", admin.RelatedOnlyFieldListFilter),
        ("area", admin.AllValuesFieldListFilter),
        ArchivedFilter,
    )
    search_fields = (
        "title",
        "instructions",
        "area",
        "waiting_for",
        "template_task_ref",
        "run__title",
        "recurring_config__title",
        "assignee__username",
    )
    date_hierarchy = "due_date"
    ordering = ("due_date", "due_time", "title")
    list_per_page = 100
    inlines = (PrerequisiteInline, ProofInline, HistoryInline)
    readonly_fields = (
        "status",
        "waiting_for",
        "follow_up_at",
        "blocked_by",
        "requirements_checklist",
        "started_at",
        "completed_at",
        "completed_by",
        "archived_at",
        "source",
        "provenance",
        "stage",
        "created_by",
        "created_at",
        "updated_at",
    )
    actions = (
        "start_tasks",
        "complete_tasks",
        "wait_tasks",
        "follow_up_sent",
        "response_received",
        "skip_tasks",
        "reopen_tasks",
        "comment_tasks",
        "add_task_proof",
        "archive_tasks",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).with_flags()

    def get_fieldsets(self, request, obj=None):
        work = (
            None,
            {
                "fields": (
                    "title",
                    "instructions",
                    "instructions_url",
                    ("priority", "due_date", "due_time"),
                    ("assignee", "area", "estimate_minutes"),
                )
            },
        )
        requirements = list(REQUIREMENT_FIELDS)
        if obj is None:
            return (work, ("Proof requirements", {"fields": requirements}))
        proof = {"fields": [*requirements, "requirements_checklist"]}
        if obj.status in RESOLVED_STATUSES:
            proof["description"] = (
                f"Fixed while the task is {obj.get_status_display().lower()}: reopen it to change them."
            )
        return (
            work,
            ("Proof requirements", proof),
            (
                "Status (changed with the actions of the task list)",
                {
                    "fields": (
                        "status",
                        ("waiting_for", "follow_up_at"),
                        "blocked_by",
                        ("started_at", "completed_at", "completed_by"),
                        "archived_at",
                    )
                },
            ),
            ("Provenance", {"fields": ("source", "provenance", "stage", "created_by", ("created_at", "updated_at"))}),
        )

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status in RESOLVED_STATUSES:
            return (*readonly, *REQUIREMENT_FIELDS)
        return readonly

    def save_model(self, request, obj: Task, form, change: bool) -> None:
        if change:
            changes = form.changes()
            if changes:
                # Checked again on the locked row: the task may have been completed (or the new
                # assignee deactivated) since the form was validated. Only the edited fields are
                # written, so a transition made meanwhile survives.
                obj.edit(changes, by=request.user)
            obj.refresh_from_db()
            return
        values = {name: form.cleaned_data[name] for name in TASK_CREATE_FIELDS if name in form.cleaned_data}
        Task().check_edit(values)
        task = create_manual_task(by=request.user, **values)
        for field in Task._meta.concrete_fields:
            setattr(obj, field.attname, getattr(task, field.attname))
        obj._state.adding = False

    def deletion_refusal(self, obj: Task) -> str | None:
        history, proofs = obj.history.count(), obj.proofs.count()
        if not (history or proofs):
            return None
        return (
            f"Task '{obj}' has {history} history entr{'y' if history == 1 else 'ies'} and {proofs} proof "
            f"item{'' if proofs == 1 else 's'}; deleting it would lose them. Archive it instead (action “Archive”)."
        )

    # ---- columns and read-only fields ----------------------------------------------------
    @admin.display(description="source", ordering="source")
    def source_display(self, obj: Task) -> str:
        return obj.source_label

    @admin.display(description="flags")
    def flags(self, obj: Task) -> str:
        """What needs attention, from the list's SQL annotations (no query per row)."""
        today = portal_today()
        flags = []
        if obj.is_overdue(today):
            flags.append("overdue")
        if obj.is_blocked and obj.status in OPEN_STATUSES:
            flags.append("blocked")
        if obj.is_missing_evidence(today):
            flags.append("missing evidence")
        if obj.status == TaskStatus.WAITING:
            flags.append(f"waiting for {obj.waiting_for} (follow up {obj.follow_up_at:%Y-%m-%d})")
        if obj.archived_at:
            flags.append("archived")
        return " · ".join(flags)

    @admin.display(description="blocked by")
    def blocked_by(self, obj: Task) -> str:
        blockers = obj.open_prerequisites()
        if not blockers:
            return "—"
        return format_html_join(", ", "{} ({})", ((admin_link(t), t.get_status_display()) for t in blockers))

    @admin.display(description="requirements")
    def requirements_checklist(self, obj: Task) -> str:
        items = obj.requirements()
        if not items:
            return "No proof or run-link requirement."
        return format_html_join(
            "", "<div>{} {}</div>", (("✔ met:" if item["met"] else "✘ missing:", item["name"]) for item in items)
        )

    @admin.display(description="provenance")
    def provenance(self, obj: Task) -> str:
        if obj.recurring_config_id:
            return format_html("{} · window {}", admin_link(obj.recurring_config), obj.window_date)
        if obj.run_id:
            return format_html("{} · template task “{}”", admin_link(obj.run), obj.template_task_ref)
        return "Created by hand"

    # ---- transitions ----------------------------------------------------------------------
    @admin.action(description="Start selected tasks", permissions=["change"])
    def start_tasks(self, request, queryset):
        apply_to_each(self, request, queryset, lambda task: task.start(by=request.user), done="Started")

    @admin.action(description="Complete selected tasks", permissions=["change"])
    def complete_tasks(self, request, queryset):
        apply_to_each(self, request, queryset, lambda task: task.complete(by=request.user), done="Completed")

    @form_action(
        form_class=WaitForm,
        description="Mark selected tasks as waiting…",
        explanation="A waiting task needs who or what it waits on, a follow-up date and a note.",
        submit_label="Mark as waiting",
    )
    def wait_tasks(self, request, queryset, data):
        apply_to_each(
            self,
            request,
            queryset,
            lambda task: task.mark_waiting(
                by=request.user, waiting_for=data["waiting_for"], follow_up_at=data["follow_up_at"], note=data["note"]
            ),
            done="Marked as waiting:",
        )

    @form_action(
        form_class=FollowUpForm,
        description="Record a follow-up sent…",
        explanation="The follow-up is kept in each task's history; the tasks stay waiting until the next date.",
        submit_label="Record follow-up",
    )
    def follow_up_sent(self, request, queryset, data):
        apply_to_each(
            self,
            request,
            queryset,
            lambda task: task.follow_up_sent(
                by=request.user, note=data["note"], next_follow_up_at=data["next_follow_up_at"]
            ),
            done="Recorded a follow-up on",
        )

    @form_action(
        form_class=NoteForm,
        description="Record a response received…",
        explanation="The waiting tasks return to “To do”; the note is kept in their history.",
        submit_label="Record response",
    )
    def response_received(self, request, queryset, data):
        apply_to_each(
            self,
            request,
            queryset,
            lambda task: task.response_received(by=request.user, note=data["note"]),
            done="Recorded a response on",
        )

    @form_action(
        form_class=SkipForm,
        description="Skip selected tasks…",
        explanation="Skipping needs a reason. With cascade, every open task depending on these is skipped too.",
        submit_label="Skip",
    )
    def skip_tasks(self, request, queryset, data):
        cascaded: list[Task] = []
        apply_to_each(
            self,
            request,
            queryset,
            lambda task: cascaded.extend(task.skip(by=request.user, reason=data["reason"], cascade=data["cascade"])),
            done="Skipped",
        )
        if cascaded:
            self.message_user(
                request,
                f"Also skipped {len(cascaded)} dependent task(s): " + ", ".join(f"'{t}'" for t in cascaded) + ".",
                messages.SUCCESS,
            )

    @form_action(
        form_class=ReasonForm,
        description="Reopen selected tasks…",
        explanation="Done or skipped tasks return to “To do”; the reason is kept in their history.",
        submit_label="Reopen",
    )
    def reopen_tasks(self, request, queryset, data):
        apply_to_each(
            self,
            request,
            queryset,
            lambda task: task.reopen(by=request.user, reason=data["reason"]),
            done="Reopened",
        )

    @form_action(form_class=CommentForm, description="Comment on selected tasks…", submit_label="Add comment")
    def comment_tasks(self, request, queryset, data):
        apply_to_each(
            self,
            request,
            queryset,
            lambda task: task.add_comment(by=request.user, body=data["body"]),
            done="Commented on",
        )

    @form_action(
        form_class=ProofForm,
        description="Add proof to the selected task…",
        explanation="A link needs a URL, a note needs text, a file must be within the size limit and of an "
        "accepted type.",
        submit_label="Add proof",
        single=True,
    )
    def add_task_proof(self, request, queryset, data):
        apply_to_each(
            self,
            request,
            queryset,
            lambda task: add_proof(
                task,
                by=request.user,
                kind=data["kind"],
                label=data["label"],
                url=data["url"],
                note=data["note"],
                file=data["file"],
            ),
            done="Added proof to",
        )

    @admin.action(description="Archive selected tasks (history kept)", permissions=["change"])
    def archive_tasks(self, request, queryset):
        apply_to_each(self, request, queryset, lambda task: task.archive(by=request.user), done="Archived")


@admin.register(TaskComment)
class TaskCommentAdmin(ReadOnlyAdminMixin, DeletionRefusalMixin, admin.ModelAdmin):
    """The tasks' history: comments, status changes, follow-ups, proof. Append-only."""

    list_display = ("created_at", "task", "kind", "author", "status_change", "short_body")
    list_select_related = ("task", "author")
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter), ("author", admin.RelatedOnlyFieldListFilter))
    search_fields = ("body", "task__title", "author__username")
    date_hierarchy = "created_at"
    fields = ("task_link", "kind", "author", "from_status", "to_status", "body", "data", "created_at")
    readonly_fields = fields

    def deletion_refusal(self, obj: TaskComment) -> str:
        return "History entries are never deleted: they are the task's audit trail."

    @admin.display(description="task")
    def task_link(self, obj: TaskComment) -> str:
        return admin_link(obj.task)

    @admin.display(description="status")
    def status_change(self, obj: TaskComment) -> str:
        return f"{obj.from_status or '—'} → {obj.to_status}" if obj.to_status else ""

    @admin.display(description="text")
    def short_body(self, obj: TaskComment) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"


@admin.register(Proof)
class ProofAdmin(ReadOnlyAdminMixin, DeletionRefusalMixin, admin.ModelAdmin):
    """Evidence attached to tasks; metadata only here, files through the login-checked view."""

    list_display = ("created_at", "task", "kind", "label", "evidence", "file_size", "content_type", "created_by")
    list_select_related = ("task", "created_by")
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter), "content_type")
    search_fields = ("label", "url", "note", "file_name", "sha256", "task__title")
    date_hierarchy = "created_at"
    fields = (
        "task_link",
        "kind",
        "label",
        "evidence",
        "note",
        "file_name",
        "file_size",
        "content_type",
        "sha256",
        "created_by",
        "created_at",
    )
    readonly_fields = fields

    def deletion_refusal(self, obj: Proof) -> str:
        return f"Proof on task '{obj.task}' is evidence and is never deleted; archive the task instead."

    @admin.display(description="task")
    def task_link(self, obj: Proof) -> str:
        return admin_link(obj.task)

    @admin.display(description="evidence")
    def evidence(self, obj: Proof) -> str:
        return proof_evidence(obj)


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


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
