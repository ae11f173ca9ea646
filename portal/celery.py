"""The Celery application.

Locally the broker is kombu's filesystem transport (folders under ``var/broker``, created here),
with remote control, mingle and gossip off because that transport has no fan-out. A message lost
by it costs nothing: the per-minute reconcile task regenerates whatever is due.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")

if app.conf.broker_url.startswith("filesystem://"):
    from django.conf import settings

    broker_dir = settings.CELERY_BROKER_DIR
    for sub in ("queue", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    app.conf.broker_transport_options = {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
    }
    app.conf.worker_enable_remote_control = False

app.autodiscover_tasks()

# The periodic entries (reconcile every minute, notification scan every 15 minutes, the daily
# digest, and one entry per schedule) live in django-celery-beat's tables, not in beat_schedule:
# ``recurring.beat`` ensures them after every ``migrate`` so the admin can see and adjust them.
