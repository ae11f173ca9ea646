"""Portal forms for launching runs and for cloning and editing workflow templates.

They only collect input. Every rule — names, stages, refs, dependencies and their cycles, run
links, bounds — is checked by ``workflows.services.save_template`` (the same code the admin and
the API use); :func:`apply_domain_error` puts its refusal next to the field it names.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from .errors import DomainError
from .forms import CommaSeparatedNamesField
from .inputs import PlainTextFormMixin, StrictDateFormField
from .members import members
from .models import MAX_TEMPLATE_TASKS, WorkflowTemplate

User = get_user_model()

#: The template's own fields the portal edits; its trigger stays as the admin set it.
EDITABLE_TEMPLATE_FIELDS = ("name", "description", "category", "stages", "run_links")
#: The task definition fields the portal edits; others (priority, area) keep their values.
EDITABLE_TASK_FIELDS = (
    "ref",
    "title",
    "instructions",
    "stage",
    "offset_days",
    "assignee",
    "depends_on",
    "requires_link",
    "requires_file",
    "requires_proof_note",
    "requires_run_links",
    "estimate_minutes",
)


class PortalForm(PlainTextFormMixin, forms.Form):
    """Labels without Django's trailing colon, as on every portal page."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LaunchForm(PortalForm):
    anchor_date = StrictDateFormField(
        label="Anchor date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Each task is due on this date plus its offset.",
    )

    def clean_anchor_date(self):
        day = self.cleaned_data.get("anchor_date")
        if day is None:
            raise forms.ValidationError("Choose the anchor date of the run.", code="required")
        return day


class CloneTemplateForm(PortalForm):
    name = forms.CharField(label="Name of the copy", max_length=200, help_text="The copy starts as a manual template.")


class TemplateEditForm(PortalForm):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    category = forms.CharField(max_length=100, required=False)
    stages = CommaSeparatedNamesField(
        label="Stages", help_text="In order, separated by commas: draft, review, scheduled."
    )
    run_links = CommaSeparatedNamesField(
        label="Run links", help_text="Links a run shares, separated by commas: Mailchimp newsletter, LinkedIn."
    )

    def data_for_save(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in EDITABLE_TEMPLATE_FIELDS}


class TemplateTaskEditForm(PortalForm):
    ref = forms.CharField(
        max_length=100, label="Ref", help_text="A short key: letters, digits, - or _. Other tasks depend on it."
    )
    title = forms.CharField(max_length=300)
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    stage = forms.CharField(max_length=100, required=False, help_text="One of the stages; empty means the first.")
    offset_days = forms.IntegerField(
        label="Offset (days)",
        required=False,
        help_text="Due date = anchor date + offset; −2 is two days before. Empty means 0.",
    )
    assignee = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Assignee")
    depends_on = CommaSeparatedNamesField(label="Depends on", help_text="Refs of prerequisite tasks, e.g. draft.")
    requires_link = forms.CharField(
        max_length=200, required=False, label="Required link proof", help_text="Its label, e.g. LinkedIn post URL."
    )
    requires_file = forms.BooleanField(required=False, label="Requires a file")
    requires_proof_note = forms.BooleanField(required=False, label="Requires a proof note")
    requires_run_links = CommaSeparatedNamesField(
        label="Requires run links", help_text="Run link names that must be filled first."
    )
    estimate_minutes = forms.IntegerField(required=False, label="Estimate (minutes)")

    def __init__(self, *args: Any, assignees: dict[int, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assignees = assignees or {}
        self.fields["assignee"].choices = [("", "Unassigned")] + [
            (pk, user.get_full_name() or user.get_username()) for pk, user in self.assignees.items()
        ]

    def spec(self) -> dict[str, Any]:
        spec = {name: self.cleaned_data.get(name) for name in EDITABLE_TASK_FIELDS}
        spec["assignee"] = self.assignees.get(spec["assignee"]) if spec["assignee"] else None
        for name in ("instructions", "stage", "requires_link"):
            spec[name] = spec[name] or ""
        spec["offset_days"] = spec["offset_days"] or 0
        return spec


class BaseTemplateTaskFormSet(forms.BaseFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this task"

    def kept_forms(self) -> list[TemplateTaskEditForm]:
        """The task definitions to save: every existing one not marked for removal, and every
        added form that was filled in."""
        deleted = set(map(id, self.deleted_forms))
        existing = self.initial_form_count()
        return [
            form
            for index, form in enumerate(self.forms)
            if id(form) not in deleted and (index < existing or form.has_changed())
        ]


TemplateTaskFormSet = forms.formset_factory(
    TemplateTaskEditForm,
    formset=BaseTemplateTaskFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_TEMPLATE_TASKS,
    absolute_max=MAX_TEMPLATE_TASKS + 1,
    validate_max=True,
)


def assignee_choices(template: WorkflowTemplate | None = None) -> dict[int, Any]:
    """Portal members, plus anyone the template already assigns (so saving an unrelated change
    keeps them), by id — loaded once for every task form."""
    condition = Q(pk__in=members().values("pk"))
    if template is not None and template.pk:
        condition |= Q(pk__in=template.tasks.exclude(assignee=None).values("assignee"))
    return {user.pk: user for user in User.objects.filter(condition).order_by("username")}


def task_initial(template: WorkflowTemplate) -> list[dict[str, Any]]:
    return [
        {**{name: getattr(task, name) for name in EDITABLE_TASK_FIELDS}, "assignee": task.assignee_id}
        for task in template.tasks.all()
    ]


def apply_domain_error(
    exc: DomainError, template_form: TemplateEditForm, task_forms: list[TemplateTaskEditForm]
) -> None:
    """Show a refusal of ``save_template`` next to the field it is about: a template field on the
    template form; a task problem on that task's field (by ref, or by position when the ref
    itself is malformed); a dependency cycle on the "Depends on" field of every task in it."""
    field = exc.extra.get("field")
    if field in template_form.fields:
        template_form.add_error(field, exc.detail)
        return
    refs = set(exc.extra.get("cycle") or exc.extra.get("refs") or ([exc.extra["ref"]] if "ref" in exc.extra else []))
    targets = [form for form in task_forms if form.cleaned_data.get("ref", "").strip() in refs]
    position = exc.extra.get("position")
    if not targets and position is not None and 0 <= position < len(task_forms):
        targets = [task_forms[position]]
    if not targets:
        template_form.add_error(None, exc.detail)
        return
    task_field = exc.extra.get("task_field")
    for form in targets:
        form.add_error(task_field if task_field in form.fields else None, exc.detail)
