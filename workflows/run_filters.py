"""The filters of workflow run lists (the Workflows page; the runs API may share them).

Without a status the list holds the runs people still work on (active and paused) and the runs
that finished recently (completed or cancelled in the last ``RECENT_DAYS`` days); a search or a
status reaches older runs too. "At risk" is the run's own rule (:meth:`workflows.models.Run.risk`,
see ``docs/concepts.md``), read from ``Run.objects.with_risk(today)``, which the filtered
queryset must carry.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import Truncator

from .models import Run, RunStatus, WorkflowTemplate

#: How long a completed or cancelled run stays on the default list.
RECENT_DAYS = 30

AT_RISK_CHOICES = (("yes", "At risk"), ("no", "On track"))
#: Template names in the filter's drop-down are cut to this length, so it fits a phone.
CHOICE_LABEL_LENGTH = 36


class TemplateChoiceField(django_filters.fields.ModelChoiceField):
    def label_from_instance(self, obj: WorkflowTemplate) -> str:
        return Truncator(obj.name).chars(CHOICE_LABEL_LENGTH)


class TemplateChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = TemplateChoiceField


def active_and_recent(queryset: QuerySet, *, days: int = RECENT_DAYS) -> QuerySet:
    """Active and paused runs, and runs that finished (completed or cancelled) in the last
    ``days`` days."""
    since = timezone.now() - dt.timedelta(days=days)
    return queryset.filter(Q(status__in=(RunStatus.ACTIVE, RunStatus.PAUSED)) | Q(updated_at__gte=since))


class RunFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search", max_length=200)
    status = django_filters.ChoiceFilter(choices=RunStatus.choices, empty_label="Active and recent", label="Status")
    template = TemplateChoiceFilter(
        queryset=WorkflowTemplate.objects.order_by("name"), empty_label="All templates", label="Template"
    )
    at_risk = django_filters.ChoiceFilter(
        choices=AT_RISK_CHOICES, method="filter_at_risk", empty_label="Any risk", label="Risk"
    )

    class Meta:
        model = Run
        fields = ("q", "status", "template", "at_risk")

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        words = value.split()
        for word in words:
            queryset = queryset.filter(title__icontains=word)
        return queryset

    def filter_at_risk(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # The one at-risk rule (``RunQuerySet.at_risk``); the list is annotated ``with_risk``.
        return queryset.at_risk() if value == "yes" else queryset.on_track()

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        if not data.get("status") and not (data.get("q") or "").strip():
            queryset = active_and_recent(queryset)
        return super().filter_queryset(queryset)
