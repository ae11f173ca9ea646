"""Celery tasks of notifications: thin, safe to run twice."""

from celery import shared_task
from django.utils import timezone

from . import delivery, scanner


@shared_task(
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=5,
)
def send_notification_emails(notification_ids: list[str]) -> int:
    """Send the batch; any failure retries it with back-off (only unsent ones go out again).
    What still fails after the retries is picked up by the scanner task's sweep."""
    return delivery.send_emails(notification_ids, strict=True)


@shared_task(ignore_result=True)
def send_daily_digests() -> int:
    return delivery.send_daily_digests()


@shared_task(ignore_result=True)
def scan_notifications() -> dict[str, int]:
    """The notification scanner at this instant (beat: every 15 minutes), then the sweep of immediate
    e-mails left unsent. Dedup keys and ``emailed_at`` make reruns no-ops."""
    now = timezone.now()
    counts = scanner.scan(now)
    delivery.send_pending_immediate(now)
    return counts
