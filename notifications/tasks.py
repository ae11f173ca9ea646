"""Celery tasks of notifications: thin, safe to run twice."""

from celery import shared_task
from django.utils import timezone

from . import delivery, scanner


@shared_task(ignore_result=True)
def send_notification_emails(notification_ids: list[str]) -> int:
    return delivery.send_emails(notification_ids)


@shared_task(ignore_result=True)
def send_daily_digests() -> int:
    return delivery.send_daily_digests()


@shared_task(ignore_result=True)
def scan_notifications() -> dict[str, int]:
    """The §5 scanner at this instant (beat: every 15 minutes). Dedup keys make reruns no-ops."""
    return scanner.scan(timezone.now())
