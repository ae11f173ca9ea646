"""The list filters of recurring configs and generation runs, shared by the API and the pages
(``docs/api.md``).

Values are read by the strict parsers of ``workflows.inputs``; a refused value, or a filter name
the list does not know (a misspelt filter must not silently widen the answer to everything), is a
``validation_error`` naming it, and nothing is listed.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, QuerySet

from workflows.errors import DomainError
from workflows.inputs import control_character_errors, parse_bool, parse_uuid
from workflows.models import WorkflowTemplate

from .models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig

#: Query parameters every list understands besides its own filters (pagination, format).
COMMON_PARAMS = frozenset({"page", "page_size", "format"})

KINDS = ("recurring", "template")


class StrictFilterSet(django_filters.FilterSet):
    """A FilterSet that refuses names it does not know, with ``validation_error``."""

    def __init__(self, data=None, queryset=None, **kwargs: Any) -> None:
        super().__init__(data, queryset, **kwargs)
        if self.is_bound:
            bad = control_character_errors(self.data)
            if bad:
                name, message = next(iter(bad.items()))
                raise DomainError("validation_error", f"{name}: {message}", field=name)
            known = set(self.filters) | COMMON_PARAMS
            unknown = sorted(set(self.data.keys()) - known)
            if unknown:
                raise DomainError(
                    "validation_error",
                    f"Unknown filter {', '.join(unknown)}; known: {', '.join(sorted(known))}.",
                    field=unknown[0],
                )


def _choice(name: str, choices: type, value: str) -> str:
    if value not in choices.values:
        raise DomainError("validation_error", f"{name} must be one of {', '.join(choices.values)}; got '{value}'.")
    return value


class RecurringConfigFilter(StrictFilterSet):
    """``archived=true`` includes archived configs; by default they are left out."""

    archived = django_filters.CharFilter(method="filter_archived", label="Include archived configs")

    class Meta:
        model = RecurringConfig
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        if not parse_bool(self.data.get("archived"), "archived"):
            queryset = queryset.active()
        return queryset

    def filter_archived(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset  # read (with its default) by filter_queryset


class GenerationRunFilter(StrictFilterSet):
    """``config``, ``template`` (ids), ``status``, ``trigger`` and ``kind`` (recurring /
    template)."""

    config = django_filters.CharFilter(method="filter_config", label="Recurring config id")
    template = django_filters.CharFilter(method="filter_template", label="Workflow template id")
    status = django_filters.CharFilter(method="filter_status", label="Status")
    trigger = django_filters.CharFilter(method="filter_trigger", label="Trigger")
    kind = django_filters.CharFilter(method="filter_kind", label="Kind")

    class Meta:
        model = GenerationRun
        fields: list[str] = []

    def filter_config(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(recurring_config_id=parse_uuid(value, "config"))

    def filter_template(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(template_id=parse_uuid(value, "template"))

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(status=_choice("status", GenerationStatus, value))

    def filter_trigger(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(trigger=_choice("trigger", GenerationTrigger, value))

    def filter_kind(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value not in KINDS:
            raise DomainError("validation_error", f"kind must be recurring or template; got '{value}'.")
        field = "recurring_config" if value == "recurring" else "template"
        return queryset.filter(**{f"{field}__isnull": False})


# --------------------------------------------------------------------------------------------
# The Recurring page's schedules (recurring configs and automatic workflow templates): paused or
# active, archived, failing. One FilterSet per model over the same query parameters, so the page
# filters both halves of its list with one filter form.
# --------------------------------------------------------------------------------------------

STATE_CHOICES = [("active", "Active"), ("paused", "Paused")]
ARCHIVED_CHOICES = [("include", "Include archived"), ("only", "Archived only")]


def failing_condition(run_field: str) -> Exists:
    """True for a schedule with a failure that still needs attention (``run_field`` is the
    generation-run column pointing at the schedule's model)."""
    return Exists(GenerationRun.objects.needing_attention().filter(**{run_field: OuterRef("pk")}))


class ScheduleFilterSet(django_filters.FilterSet):
    """``state`` (active / paused), ``archived`` (left out unless ``include`` or ``only``) and
    ``failing`` (a failure that still needs attention). Subclasses name the model's fields."""

    state = django_filters.ChoiceFilter(
        choices=STATE_CHOICES, method="filter_state", empty_label="Active and paused", label="State"
    )
    archived = django_filters.ChoiceFilter(
        choices=ARCHIVED_CHOICES, method="filter_archived", empty_label="Hide archived", label="Archived"
    )
    failing = django_filters.BooleanFilter(
        method="filter_failing",
        label="Failing only",
        widget=forms.CheckboxInput(),
    )

    #: The model's "not paused" flag and the generation-run column that points at it.
    enabled_field = "enabled"
    run_field = "recurring_config"

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if "failing" not in queryset.query.annotations:
            queryset = queryset.annotate(failing=failing_condition(self.run_field))
        if not self.form.cleaned_data.get("archived"):
            queryset = queryset.filter(archived_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(**{self.enabled_field: value == "active"})

    def filter_archived(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(archived_at__isnull=False) if value == "only" else queryset

    def filter_failing(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        return queryset.filter(failing=True) if value else queryset


class RecurringConfigFilterSet(ScheduleFilterSet):
    class Meta:
        model = RecurringConfig
        fields: list[str] = []


class TemplateScheduleFilterSet(ScheduleFilterSet):
    """Automatic templates only: a manual template has no schedule to pause."""

    enabled_field = "trigger_enabled"
    run_field = "template"

    class Meta:
        model = WorkflowTemplate
        fields: list[str] = []
