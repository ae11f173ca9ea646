"""What notifications announce; recurring listens (notifications never imports recurring)."""

from django.dispatch import Signal

#: Someone acknowledged an automation failure or missed-windows notice.
#: kwargs: notification, by, note
notification_acknowledged = Signal()
