"""Notifications: one message to one person about something that needs attention.

Reading or dismissing a notification never changes the state it talks about; acknowledging (with
a note) is the explicit act that closes an automation failure.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from workflows.errors import DomainError

from .signals import notification_acknowledged


class NotificationType(models.TextChoices):
    TASK_DUE = "task-due", "Task due"
    TASK_OVERDUE = "task-overdue", "Task overdue"
    FOLLOW_UP_DUE = "follow-up-due", "Follow-up due"
    RECURRING_DUE = "recurring-due", "Recurring task generated"
    WORKFLOW_CREATED = "workflow-created", "Workflow created"
    STAGE_CHANGE = "stage-change", "Stage changed"
    MISSING_EVIDENCE = "missing-evidence", "Missing evidence"
    AUTOMATION_FAILURE = "automation-failure", "Automation failure"
    MISSED_WINDOWS = "missed-windows", "Missed windows"


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(recipient=user)

    def unread(self):
        return self.filter(read_at__isnull=True, dismissed_at__isnull=True)

    def mark_all_read(self) -> int:
        """Mark every unread notification of this queryset read in one statement (callers narrow
        it to one person with ``for_user`` first); answers how many changed."""
        return self.unread().update(read_at=timezone.now())

    def unresolved_failures(self):
        """Automation failures nobody has acknowledged and no later success resolved."""
        return self.filter(
            type=NotificationType.AUTOMATION_FAILURE, acknowledged_at__isnull=True, resolved_at__isnull=True
        )


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    type = models.CharField(max_length=24, choices=NotificationType.choices, db_index=True)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    # Subject
    task = models.ForeignKey("workflows.Task", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey("workflows.Run", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(
        "workflows.WorkflowTemplate", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recurring_config = models.ForeignKey(
        "recurring.RecurringConfig", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    window_date = models.DateField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    dedup_key = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="A later success resolved this failure.")
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedup_key"], name="notification_dedup_per_recipient"),
            models.CheckConstraint(condition=Q(type__in=NotificationType.values), name="notification_type_valid"),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | ~Q(acknowledgement_note=""),
                name="notification_ack_has_note",
            ),
        ]
        indexes = [models.Index(fields=["recipient", "read_at", "dismissed_at"], name="notification_inbox")]

    def __str__(self) -> str:
        return f"{self.type}: {self.title}"

    def mark_read(self) -> None:
        if self.read_at is None:
            self.read_at = timezone.now()
            self.save(update_fields=["read_at"])

    def dismiss(self) -> None:
        """Hide from the inbox. Never changes the task/run/schedule it talks about."""
        now = timezone.now()
        self.dismissed_at = self.dismissed_at or now
        self.read_at = self.read_at or now
        self.save(update_fields=["dismissed_at", "read_at"])

    @transaction.atomic
    def acknowledge(self, *, by, note: str) -> None:
        """Close an automation failure (for every recipient of it) with a note. The failed
        generation runs behind it are closed too (recurring reacts to the signal), so the admin,
        the API and Operations Home agree the failure is handled."""
        note = (note or "").strip()
        if not note:
            raise DomainError("note_required", "Acknowledging needs a note.", missing=["note"])
        from workflows.models import check_text_length

        check_text_length(note, "note")
        if self.type not in (NotificationType.AUTOMATION_FAILURE, NotificationType.MISSED_WINDOWS):
            raise DomainError("invalid_transition", "Only automation failures and missed windows can be acknowledged.")
        if self.acknowledged_at:
            raise DomainError("invalid_transition", "This notification is already acknowledged.")
        now = timezone.now()
        # The failure is one fact told to several people: acknowledging closes it for all of them.
        Notification.objects.filter(type=self.type, dedup_key=self.dedup_key, acknowledged_at__isnull=True).update(
            acknowledged_at=now,
            acknowledged_by=by if getattr(by, "is_authenticated", False) else None,
            acknowledgement_note=note,
            read_at=models.functions.Coalesce("read_at", models.Value(now)),
        )
        self.refresh_from_db()
        notification_acknowledged.send(sender=Notification, notification=self, by=by, note=note)


class ChannelPreference(models.Model):
    """How one person wants one notification type delivered. In-app is always on."""

    class Email(models.TextChoices):
        OFF = "off", "No e-mail"
        IMMEDIATE = "immediate", "E-mail immediately"
        DIGEST = "digest", "Daily digest e-mail"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel_preferences")
    type = models.CharField(max_length=24, choices=NotificationType.choices)
    email = models.CharField(max_length=10, choices=Email.choices, default=Email.OFF)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "type"], name="channel_preference_unique"),
            models.CheckConstraint(condition=Q(email__in=["off", "immediate", "digest"]), name="channel_email_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.type}: {self.email}"
