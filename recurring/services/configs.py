"""The lifecycle of a recurring config: validated saves, pause, resume, archive and delete
(``docs/schedules.md``). Work is assigned only to an active portal member
(``docs/concepts.md``)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from workflows.errors import DomainError
from workflows.inputs import check_plain_text, parse_date
from workflows.members import members as portal_member_queryset
from workflows.models import MAX_TEXT_LENGTH, Priority, check_text_length

from .. import cron
from ..models import CatchUp, RecurringConfig
from .schedules import _user_id

log = logging.getLogger("portal.scheduler")


CONFIG_FIELDS = (
    "title",
    "instructions",
    "instructions_url",
    "cron_expression",
    "timezone",
    "starts_on",
    "assignee",
    "area",
    "priority",
    "estimate_minutes",
    "requires_link",
    "requires_file",
    "requires_proof_note",
    "enabled",
    "catch_up",
)


def _clean_config_data(data: dict[str, Any], *, current_assignee_id: int | None = None) -> dict[str, Any]:
    """Validate and normalise the given fields; each refusal names the field and why."""
    unknown = sorted(set(data) - set(CONFIG_FIELDS))
    if unknown:
        raise DomainError(
            "validation_error", f"Unknown recurring config field(s): {', '.join(unknown)}.", field=unknown[0]
        )
    values: dict[str, Any] = {}
    for name, value in data.items():
        check_plain_text(value, name)
        if name in ("title", "instructions", "area", "requires_link", "instructions_url"):
            if value is not None and not isinstance(value, str):
                raise DomainError("validation_error", f"{name} must be text.", field=name)
            value = (value or "").strip()
        if name == "instructions":
            # Copied into every generated task: the tasks' own limit (docs/api.md).
            check_text_length(value, name, limit=MAX_TEXT_LENGTH)
        if name == "title" and not value:
            raise DomainError("validation_error", "A recurring config needs a title.", field="title")
        elif name == "instructions_url" and value:
            try:
                URLValidator(schemes=["http", "https"])(value)
            except ValidationError:
                raise DomainError(
                    "validation_error", f"instructions_url: '{value}' is not a valid http(s) URL.", field=name
                ) from None
        elif name == "cron_expression":
            try:
                value = cron.validate(value or "")
            except cron.CronError as exc:
                raise DomainError(
                    "invalid_schedule", f"cron_expression: '{value}' is refused: {exc}.", field=name
                ) from None
        elif name == "timezone":
            try:
                value = cron.validate_timezone(value or "")
            except cron.CronError as exc:
                raise DomainError("invalid_timezone", f"timezone: {exc}.", field=name) from None
        elif name == "catch_up" and value not in CatchUp.values:
            raise DomainError(
                "validation_error", f"catch_up must be one of {', '.join(CatchUp.values)}; got '{value}'.", field=name
            )
        elif name == "priority" and value not in Priority.values:
            raise DomainError(
                "validation_error", f"priority must be one of {', '.join(Priority.values)}; got '{value}'.", field=name
            )
        elif name == "estimate_minutes" and value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DomainError("validation_error", "estimate_minutes must be a whole number ≥ 0.", field=name)
        elif name in ("enabled", "requires_file", "requires_proof_note") and not isinstance(value, bool):
            raise DomainError("validation_error", f"{name} must be true or false.", field=name)
        elif name == "starts_on" and value is not None:
            value = _as_date(value, name)
        elif name == "assignee":
            value = resolve_assignee(value, current_id=current_assignee_id)
        values[name] = value
    return values


def _as_date(value: Any, name: str):
    """``workflows.inputs.parse_date``'s rules; a config field it refuses is a ``validation_error``
    of that field, like every other refused field of a config."""
    try:
        return parse_date(value, name)
    except DomainError as exc:
        raise DomainError("validation_error", exc.detail, field=name) from None


def resolve_assignee(value: Any, *, current_id: int | None = None):
    """The assignee named by ``value``: a user, their username, their id, or nothing
    (unassigned). Work goes only to an active portal member — Operators, Admins, superusers: the
    rule of ``workflows.members.members``, which the task API and the admin apply too —
    since anyone else could never see it. Keeping the config's current assignee (``current_id``)
    after they left is no change and stays allowed. Refusals: ``unknown_user`` when no active
    user has that name, ``validation_error`` naming a user who is not a portal member."""
    if value in (None, ""):
        return None
    User = get_user_model()
    if isinstance(value, User):
        user = value
    else:
        lookup = {"pk": value} if isinstance(value, int) else {"username": str(value).strip()}
        user = User.objects.filter(**lookup).first()
        if user is None or (not user.is_active and user.pk != current_id):
            raise DomainError("unknown_user", f"assignee: there is no active user '{value}'.", field="assignee")
    if user.pk == current_id:
        return user
    # Asked of the database, not of the object given: they may have left a group since it was read.
    if not portal_member_queryset().filter(pk=user.pk).exists():
        raise DomainError(
            "validation_error",
            f"assignee: only active members of Operators or Admins can be assigned work; "
            f"'{user.get_username()}' is not one, so they would never see it.",
            field="assignee",
        )
    return user


@transaction.atomic
def save_config(*, config: RecurringConfig | None = None, data: dict[str, Any], by=None) -> RecurringConfig:
    """Create or update a config. Saving never generates; it keeps the schedule bookkeeping in
    step (``after_schedule_saved`` via the model's save signal): enabling counts as a resume,
    a changed expression or time zone too, ``next_fire_at`` is recomputed and celery-beat rows
    are created, updated, disabled or removed. Work is assigned only to an active portal member
    (``resolve_assignee``), whichever door the change comes through."""
    creating = config is None
    config = config or RecurringConfig()
    values = _clean_config_data(data, current_assignee_id=config.assignee_id)
    if creating:
        missing = [name for name in ("title", "cron_expression") if not values.get(name)]
        if missing:
            raise DomainError(
                "validation_error", f"A recurring config needs {', '.join(missing)}.", missing=missing, field=missing[0]
            )
    if config.archived_at is not None and values.get("enabled"):
        raise DomainError(
            "recurring_config_archived", "This recurring config is archived; it cannot be enabled.", status=409
        )
    for name, value in values.items():
        setattr(config, name, value)
    config.requires_link = config.requires_link or ""
    config.save()
    log.info(
        "%s recurring config %s",
        "create" if creating else "update",
        config.pk,
        extra={"operation": "save_config", "user_id": _user_id(by), "config_id": str(config.pk)},
    )
    return config


def _lifecycle(config: RecurringConfig, operation: str, by) -> None:
    log.info(
        "%s recurring config %s",
        operation,
        config.pk,
        extra={"operation": operation, "user_id": _user_id(by), "config_id": str(config.pk)},
    )


@transaction.atomic
def pause_config(config: RecurringConfig, *, by=None) -> RecurringConfig:
    """No new work from now on; history (tasks, comments, proof, notifications) stays intact.
    celery-beat rows are disabled. Pausing a paused config changes nothing."""
    if config.enabled:
        config.enabled = False
        config.save()
        _lifecycle(config, "pause_config", by)
    return config


@transaction.atomic
def resume_config(config: RecurringConfig, *, by=None) -> RecurringConfig:
    """Only windows whose fire time is after this moment are generated; paused windows are
    neither generated nor counted as missed (a backfill reaches them)."""
    if config.archived_at is not None:
        raise DomainError(
            "recurring_config_archived", "This recurring config is archived; it cannot be resumed.", status=409
        )
    if not config.enabled:
        config.enabled = True
        config.save()  # the save signal sets resumed_at = now
        _lifecycle(config, "resume_config", by)
    return config


@transaction.atomic
def archive_config(config: RecurringConfig, *, by=None) -> RecurringConfig:
    """Paused and hidden from default lists, history intact; its celery-beat rows are removed."""
    if config.archived_at is None:
        config.enabled = False
        config.archived_at = timezone.now()
        config.save()
        _lifecycle(config, "archive_config", by)
    return config


@transaction.atomic
def delete_config(config: RecurringConfig, *, by=None) -> None:
    """Only a config without history may be deleted; one that generated tasks (or has generation
    runs) is refused with 409 — archive it instead."""
    if config.tasks.exists() or config.generation_runs.exists():
        raise DomainError(
            "recurring_config_has_generated_history",
            f"“{config.title}” has generated tasks or generation history; deleting it would lose that history. "
            "Archive it instead.",
            status=409,
        )
    _lifecycle(config, "delete_config", by)
    config.delete()  # the delete signal removes its celery-beat rows
