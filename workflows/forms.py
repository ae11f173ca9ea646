"""Admin forms of the work engine.

They only collect input; every rule is checked by the domain code (``workflows.services``, the
task and run methods) so the admin can never accept what the API refuses. A template form runs the
same validation ``save_template`` runs, so stage, ref, dependency, run-link and cron problems —
a dependency cycle named in full included — show as form errors instead of a failed save.

The rules of editing a task's plain fields (assignee, proof requirements of a resolved task) are
``Task.check_edit``; the form shows their refusals as field errors and saving goes through
``Task.edit``, as the API's task update does.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet

from .errors import DomainError
from .filters import HOME_DEFAULT_SCOPE, TASK_SCOPES
from .inputs import PlainTextFormMixin, StrictDateFormField, parse_bool
from .members import members
from .models import ProofKind, RunLink, Task, TemplateTask, WorkflowTemplate
from .services import TASK_CREATE_FIELDS, TEMPLATE_FIELDS, TEMPLATE_TASK_FIELDS, validate_template_definition

User = get_user_model()


class CommaSeparatedNamesField(forms.CharField):
    """An ordered list of names typed as "draft, review, scheduled". Duplicates and other rules
    are left to the domain validation, which names them."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 60}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if str(v).strip()]
        text = super().to_python(value) or ""
        return [part.strip() for part in text.split(",") if part.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        if self.disabled:
            return False
        return self.to_python(initial or []) != self.to_python(data)


def _domain_error_to_form(form: forms.BaseForm, exc: DomainError) -> None:
    field = exc.extra.get("field")
    form.add_error(field if field in form.fields else None, exc.detail)


# --------------------------------------------------------------------------------------------
# Assignees
# --------------------------------------------------------------------------------------------


def assignable_people() -> QuerySet:
    """Who work may be assigned to in the admin: the API's rule (active Operators, Admins and
    superusers), so both refuse the same people."""
    return User.objects.filter(pk__in=members().values("pk")).order_by("username")


def assignee_field_options() -> dict[str, Any]:
    """``formfield_for_foreignkey`` options of an assignee: portal members only, with a refusal
    that says why instead of Django's generic "not one of the available choices"."""
    return {
        "queryset": assignable_people(),
        "error_messages": {
            "invalid_choice": "Only active members of Operators or Admins can be assigned work; "
            "choose one of the listed people."
        },
    }


def keep_current_assignee(form: forms.ModelForm) -> None:
    """A stored assignee who has since left the portal stays selectable on that object, so saving
    an unrelated change neither fails nor silently unassigns the work; choosing them anew is
    still refused (they are offered nowhere else)."""
    field = form.fields.get("assignee")
    current = getattr(form.instance, "assignee_id", None)
    if field is None or current is None or not hasattr(field, "queryset"):
        return
    field.queryset = User.objects.filter(Q(pk__in=field.queryset.values("pk")) | Q(pk=current)).order_by("username")


# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------


def portal_formfield(db_field: models.Field, **kwargs: Any) -> forms.Field | None:
    """The form field of a model field in the portal's model forms (the admin's included): a
    date is read by the one strict parser (``workflows.inputs``, the portal's calendar), and a URL
    typed without a scheme ("example.com/guide") is taken as https, as Django 6 will."""
    if isinstance(db_field, models.DateField) and not isinstance(db_field, models.DateTimeField):
        kwargs.setdefault("form_class", StrictDateFormField)
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class TaskForm(PlainTextFormMixin, forms.ModelForm):
    """A task's plain fields (never its status). ``clean`` applies ``Task.check_edit``; saving
    goes through ``Task.edit``, which checks once more on the locked row, as a transition may
    happen between the two."""

    class Meta:
        model = Task
        fields = TASK_CREATE_FIELDS
        formfield_callback = portal_formfield

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keep_current_assignee(self)

    def changes(self) -> dict[str, Any]:
        """The edited fields, in the order the API lists them (so both write the same entry)."""
        changed = set(self.changed_data)
        return {
            name: self.cleaned_data[name]
            for name in TASK_CREATE_FIELDS
            if name in changed and name in self.cleaned_data
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            self.instance.check_edit(self.changes())
        except DomainError as exc:
            for name in exc.extra.get("fields") or [exc.extra.get("field")]:
                self.add_error(name if name in self.fields else None, exc.detail)
        return cleaned


class WorkflowTemplateForm(PlainTextFormMixin, forms.ModelForm):
    """The template itself; its task definitions come from :class:`TemplateTaskFormSet`."""

    stages = CommaSeparatedNamesField(help_text="Ordered stage names, separated by commas: draft, review, scheduled.")
    run_links = CommaSeparatedNamesField(
        help_text="Names of the links a run shares, separated by commas: Mailchimp newsletter, LinkedIn."
    )

    class Meta:
        model = WorkflowTemplate
        formfield_callback = portal_formfield
        fields = TEMPLATE_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = copy.copy(self.instance)
        for name in TEMPLATE_FIELDS:
            if name in cleaned:
                setattr(candidate, name, cleaned[name])
        try:
            # Template-level rules only; the task definitions are checked by the inline formset.
            validate_template_definition(candidate, [])
        except DomainError as exc:
            _domain_error_to_form(self, exc)
            return cleaned
        name = (cleaned.get("name") or "").strip()
        if WorkflowTemplate.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            self.add_error("name", f"A template named '{name}' already exists.")
        cleaned.update(
            name=name,
            trigger_schedule=candidate.trigger_schedule,
            trigger_timezone=candidate.trigger_timezone,
        )
        return cleaned


class TemplateTaskForm(PlainTextFormMixin, forms.ModelForm):
    depends_on = CommaSeparatedNamesField(
        label="Depends on", help_text="Refs of prerequisite tasks, separated by commas."
    )
    requires_run_links = CommaSeparatedNamesField(
        label="Requires run links", help_text="Run link names that must be filled before completing."
    )

    class Meta:
        model = TemplateTask
        formfield_callback = portal_formfield
        fields = ("position", *TEMPLATE_TASK_FIELDS)
        widgets = {"instructions": forms.Textarea(attrs={"rows": 3, "cols": 60})}
        help_texts = {"position": "Order within the template; lower comes first."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keep_current_assignee(self)


class TemplateTaskFormSet(BaseInlineFormSet):
    """The template's task definitions, validated together with the template by the domain code
    (unknown dependencies, stages, run links, cycles)."""

    def kept_forms(self) -> list[forms.ModelForm]:
        deleted = set(map(id, self.deleted_forms)) if self.can_delete else set()
        kept = [form for form in self.forms if form.cleaned_data and id(form) not in deleted]
        # Definitions are saved in the order of their position (then as shown), like the API's list.
        return sorted(kept, key=lambda form: (form.cleaned_data.get("position") or 0, self.forms.index(form)))

    def task_specs(self) -> list[dict[str, Any]]:
        return [
            {name: form.cleaned_data.get(name) for name in TEMPLATE_TASK_FIELDS if name in form.cleaned_data}
            for form in self.kept_forms()
        ]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        template = copy.copy(self.instance)
        try:
            validate_template_definition(copy.copy(template), [])
        except DomainError:
            return  # a template-level problem, already reported on the template form
        try:
            validate_template_definition(template, self.task_specs())
        except DomainError as exc:
            raise ValidationError(exc.detail, code=exc.code) from None

    def record_saved(self) -> None:
        """The admin's change message reads what a formset saved; ``save_template`` did the saving."""
        deleted = set(map(id, self.deleted_forms)) if self.can_delete else set()
        self.new_objects = [f.instance for f in self.extra_forms if f.cleaned_data and id(f) not in deleted]
        self.changed_objects = [
            (f.instance, f.changed_data) for f in self.initial_forms if f.has_changed() and id(f) not in deleted
        ]
        self.deleted_objects = [f.instance for f in self.deleted_forms] if self.can_delete else []


class RunLinkForm(PlainTextFormMixin, forms.ModelForm):
    """A run link's URL; filled through ``Run.fill_link`` (http or https, never cleared)."""

    url = forms.CharField(max_length=2000, required=False, label="URL", widget=forms.URLInput(attrs={"size": 60}))

    class Meta:
        model = RunLink
        formfield_callback = portal_formfield
        fields = ("url",)

    def clean_url(self) -> str:
        url = (self.cleaned_data.get("url") or "").strip()
        if "url" in self.changed_data:
            if not url:
                raise ValidationError("A URL is required; a filled run link can be changed but not cleared.")
            URLValidator(schemes=["http", "https"], message=f"'{url}' is not a valid http(s) URL.")(url)
        return url


# --------------------------------------------------------------------------------------------
# Intermediate forms of admin actions
# --------------------------------------------------------------------------------------------


class AnchorDateForm(PlainTextFormMixin, forms.Form):
    anchor_date = StrictDateFormField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Due dates of the run's tasks are this date plus each task's offset days.",
    )


class CloneForm(PlainTextFormMixin, forms.Form):
    name = forms.CharField(max_length=200, help_text="The clone starts as a manual template.")


class ReasonForm(PlainTextFormMixin, forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class SkipForm(ReasonForm):
    cascade = forms.BooleanField(
        required=False, help_text="Also skip every open task that (transitively) depends on these."
    )


class WaitForm(PlainTextFormMixin, forms.Form):
    waiting_for = forms.CharField(max_length=300, help_text="Who or what we are waiting on.")
    follow_up_at = StrictDateFormField(widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class FollowUpForm(PlainTextFormMixin, forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    next_follow_up_at = StrictDateFormField(widget=forms.DateInput(attrs={"type": "date"}))


class NoteForm(PlainTextFormMixin, forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class CommentForm(PlainTextFormMixin, forms.Form):
    body = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 4, "cols": 60}))


class ProofForm(PlainTextFormMixin, forms.Form):
    """One proof item; ``add_proof`` checks it (URL, size limit, content type, sha256)."""

    kind = forms.ChoiceField(choices=ProofKind.choices)
    label = forms.CharField(max_length=200, required=False, help_text="For a link: e.g. “LinkedIn post URL”.")
    url = forms.CharField(max_length=2000, required=False, label="URL")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)
    file = forms.FileField(required=False)


# --------------------------------------------------------------------------------------------
# Operator pages
# --------------------------------------------------------------------------------------------


class StrictBooleanFormField(forms.Field):
    """A checkbox or flag read by :func:`workflows.inputs.parse_bool` (``on``/``off``,
    ``true``/``false``, ``1``/``0``, ``yes``/``no``; absent means no)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> bool:
        try:
            return parse_bool(value, self.label or "value")
        except DomainError as exc:
            raise ValidationError(exc.detail, code=exc.code) from None


def _text(**kwargs: Any) -> forms.CharField:
    return forms.CharField(required=False, **kwargs)


class PageActionForm(PlainTextFormMixin, forms.Form):
    """Input of an action posted from an operator page (the task page, a Home row, the run page).
    The form reads and parses (strict dates, booleans); whether a value is required is the domain
    method's to say, so a missing one is refused with the method's code, naming everything that is
    missing at once, exactly as the API and the admin are refused."""

    def values(self) -> dict[str, Any]:
        """The parsed values, or the first refusal as a :class:`DomainError` naming the field."""
        if not self.is_valid():
            name, errors = next(iter(self.errors.as_data().items()))
            error = errors[0]
            field = name if name in self.fields else None
            raise DomainError(error.code or "validation_error", " ".join(error.messages), field=field)
        return self.cleaned_data


class StartPageForm(PageActionForm):
    pass


class NotePageForm(PageActionForm):
    note = _text()


class WaitPageForm(PageActionForm):
    waiting_for = _text()
    follow_up_at = StrictDateFormField(required=False, label="follow_up_at")
    note = _text()


class FollowUpPageForm(PageActionForm):
    note = _text()
    next_follow_up_at = StrictDateFormField(required=False, label="next_follow_up_at")


class ReasonPageForm(PageActionForm):
    reason = _text()


class SkipPageForm(ReasonPageForm):
    cascade = StrictBooleanFormField(label="cascade")


class CommentPageForm(PageActionForm):
    body = _text()


class ProofPageForm(PageActionForm):
    """The proof's kind and content are checked by ``add_proof`` (URL, size, content type)."""

    kind = _text()
    label = _text()
    url = _text()
    note = _text()
    file = forms.FileField(required=False)


#: The form of each task action on the operator pages.
TASK_PAGE_FORMS: dict[str, type[PageActionForm]] = {
    "start": StartPageForm,
    "complete": NotePageForm,
    "wait": WaitPageForm,
    "follow-up-sent": FollowUpPageForm,
    "response-received": NotePageForm,
    "skip": SkipPageForm,
    "reopen": ReasonPageForm,
    "comment": CommentPageForm,
    "proof": ProofPageForm,
}


class RunPageForm(PageActionForm):
    """A run action from the run page: a link (``name``, ``url``) or a cancel ``reason``."""

    name = _text()
    url = _text()
    reason = _text()


class HomeOriginForm(PlainTextFormMixin, forms.Form):
    """Where an action posted from Operations Home came from: the page's day (its badges are
    relative to it) and scope."""

    home = _text()
    home_date = StrictDateFormField(required=False, label="home_date")
    home_scope = _text(max_length=20)

    def day(self, default: dt.date) -> dt.date:
        """The page's day; ``default`` when absent or malformed (the row still renders)."""
        self.is_valid()
        return self.cleaned_data.get("home_date") or default

    @property
    def from_home(self) -> bool:
        self.is_valid()
        return self.cleaned_data.get("home") == "1"

    @property
    def scope(self) -> str:
        """The page's scope, or Home's default when absent or not a scope."""
        self.is_valid()
        scope = self.cleaned_data.get("home_scope", "")
        return scope if scope in TASK_SCOPES else HOME_DEFAULT_SCOPE

    def page_query(self) -> dict[str, str]:
        """The Home page's own query (``date``, ``scope``) to go back to, as it was given; a value
        the form refuses is left out (Home then shows its default)."""
        self.is_valid()
        query = {}
        if self.cleaned_data.get("home_date"):
            query["date"] = self.cleaned_data["home_date"].isoformat()
        if self.cleaned_data.get("home_scope") in TASK_SCOPES:
            query["scope"] = self.cleaned_data["home_scope"]
        return query


class HomeQueryForm(PlainTextFormMixin, forms.Form):
    """``?date=`` and ``?scope=`` of Operations Home, for the page and for a row's actions (the
    row's badges and the "mine" rule are relative to them). The date is in the portal's calendar
    (``docs/api.md``), like every date the portal reads. Absent, the values are Home's defaults:
    today and ``mine``; malformed, they are refused with a message naming the value (the page
    names it and shows the default instead)."""

    date = StrictDateFormField(required=False, label="date")
    scope = _text()

    def clean_scope(self) -> str:
        # Absent means Home's default; given (even empty), it must be a scope, as on the page.
        scope = self.cleaned_data.get("scope", "") if "scope" in self.data else HOME_DEFAULT_SCOPE
        if scope not in TASK_SCOPES:
            raise ValidationError(f"scope: '{scope}' is not one of {', '.join(TASK_SCOPES)}.", code="invalid_choice")
        return scope

    def values(self, *, today: dt.date) -> tuple[dt.date, str]:
        """The day and scope, or a :class:`DomainError` with every refusal in one message."""
        if not self.is_valid():
            messages = [
                (message if message.startswith(f"{name}:") else f"{name}: {message}").rstrip(".")
                for name, errors in self.errors.items()
                for message in errors
            ]
            raise DomainError("validation_error", "; ".join(messages) + ".")
        return self.cleaned_data.get("date") or today, self.cleaned_data["scope"]
