"""E-mail delivery. In-app is always on; e-mail is per user and type: immediately, or in a daily
digest. Sending happens in Celery workers, enqueued after the creating transaction commits."""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import ChannelPreference, Notification


def deliver_immediately(notifications: list[Notification]) -> None:
    """Enqueue e-mail for the recipients who asked for immediate e-mail of that type."""
    if not notifications:
        return
    wanted = set(
        ChannelPreference.objects.filter(
            user_id__in={n.recipient_id for n in notifications},
            email=ChannelPreference.Email.IMMEDIATE,
        ).values_list("user_id", "type")
    )
    ids = [str(n.pk) for n in notifications if (n.recipient_id, n.type) in wanted]
    if ids:
        from .tasks import send_notification_emails

        transaction.on_commit(lambda: send_notification_emails.delay(ids))


def _absolute(link: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + link if link.startswith("/") else link


def send_emails(notification_ids: list[str]) -> int:
    """Send one e-mail per notification not yet e-mailed; safe to run twice."""
    sent = 0
    for notification in Notification.objects.filter(pk__in=notification_ids, emailed_at__isnull=True).select_related(
        "recipient"
    ):
        if not notification.recipient.email:
            continue
        body = f"{notification.body}\n\n{_absolute(notification.link)}".strip()
        send_mail(notification.title, body, settings.DEFAULT_FROM_EMAIL, [notification.recipient.email])
        Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
        sent += 1
    return sent


def send_daily_digests() -> int:
    """One digest e-mail per person with the un-e-mailed notifications of their digest types."""
    digest = defaultdict(set)
    for user_id, type_ in ChannelPreference.objects.filter(email=ChannelPreference.Email.DIGEST).values_list(
        "user_id", "type"
    ):
        digest[user_id].add(type_)
    sent = 0
    for user_id, types in digest.items():
        pending = list(
            Notification.objects.filter(
                recipient_id=user_id, type__in=types, emailed_at__isnull=True, dismissed_at__isnull=True
            ).select_related("recipient")
        )
        if not pending or not pending[0].recipient.email:
            continue
        lines = [f"- {n.title} ({_absolute(n.link)})" for n in pending]
        send_mail(
            f"Operations portal: {len(pending)} notification(s)",
            "\n".join(lines),
            settings.DEFAULT_FROM_EMAIL,
            [pending[0].recipient.email],
        )
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=timezone.now())
        sent += 1
    return sent
