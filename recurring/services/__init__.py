"""The scheduler: which windows of a recurring config or automatic template are due, generating
them exactly once, backfill, failures, and the lifecycle of a config (``docs/schedules.md``).

Every caller — beat, the reconcile task, ``run_schedules``, the API, the admin and the pages —
goes through these functions, so they can never disagree. Each module has one reason to change:

* ``schedules`` — what a schedule is (one interface for configs and automatic templates) and
  which of its windows are due: creation counts as a resume, only fire times after the
  watermark ``max(created_at, resumed_at)`` count, the catch-up policy picks the targets.
* ``cursor`` — the cursor ``next_fire_at`` (never backwards) and the retry back-off.
* ``windows`` — writing windows: tasks in bulk, idempotent by the database's unique
  (config, window); runs of a template's trigger dates, each in its own savepoint.
* ``generation`` — the passes: ``generate_due``, ``run_schedules``, ``reconcile`` (configs in
  batches of a constant number of queries; a failing batch is retried one config at a time).
* ``backfill`` — explicit date ranges, dry runs that write nothing.
* ``failures`` — failed generation runs, one automation-failure notification per (schedule,
  window), resolution by a later success, acknowledgement with a note.
* ``notices`` — the notifications generation raises (``docs/notifications.md``).
* ``results`` — what a pass reports, the generation run it records, its log line.
* ``configs`` — saving, pausing, resuming, archiving and deleting a config.
* ``receivers`` — bookkeeping and celery-beat rows kept in step with every change.
"""

from ..models import schedule_description
from .backfill import BACKFILL_MAX_DAYS, backfill, check_backfill_range
from .configs import (
    CONFIG_FIELDS,
    archive_config,
    delete_config,
    pause_config,
    resolve_assignee,
    resume_config,
    save_config,
)
from .cursor import RETRY_FIRST, RETRY_MAX
from .failures import acknowledge_failure, acknowledge_failures_by_key
from .generation import PASS_BATCH_SIZE, generate_due, generate_each, reconcile, run_schedules
from .notices import backfill_link
from .receivers import (
    after_schedule_saved,
    config_saved,
    remember_schedule_before_save,
    schedule_deleted,
    template_saved,
)
from .results import COUNT_NAMES, LOG_WINDOWS_MAX, GenerationResult, totals
from .schedules import (
    CATCH_UP_ALL_DAYS,
    Schedule,
    ScheduleAdapter,
    due_configs,
    due_templates,
    load_schedule,
    schedule_kind,
    schedule_of,
    scheduled_templates,
)
from .windows import BULK_BATCH_SIZE

__all__ = [
    "BACKFILL_MAX_DAYS",
    "BULK_BATCH_SIZE",
    "CATCH_UP_ALL_DAYS",
    "CONFIG_FIELDS",
    "COUNT_NAMES",
    "LOG_WINDOWS_MAX",
    "PASS_BATCH_SIZE",
    "RETRY_FIRST",
    "RETRY_MAX",
    "GenerationResult",
    "Schedule",
    "ScheduleAdapter",
    "acknowledge_failure",
    "acknowledge_failures_by_key",
    "after_schedule_saved",
    "archive_config",
    "backfill",
    "backfill_link",
    "check_backfill_range",
    "config_saved",
    "delete_config",
    "due_configs",
    "due_templates",
    "generate_due",
    "generate_each",
    "load_schedule",
    "pause_config",
    "reconcile",
    "remember_schedule_before_save",
    "resolve_assignee",
    "resume_config",
    "run_schedules",
    "save_config",
    "schedule_deleted",
    "schedule_description",
    "schedule_kind",
    "schedule_of",
    "scheduled_templates",
    "template_saved",
    "totals",
]
