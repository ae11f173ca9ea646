"""E-mail delivery. In-app is always on; e-mail is per user and type: immediately, or in a daily
digest. Sending happens in Celery workers, enqueued after the creating transaction commits.

Rules:

* E-mail never undoes or fails the work that raised a notification: enqueueing happens after
  commit, and a broker that cannot be reached is logged, not raised.
* A notification counts as e-mailed only once its e-mail was handed to the mail backend
  (``emailed_at``); one failing address does not stop the others.
* Immediate e-mails still unsent (broker down, mail server refused) are swept up by
  ``send_pending_immediate``, which the 15-minute scanner task runs; like every sender here it
  only sends notifications whose ``emailed_at`` is empty, so running it twice sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import ChannelPreference, Notification

log = logging.getLogger("portal.notifications")

# The sweep leaves the newest notifications to their own enqueued task, and gives up on e-mails
# older than a day: an "immediate" e-mail that late is no longer immediate (they stay in-app).
SWEEP_GRACE = dt.timedelta(minutes=5)
SWEEP_WINDOW = dt.timedelta(days=1)


class EmailDeliveryError(Exception):
    """Some e-mails of a batch could not be sent; the others were."""


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
        transaction.on_commit(lambda: _enqueue(ids), robust=True)


def _enqueue(ids: list[str]) -> None:
    """Hand the batch to the workers; a broker outage is logged (the sweep sends them later)."""
    from .tasks import send_notification_emails

    try:
        send_notification_emails.delay(ids)
    except Exception as exc:  # any broker/transport error: the notifications exist in-app already
        log.error(
            "could not enqueue %d immediate e-mail(s): %s",
            len(ids),
            exc,
            extra={"operation": "enqueue_email", "notification_ids": ids, "error": repr(exc)},
        )


def _absolute(link: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + link if link.startswith("/") else link


def send_emails(notification_ids: list[str], *, strict: bool = False) -> int:
    """Send one e-mail per notification not yet e-mailed; safe to run twice. Returns how many
    were sent. A failing e-mail is logged and left unsent (``emailed_at`` empty) while the rest
    go out; with ``strict`` such failures end in ``EmailDeliveryError`` so a caller can retry."""
    sent = failed = 0
    for notification in Notification.objects.filter(pk__in=notification_ids, emailed_at__isnull=True).select_related(
        "recipient"
    ):
        if not notification.recipient.email:
            continue
        body = f"{notification.body}\n\n{_absolute(notification.link)}".strip()
        try:
            send_mail(notification.title, body, settings.DEFAULT_FROM_EMAIL, [notification.recipient.email])
        except Exception as exc:  # SMTP refusals, timeouts, bad addresses: one must not stop the rest
            failed += 1
            log.error(
                "could not e-mail notification %s: %s",
                notification.pk,
                exc,
                extra={
                    "operation": "send_email",
                    "notification_id": str(notification.pk),
                    "user_id": notification.recipient_id,
                    "error": repr(exc),
                },
            )
            continue
        Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
        sent += 1
    if strict and failed:
        raise EmailDeliveryError(f"{failed} e-mail(s) of {sent + failed} could not be sent")
    return sent


def pending_immediate_ids(now: dt.datetime) -> list[str]:
    """Notifications created between a day and a few minutes before ``now`` whose recipient
    wants that type e-mailed immediately and that are not e-mailed yet."""
    candidates = Notification.objects.filter(
        emailed_at__isnull=True,
        created_at__gte=now - SWEEP_WINDOW,
        created_at__lte=now - SWEEP_GRACE,
    ).values_list("pk", "recipient_id", "type")
    rows = list(candidates)
    if not rows:
        return []
    wanted = set(
        ChannelPreference.objects.filter(
            user_id__in={recipient for _, recipient, _ in rows}, email=ChannelPreference.Email.IMMEDIATE
        ).values_list("user_id", "type")
    )
    return [str(pk) for pk, recipient, type_ in rows if (recipient, type_) in wanted]


def send_pending_immediate(now: dt.datetime) -> int:
    """Send the immediate e-mails a broker outage or mail failure left behind (see
    ``pending_immediate_ids``); returns how many were sent."""
    ids = pending_immediate_ids(now)
    return send_emails(ids) if ids else 0


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
