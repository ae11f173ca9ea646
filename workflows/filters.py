"""List filters of the work engine, shared by the API and the pages (django-filter FilterSets).

Every list reads its query string the same strict way (:class:`StrictFilterSet`): a name it does
not know (``?statuss=done``) is refused naming it, because a misspelt filter must not silently
widen the answer to everything; a malformed value is refused naming its filter; a filter given
without a value is refused too (leave it out to mean "any"). Refusals are
``django.core.exceptions.ValidationError`` keyed by the filter's name, which the API answers as
``validation_error`` (see ``docs/api.md``) and a page can show next to its form.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from .errors import DomainError
from .inputs import StrictDateFormField, control_character_errors, parse_bool, parse_uuid
from .models import (
    HOME_GROUPS,
    Run,
    RunStatus,
    Task,
    TaskSource,
    TaskStatus,
    TriggerType,
    WorkflowTemplate,
    portal_today,
)

#: Query parameters every list endpoint understands besides its own filters.
COMMON_QUERY_PARAMS = frozenset({"page", "page_size", "format"})


# --------------------------------------------------------------------------------------------
# Strict form fields of filters
# --------------------------------------------------------------------------------------------


class CommaSeparatedChoiceFormField(forms.Field):
    """``?status=todo,waiting``: one or several choices; each one is checked."""

    def __init__(self, *, choices: list[str], **kwargs: Any) -> None:
        self.choices = list(choices)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str] | None:
        if value is None:
            return None
        values = [v.strip() for v in str(value).split(",") if v.strip()]
        unknown = [v for v in values if v not in self.choices]
        if unknown or not values:
            raise ValidationError(
                f"Unknown value(s) {', '.join(repr(v) for v in unknown) or repr(value)}; "
                f"use one or more of {', '.join(self.choices)} separated by commas.",
                code="invalid_choice",
            )
        return values


class StrictChoiceFormField(forms.Field):
    """One of ``choices``, exactly."""

    def __init__(self, *, choices: list[str], **kwargs: Any) -> None:
        self.choices = list(choices)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str | None:
        if value is None:
            return None
        if value not in self.choices:
            raise ValidationError(f"'{value}' is not one of {', '.join(self.choices)}.", code="invalid_choice")
        return value


class _ParsedFormField(forms.Field):
    """A value read by one of the strict parsers of :mod:`workflows.inputs`."""

    parse = staticmethod(lambda value, name: value)

    def to_python(self, value: Any) -> Any:
        if value in (None, ""):
            return None
        try:
            return type(self).parse(value, self.label or "value")
        except DomainError as exc:
            raise ValidationError(exc.detail.removeprefix(f"{self.label}: "), code=exc.code) from None


class StrictBooleanFilterField(_ParsedFormField):
    parse = staticmethod(lambda value, name: parse_bool(value, name))


class StrictUUIDFormField(_ParsedFormField):
    parse = staticmethod(parse_uuid)


class FilterDateFormField(StrictDateFormField):
    """:class:`workflows.inputs.StrictDateFormField`, its message without the repeated name."""

    def to_python(self, value: Any):
        try:
            return super().to_python(value)
        except ValidationError as exc:
            raise ValidationError(
                [message.removeprefix(f"{self.label}: ") for message in exc.messages], code=exc.code
            ) from None


class UsernameFormField(forms.Field):
    """A username: any existing account (former operators still own tasks)."""

    def to_python(self, value: Any):
        if value is None:
            return None
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=value).first()
        if user is None:
            raise ValidationError(f"No user with username '{value}'.", code="does_not_exist")
        return user


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


class StrictFilter(django_filters.Filter):
    """A filter with a strict form field, given per use (``field_class=``)."""

    def __init__(self, *args: Any, field_class: type[forms.Field] | None = None, **kwargs: Any) -> None:
        if field_class is not None:
            self.field_class = field_class
        super().__init__(*args, **kwargs)


class CommaSeparatedChoiceFilter(django_filters.Filter):
    field_class = CommaSeparatedChoiceFormField

    def __init__(self, *, choices: list[str], **kwargs: Any) -> None:
        super().__init__(lookup_expr="in", choices=list(choices), **kwargs)


class StrictFilterSet(django_filters.FilterSet):
    """A FilterSet that refuses what it does not understand (see the module docstring).
    ``common_params`` are the query parameters of the list itself (paging, format)."""

    common_params: frozenset[str] = COMMON_QUERY_PARAMS

    @classmethod
    def known_params(cls) -> set[str]:
        return set(cls.base_filters) | set(cls.common_params)

    def filtered(self) -> QuerySet:
        """The filtered queryset, or a ``ValidationError`` naming the first refused filter."""
        bad = control_character_errors(self.data)
        if bad:
            raise ValidationError({name: [message] for name, message in bad.items()})
        known = self.known_params()
        unknown = sorted(set(self.data.keys()) - known)
        if unknown:
            hint = "Unknown query parameter; known: " + ", ".join(sorted(known)) + "."
            raise ValidationError({name: [hint] for name in unknown})
        blank = [name for name in self.base_filters if name in self.data and self.data.get(name) == ""]
        blank = [name for name in blank if name not in getattr(self.Meta, "blank_means_any", ())]
        if blank:
            raise ValidationError({name: ["Give a value, or leave the filter out."] for name in blank})
        if not self.is_valid():
            raise ValidationError({name: list(errors) for name, errors in self.errors.items()})
        return self.qs


def _not_archived_unless(queryset: QuerySet, name: str, include: bool | None) -> QuerySet:
    return queryset if include else queryset.filter(archived_at__isnull=True)


TASK_SCOPES = ("all", "mine")
#: Operations Home's scope when none is asked for: the operator's own queue.
HOME_DEFAULT_SCOPE = "mine"


class TaskFilterSet(StrictFilterSet):
    """``/api/v1/tasks/`` and the task list page (see ``docs/api.md``): archived tasks are left
    out unless asked for. ``group`` is one of Operations Home's groups on ``date`` (default
    today), with Home's own rule (``Task.objects.in_home_group``); ``follow_up_due`` likewise
    reads the rule for ``date``. Pages are cursors on ``(due_date, id)`` (``workflows.keyset``)."""

    common_params = frozenset({"cursor", "page", "page_size", "format"})

    status = CommaSeparatedChoiceFilter(
        field_name="status", choices=TaskStatus.values, help_text="One or more statuses, comma-separated."
    )
    source = StrictFilter(field_name="source", field_class=StrictChoiceFormField, choices=TaskSource.values)
    due_date = StrictFilter(
        field_name="due_date", field_class=FilterDateFormField, label="due_date", help_text="Due on this day."
    )
    due_before = StrictFilter(
        field_name="due_date",
        lookup_expr="lt",
        field_class=FilterDateFormField,
        label="due_before",
        help_text="Due strictly before this day.",
    )
    assignee = StrictFilter(field_name="assignee", field_class=UsernameFormField, help_text="Username of the assignee.")
    recurring_config = StrictFilter(
        field_name="recurring_config_id", field_class=StrictUUIDFormField, label="recurring_config"
    )
    run = StrictFilter(field_name="run_id", field_class=StrictUUIDFormField, label="run")
    include_archived = StrictFilter(
        method=_not_archived_unless, field_class=StrictBooleanFilterField, label="include_archived"
    )
    unassigned = StrictFilter(
        method="filter_unassigned",
        field_class=StrictBooleanFilterField,
        label="unassigned",
        help_text="true: assigned to nobody; false: assigned to someone.",
    )
    scope = StrictFilter(
        method="filter_scope",
        field_class=StrictChoiceFormField,
        choices=list(TASK_SCOPES),
        help_text="mine = assigned to me or to nobody (as on Operations Home).",
    )
    date = StrictFilter(
        method=lambda queryset, name, value: queryset,
        field_class=FilterDateFormField,
        label="date",
        help_text="The day group and follow_up_due are evaluated for (default: today).",
    )
    follow_up_due = StrictFilter(
        method="filter_follow_up_due",
        field_class=StrictBooleanFilterField,
        label="follow_up_due",
        help_text="true: waiting with its follow-up date on or before date; false: every other task.",
    )
    group = StrictFilter(
        method="filter_group",
        field_class=StrictChoiceFormField,
        choices=list(HOME_GROUPS),
        help_text="One of Operations Home's groups on date: " + ", ".join(HOME_GROUPS) + ".",
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def _day(self):
        return self.form.cleaned_data.get("date") or portal_today()

    def filter_unassigned(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(assignee__isnull=value)

    def filter_scope(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.in_scope(value, getattr(self.request, "user", None))

    def filter_follow_up_due(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        rule = Task.objects.follow_ups_due_q(self._day())
        return queryset.filter(rule) if value else queryset.exclude(rule)

    def filter_group(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.in_home_group(value, self._day())

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.form.cleaned_data.get("include_archived") is None:
            queryset = queryset.filter(archived_at__isnull=True)
        return super().filter_queryset(queryset).order_by("due_date", "id")


class TemplateFilterSet(StrictFilterSet):
    category = django_filters.CharFilter(field_name="category", lookup_expr="iexact")
    trigger_type = StrictFilter(
        field_name="trigger_type", field_class=StrictChoiceFormField, choices=TriggerType.values
    )
    include_archived = StrictFilter(
        method=_not_archived_unless, field_class=StrictBooleanFilterField, label="include_archived"
    )

    class Meta:
        model = WorkflowTemplate
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.form.cleaned_data.get("include_archived") is None:
            queryset = queryset.filter(archived_at__isnull=True)
        return super().filter_queryset(queryset).order_by("name", "id")


class RunFilterSet(StrictFilterSet):
    """``date`` is the day risk is evaluated for; the view reads it (it annotates, not filters)."""

    status = CommaSeparatedChoiceFilter(field_name="status", choices=RunStatus.values)
    template = StrictFilter(field_name="template_id", field_class=StrictUUIDFormField, label="template")
    date = StrictFilter(
        method=lambda queryset, name, value: queryset,
        field_class=FilterDateFormField,
        label="date",
        help_text="Evaluate risk for this day (default: today).",
    )

    class Meta:
        model = Run
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(queryset).order_by("-anchor_date", "title", "id")


__all__ = [
    "COMMON_QUERY_PARAMS",
    "RunFilterSet",
    "StrictFilterSet",
    "TaskFilterSet",
    "TemplateFilterSet",
]
