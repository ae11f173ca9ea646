"""List filters of notifications, shared by the API and the inbox page (django-filter FilterSets,
read as strictly as every other list: see :mod:`workflows.filters`)."""

from __future__ import annotations

from django.db.models import QuerySet

from workflows.filters import StrictBooleanFilterField, StrictChoiceFormField, StrictFilter, StrictFilterSet

from .models import Notification, NotificationType

#: The inbox page's states: what each shows.
STATE_FILTERS = {
    "unread": "Unread",
    "all": "All (not dismissed)",
    "dismissed": "Dismissed",
    "failures": "Open automation failures",
}


def _unread(queryset: QuerySet, name: str, unread: bool) -> QuerySet:
    """Unread = neither read nor dismissed."""
    if unread:
        return queryset.unread()
    return queryset.exclude(pk__in=Notification.objects.unread().values("pk"))


def _dismissed(queryset: QuerySet, name: str, dismissed: bool) -> QuerySet:
    return queryset.filter(dismissed_at__isnull=not dismissed)


def _state(queryset: QuerySet, name: str, state: str) -> QuerySet:
    if state == "unread":
        return queryset.unread()
    if state == "all":
        return queryset.filter(dismissed_at__isnull=True)
    if state == "dismissed":
        return queryset.filter(dismissed_at__isnull=False)
    return queryset.filter(
        type__in=[NotificationType.AUTOMATION_FAILURE, NotificationType.MISSED_WINDOWS],
        acknowledged_at__isnull=True,
        resolved_at__isnull=True,
    )


def _type_filter() -> StrictFilter:
    return StrictFilter(field_name="type", field_class=StrictChoiceFormField, choices=NotificationType.values)


class NotificationFilterSet(StrictFilterSet):
    """``/api/v1/notifications/`` (see ``docs/api.md``): newest first."""

    type = _type_filter()
    unread = StrictFilter(
        method=_unread,
        field_class=StrictBooleanFilterField,
        label="unread",
        help_text="true: neither read nor dismissed.",
    )
    dismissed = StrictFilter(method=_dismissed, field_class=StrictBooleanFilterField, label="dismissed")

    class Meta:
        model = Notification
        fields: list[str] = []
        blank_means_any = ("unread", "dismissed")

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(queryset).order_by("-created_at", "id")


class InboxFilterSet(StrictFilterSet):
    """The inbox page: a ``state`` (unread, all, dismissed, open automation failures) and a type."""

    common_params = frozenset({"page"})

    state = StrictFilter(method=_state, field_class=StrictChoiceFormField, choices=list(STATE_FILTERS))
    type = _type_filter()

    class Meta:
        model = Notification
        fields: list[str] = []
