"""Admin of tasks, their history and their proof."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html, format_html_join

from ..forms import (
    CommentForm,
    FollowUpForm,
    NoteForm,
    ProofForm,
    ReasonForm,
    SkipForm,
    TaskForm,
    WaitForm,
)
from ..models import (
    OPEN_STATUSES,
    REQUIREMENT_FIELDS,
    RESOLVED_STATUSES,
    Proof,
    ProofKind,
    Task,
    TaskComment,
    TaskDependency,
    TaskStatus,
    add_proof,
    portal_today,
)
from ..services import (
    TASK_CREATE_FIELDS,
    create_manual_task,
)
from .conventions import (
    ArchivedFilter,
    AssigneeChoicesMixin,
    DeletionRefusalMixin,
    DomainErrorMessagesMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    admin_link,
    apply_to_each,
    form_action,
)


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
