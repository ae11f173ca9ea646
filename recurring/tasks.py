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
    deleted, paused or archived in the meantime generates nothing, and so does one whose next
    fire time has not come (an entry firing more often than the schedule's windows, or a pass
    that already generated it) or that is backing off after a failure (its retry time has not
    come): no generation run is written for such a tick."""
    schedule = services.load_schedule(kind, id)
    if schedule is None:
        return None
    now = timezone.now()
    if schedule.next_fire_at is None or schedule.next_fire_at > now:
        return None
    if schedule.retry_at is not None and schedule.retry_at > now:
        return None
    result = services.generate_due(schedule, at=now, trigger=GenerationTrigger.BEAT)
    return result.as_json()


@shared_task(ignore_result=True)
def refresh_database_statistics() -> str:
    """Every night: refresh the statistics SQLite's query planner chooses indexes by (``ANALYZE``).
    Without them it falls back on rules of thumb that pick the wrong index for Start today,
    typical durations and Home's groups once there are many tasks. PostgreSQL keeps its own
    statistics (autovacuum), so there this does nothing."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return "skipped: the database keeps its own statistics"
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return "analyzed"


@shared_task(ignore_result=True)
def reconcile() -> int:
    """Every minute: generate the schedules whose next fire time (or retry time) has passed."""
    return len(services.reconcile(at=timezone.now()))
