"""List filters of the Recurring page's schedules (recurring configs and automatic workflow
templates): paused or active, archived, failing. One FilterSet per model over the same query
parameters, so the page filters both halves of its list with one filter form."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, QuerySet

from workflows.models import WorkflowTemplate

from .models import GenerationRun, GenerationStatus, RecurringConfig

STATE_CHOICES = [("active", "Active"), ("paused", "Paused")]
ARCHIVED_CHOICES = [("include", "Include archived"), ("only", "Archived only")]


def runs_needing_attention() -> QuerySet:
    """Failures nobody has acknowledged and no later success has resolved."""
    return GenerationRun.objects.filter(
        status=GenerationStatus.FAILED, resolved_at__isnull=True, acknowledged_at__isnull=True
    )


def failing_condition(run_field: str) -> Exists:
    """True for a schedule with a failure that still needs attention (``run_field`` is the
    generation-run column pointing at the schedule's model)."""
    return Exists(runs_needing_attention().filter(**{run_field: OuterRef("pk")}))


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
