"""What one pass did for one schedule: the result callers get, the generation run it records,
and the structured log line it writes (logger ``portal.scheduler``; ``docs/runtime.md``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.utils import timezone

from ..models import GenerationRun, GenerationStatus
from .schedules import Schedule, _person, _user_id, schedule_of

log = logging.getLogger("portal.scheduler")


#: Longer window lists are summarised (first, last, count) in log lines.
LOG_WINDOWS_MAX = 40


@dataclass
class GenerationResult:
    """What one execution did for one schedule (a config or an automatic template)."""

    kind: str  # "recurring" | "template"
    schedule: Schedule
    generated: int = 0
    skipped: int = 0
    missed: int = 0
    recovered: int = 0
    failed: int = 0
    #: Newly generated windows (templates: trigger/run dates of the new runs); in a dry run, the
    #: windows that would be generated.
    windows: list[dt.date] = field(default_factory=list)
    #: Due or requested windows that already existed (skipped duplicates).
    existing: list[dt.date] = field(default_factory=list)
    missed_windows: list[dt.date] = field(default_factory=list)
    #: Failed windows (empty when the whole schedule failed, e.g. an invalid expression).
    failed_windows: list[dt.date] = field(default_factory=list)
    #: Backfill only: windows in the range left out because their fire time is still ahead.
    future_windows: list[dt.date] = field(default_factory=list)
    task_ids: list[UUID] = field(default_factory=list)
    #: Templates: runs created or topped up.
    run_ids: list[UUID] = field(default_factory=list)
    error: str | None = None
    dry_run: bool = False
    generation_run: GenerationRun | None = None
    #: Plain-words remarks for people (e.g. why some windows of a backfill range were left out).
    notes: list[str] = field(default_factory=list)

    @property
    def schedule_id(self) -> UUID:
        return self.schedule.pk

    @property
    def title(self) -> str:
        return schedule_of(self.schedule).title

    @property
    def is_empty(self) -> bool:
        return not (self.generated or self.skipped or self.missed or self.recovered or self.failed)

    @property
    def changed_anything(self) -> bool:
        """Whether the pass did anything worth a generation run: windows that already existed
        (``skipped``) are reported but, alone, record nothing — so passes that lose a race, or
        re-run an instant already handled, leave no history behind."""
        return bool(self.generated or self.missed or self.recovered or self.failed)

    def as_json(self) -> dict[str, Any]:
        """The per-schedule object of ``run_schedules --json`` / ``backfill --json`` (``docs/api.md``)."""
        return {
            "kind": self.kind,
            "id": str(self.schedule.pk),
            "title": self.title,
            "generated": self.generated,
            "skipped": self.skipped,
            "missed": self.missed,
            "recovered": self.recovered,
            "failed": self.failed,
            "windows": [d.isoformat() for d in self.windows],
            "task_ids": [str(pk) for pk in self.task_ids],
            "run_ids": [str(pk) for pk in self.run_ids],
            "error": self.error,
        }


COUNT_NAMES = ("generated", "skipped", "missed", "recovered", "failed")


def totals(results: Iterable[GenerationResult]) -> dict[str, int]:
    """Summed counts of several results (the ``totals`` object; ``docs/api.md``)."""
    summed = dict.fromkeys(COUNT_NAMES, 0)
    for result in results:
        for name in COUNT_NAMES:
            summed[name] += getattr(result, name)
    return summed


def _iso_dates(days: Iterable[dt.date]) -> list[str]:
    return [d.isoformat() for d in days]


def _new_generation_run(
    schedule: Schedule,
    result: GenerationResult,
    *,
    at: dt.datetime,
    trigger: str,
    by,
    started_at: dt.datetime,
    status: str = GenerationStatus.SUCCESS,
    range_: tuple[dt.date, dt.date] | None = None,
) -> GenerationRun:
    return GenerationRun(
        **schedule_of(schedule).subject,
        trigger=trigger,
        status=status,
        at=at,
        range_start=range_[0] if range_ else None,
        range_end=range_[1] if range_ else None,
        generated=result.generated,
        skipped=result.skipped,
        missed=result.missed,
        recovered=result.recovered,
        failed=result.failed,
        windows=_iso_dates(result.windows),
        skipped_windows=_iso_dates(result.existing),
        missed_windows=_iso_dates(result.missed_windows),
        triggered_by=_person(by),
        started_at=started_at,
        finished_at=timezone.now(),
    )


def _log_result(result: GenerationResult, *, operation: str, trigger: str, by, at: dt.datetime) -> None:
    schedule = result.schedule
    windows = _iso_dates(result.windows)
    fields: dict[str, Any] = {
        "operation": operation,
        "trigger": trigger,
        "user_id": _user_id(by),
        **schedule_of(schedule).log_ids,
        "at": at.isoformat(),
        "windows": windows if len(windows) <= LOG_WINDOWS_MAX else [windows[0], windows[-1]],
        "window_count": len(windows),
        "missed_windows": _iso_dates(result.missed_windows[:LOG_WINDOWS_MAX]),
        "failed_windows": _iso_dates(result.failed_windows),
        "dry_run": result.dry_run,
        "generation_run_id": str(result.generation_run.pk) if result.generation_run else None,
        **{name: getattr(result, name) for name in COUNT_NAMES},
    }
    counts = " ".join(f"{name}={getattr(result, name)}" for name in COUNT_NAMES)
    if result.error:
        fields["error"] = result.error
        log.error("%s %s %s failed: %s (%s)", operation, result.kind, schedule.pk, result.error, counts, extra=fields)
    else:
        log.info("%s %s %s: %s", operation, result.kind, schedule.pk, counts, extra=fields)
