"""The filters of the template library (the library page; the templates API may share them)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from .models import WorkflowTemplate


def category_choices() -> list[tuple[str, str]]:
    """Every category in use, as written, in alphabetical order (one query)."""
    categories = (
        WorkflowTemplate.objects.exclude(category="").order_by("category").values_list("category", flat=True).distinct()
    )
    return [(category, category) for category in categories]


class TemplateFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search", max_length=200)
    category = django_filters.ChoiceFilter(choices=category_choices, empty_label="All categories", label="Category")

    class Meta:
        model = WorkflowTemplate
        fields = ("q", "category")

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for word in value.split():
            queryset = queryset.filter(Q(name__icontains=word) | Q(description__icontains=word))
        return queryset
