"""Celery tasks of the scheduler. Thin: they take ids, call ``recurring.services`` and are safe
to run twice (the database's unique windows make a second run report skipped duplicates)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import services
from .models import GenerationTrigger


@shared_task(ignore_result=True)
def generate_schedule(kind: str, id: str) -> dict | None:  # noqa: A002 — the beat entry's kwarg name
    """A celery-beat entry fired: generate what is due for that one schedule now. A schedule
    deleted, paused or archived in the meantime generates nothing."""
    schedule = services.load_schedule(kind, id)
    if schedule is None:
        return None
    result = services.generate_due(schedule, at=timezone.now(), trigger=GenerationTrigger.BEAT)
    return result.as_json()


@shared_task(ignore_result=True)
def reconcile() -> int:
    """Every minute: generate the schedules whose next fire time (or retry time) has passed."""
    return len(services.reconcile(at=timezone.now()))
