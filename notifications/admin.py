"""Admin of notifications and delivery preferences.

Notifications are created only by ``notify`` (the recipient and dedup rules live there), so the
admin never adds or edits one: it shows them, marks them read or dismissed, and acknowledges
automation failures with a note — the one act that closes a failure.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from workflows.admin import admin_link, apply_to_each, form_action
from workflows.inputs import PlainTextFormMixin

from .models import ChannelPreference, Notification, NotificationType


class AcknowledgeForm(PlainTextFormMixin, forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="What was done about it; kept with the notification.",
    )


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("unread", "Unread"),
            ("read", "Read"),
            ("dismissed", "Dismissed"),
            ("unacknowledged_failure", "Failure not acknowledged or resolved"),
            ("acknowledged", "Acknowledged"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "unread":
            return queryset.unread()
        if value == "read":
            return queryset.filter(read_at__isnull=False, dismissed_at__isnull=True)
        if value == "dismissed":
            return queryset.filter(dismissed_at__isnull=False)
        if value == "unacknowledged_failure":
            return queryset.unresolved_failures()
        if value == "acknowledged":
            return queryset.filter(acknowledged_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "type", "title", "recipient", "subject", "is_read", "is_dismissed", "acknowledged")
    list_select_related = ("recipient", "task", "run", "template", "recurring_config")
    list_filter = (
        "type",
        StateFilter,
        ("recipient", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("title", "body", "dedup_key", "recipient__username")
    date_hierarchy = "created_at"
    fields = (
        "type",
        "recipient",
        "title",
        "body",
        "link",
        "subject",
        "window_date",
        "dedup_key",
        "data",
        "created_at",
        ("read_at", "dismissed_at", "emailed_at"),
        ("acknowledged_at", "acknowledged_by"),
        "acknowledgement_note",
        "resolved_at",
    )
    readonly_fields = (
        "type",
        "recipient",
        "title",
        "body",
        "link",
        "subject",
        "window_date",
        "dedup_key",
        "data",
        "created_at",
        "read_at",
        "dismissed_at",
        "emailed_at",
        "acknowledged_at",
        "acknowledged_by",
        "acknowledgement_note",
        "resolved_at",
    )
    actions = ("acknowledge", "mark_read", "dismiss")

    def has_add_permission(self, request):
        return False  # only notify() creates notifications

    def has_change_permission(self, request, obj=None):
        return False  # read-only; state changes are the actions below

    def has_act_permission(self, request) -> bool:
        """May read, dismiss or acknowledge: what changing a notification would have allowed."""
        return request.user.has_perm("notifications.change_notification")

    @admin.display(description="subject")
    def subject(self, obj: Notification) -> str:
        for target in (obj.task, obj.run, obj.template, obj.recurring_config):
            if target is not None:
                return admin_link(target)
        return "—"

    @admin.display(description="read", boolean=True, ordering="read_at")
    def is_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    @admin.display(description="dismissed", boolean=True, ordering="dismissed_at")
    def is_dismissed(self, obj: Notification) -> bool:
        return obj.dismissed_at is not None

    @admin.display(description="acknowledged", boolean=True, ordering="acknowledged_at")
    def acknowledged(self, obj: Notification) -> bool | None:
        if obj.type not in (NotificationType.AUTOMATION_FAILURE, NotificationType.MISSED_WINDOWS):
            return None
        return obj.acknowledged_at is not None

    @form_action(
        form_class=AcknowledgeForm,
        description="Acknowledge (with a note)…",
        explanation="Acknowledging closes an automation failure or missed-windows notice for everyone it was "
        "sent to. Reading or dismissing never does.",
        submit_label="Acknowledge",
        permissions=("act",),
    )
    def acknowledge(self, request, queryset, data):
        apply_to_each(
            self,
            request,
            queryset,
            lambda notification: notification.acknowledge(by=request.user, note=data["note"]),
            done="Acknowledged",
        )

    @admin.action(description="Mark as read", permissions=["act"])
    def mark_read(self, request, queryset):
        apply_to_each(self, request, queryset, lambda notification: notification.mark_read(), done="Marked as read:")

    @admin.action(description="Dismiss (the task or failure it talks about is unchanged)", permissions=["act"])
    def dismiss(self, request, queryset):
        apply_to_each(self, request, queryset, lambda notification: notification.dismiss(), done="Dismissed")


@admin.register(ChannelPreference)
class ChannelPreferenceAdmin(admin.ModelAdmin):
    """How each person wants each notification type delivered (in-app is always on)."""

    list_display = ("user", "type", "email")
    list_select_related = ("user",)
    list_filter = ("type", "email", ("user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "user__email")
    ordering = ("user__username", "type")
