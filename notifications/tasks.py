from celery import shared_task

from . import delivery


@shared_task(ignore_result=True)
def send_notification_emails(notification_ids: list[str]) -> int:
    return delivery.send_emails(notification_ids)


@shared_task(ignore_result=True)
def send_daily_digests() -> int:
    return delivery.send_daily_digests()
