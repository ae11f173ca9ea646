"""Keeping schedule bookkeeping in step with every change: the resume watermark, the cursor and
the celery-beat rows (``docs/schedules.md``, ``docs/runtime.md``). Configs are followed on every
save; templates on ``workflows.signals.template_saved``, which the template domain code sends
once per change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from workflows.models import WorkflowTemplate

from .. import beat, cron
from .schedules import Schedule, _next_fire, schedule_of


@dataclass(frozen=True)
class _Fingerprint:
    spec: tuple
    active: bool


#: Noted before the first save of a schedule: there was nothing stored yet.
_NEW = object()


def _fingerprint(schedule: Schedule) -> _Fingerprint:
    return _Fingerprint(spec=schedule_of(schedule).spec, active=schedule.schedule_active)


def remember_schedule_before_save(sender, instance: Schedule, raw: bool = False, **kwargs) -> None:
    """``pre_save``: note the stored schedule, so the step after the save can tell a resume
    apart. Reads only; the bookkeeping happens once, after the save."""
    if raw:
        return
    stored = None if instance._state.adding else sender._default_manager.filter(pk=instance.pk).first()
    instance._schedule_before = _fingerprint(stored) if stored is not None else _NEW


def _remembered(schedule: Schedule) -> tuple[_Fingerprint | None, bool]:
    """(what was stored before the save, whether the save created the schedule)."""
    before = schedule.__dict__.pop("_schedule_before", None)
    if before is _NEW:
        return None, True
    return before, False


def config_saved(sender, instance, created: bool = False, raw: bool = False, **kwargs) -> None:
    """``post_save`` of a recurring config, whatever saved it (the services, the admin, a plain
    model save): apply ``after_schedule_saved``."""
    if raw:
        return
    before, _ = _remembered(instance)
    after_schedule_saved(instance, before=before, created=created)


def template_saved(sender, template: WorkflowTemplate, **kwargs) -> None:
    """``workflows.signals.template_saved``, sent once by the template domain code for each
    change (save, archive, restore, trigger on/off): apply ``after_schedule_saved``."""
    before, created = _remembered(template)
    after_schedule_saved(template, before=before, created=created)


def after_schedule_saved(schedule: Schedule, *, before: _Fingerprint | None, created: bool) -> None:
    """Enabling (or switching a template to automatic) counts as a resume, and so does changing
    the expression or time zone of an active schedule: only later fire times count, so a save
    never reaches back. ``next_fire_at`` follows; a paused or archived schedule has none. The
    celery-beat rows are synced last, once."""
    adapter = schedule_of(schedule)
    now = timezone.now()
    updates: dict[str, Any] = {}
    if schedule.schedule_active:
        resumed = before is not None and (not before.active or before.spec != adapter.spec)
        if resumed:
            updates.update(resumed_at=now, retry_at=None, failure_streak=0)
            schedule.resumed_at = now
        if resumed or created or schedule.next_fire_at is None:
            try:
                sched = adapter.compile()
            except cron.CronError:
                # Stored by a path that skipped validation: let the reconcile task find it now and
                # report it as a failure rather than never looking at it again.
                updates["next_fire_at"] = now
            else:
                updates["next_fire_at"] = _next_fire(schedule, sched, after=schedule.schedule_watermark)
    elif schedule.next_fire_at is not None or schedule.retry_at is not None or schedule.failure_streak:
        updates.update(next_fire_at=None, retry_at=None, failure_streak=0)
    if updates:
        adapter.model.objects.filter(pk=schedule.pk).update(**updates)
        for name, value in updates.items():
            setattr(schedule, name, value)
    beat.sync_beat(schedule)


def schedule_deleted(sender, instance: Schedule, **kwargs) -> None:
    """``post_delete``: a deleted schedule leaves no celery-beat rows behind."""
    beat.remove_beat(schedule_of(instance).kind, instance.pk)
