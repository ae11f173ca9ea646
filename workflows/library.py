"""What the template library tells about each template: its size, how it is triggered in plain
words, how many runs it launched and how many of its finished runs completed.

Every number is an annotation (subqueries), so listing the library costs the same few queries
whatever the number of templates and runs.
"""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .models import Run, RunStatus, TemplateTask, WorkflowTemplate


def _count(queryset: QuerySet) -> Coalesce:
    counted = queryset.order_by().values("template").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_library_stats(queryset: QuerySet | None = None) -> QuerySet:
    """Annotate ``task_count``, ``runs_launched``, ``runs_completed`` and ``runs_cancelled``."""
    queryset = WorkflowTemplate.objects.all() if queryset is None else queryset
    runs = Run.objects.filter(template=OuterRef("pk"))
    return queryset.annotate(
        task_count=_count(TemplateTask.objects.filter(template=OuterRef("pk"))),
        runs_launched=_count(runs),
        runs_completed=_count(runs.filter(status=RunStatus.COMPLETED)),
        runs_cancelled=_count(runs.filter(status=RunStatus.CANCELLED)),
    )


def success_rate(completed: int, cancelled: int) -> float | None:
    """Completed runs out of finished (completed or cancelled) runs; None before any finished."""
    finished = completed + cancelled
    return completed / finished if finished else None


def success_text(completed: int, cancelled: int) -> str:
    rate = success_rate(completed, cancelled)
    if rate is None:
        return "no finished runs yet"
    return f"{rate:.0%} succeeded ({completed} of {completed + cancelled} finished)"


def trigger_in_words(template: WorkflowTemplate) -> str:
    """ "Launched by hand", or the schedule in plain words with its lead days and time zone:
    "At 09:00, only on Tuesday (Europe/Berlin); each run is anchored 7 days after it starts"."""
    if not template.is_automatic:
        return "Launched by hand"
    from recurring import cron

    try:
        schedule = cron.explain(template.trigger_schedule)
    except cron.CronError:
        schedule = f"Schedule '{template.trigger_schedule}'"
    text = f"{schedule} ({template.trigger_timezone})"
    lead = template.trigger_lead_days
    if lead:
        text += f"; each run is anchored {lead} day{'s' if lead != 1 else ''} after it starts"
    if not template.trigger_enabled:
        text += " — paused"
    return text


def offset_phrase(days: int) -> str:
    """A task's offset from the anchor date: "2 days before anchor", "on the anchor date"."""
    if days == 0:
        return "on the anchor date"
    count = abs(days)
    unit = "day" if count == 1 else "days"
    return f"{count} {unit} {'before' if days < 0 else 'after'} anchor"
