"""The ``portal.export.v1`` format: which records, which fields, in which order.

One declaration serves the exporter (what to read and how to write it), the validator (what a
line must hold) and the loader (how a line becomes a row), so the three cannot drift. Entities
are listed in dependency order: every reference points at an entity listed earlier. See
``docs/export.md``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from functools import cached_property

from django.apps import apps
from django.contrib.auth import get_user_model

SCHEMA = "portal.export.v1"
MANIFEST = "manifest.json"

#: Value kinds a field may have.
UUID, INT, STR, BOOL, DATE, DATETIME, TIME, LIST, DICT, DATE_LIST, UUID_LIST, STR_LIST = (
    "uuid",
    "int",
    "str",
    "bool",
    "date",
    "datetime",
    "time",
    "list",
    "dict",
    "date_list",
    "uuid_list",
    "str_list",
)


@dataclass(frozen=True)
class Field:
    """One key of a line. ``attname`` is the model attribute it comes from (``None`` for the
    values gathered from a related table, such as a user's groups); ``ref`` names the entity a
    reference points at."""

    name: str
    kind: str
    null: bool = False
    ref: str | None = None
    attname: str | None = ""

    @property
    def column(self) -> str | None:
        return self.name if self.attname == "" else self.attname


@dataclass(frozen=True)
class Entity:
    """One JSONL file. ``key`` is the field (or fields) that identify a line; lines are sorted by
    it. ``ref_label`` is how a problem names a referenced record ("recurring config")."""

    name: str
    model_label: str
    fields: tuple[Field, ...]
    ref_label: str
    key: tuple[str, ...] = ("id",)
    # Sort order in the database; a composite key of text is sorted in Python instead (database
    # collations disagree on punctuation).
    sort_in_python: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.name}.jsonl"

    @property
    def model(self):
        if self.model_label == "auth.User":
            return get_user_model()
        return apps.get_model(self.model_label)

    @cached_property
    def columns(self) -> list[str]:
        return [f.column for f in self.fields if f.column]

    def key_of(self, record: dict) -> tuple:
        return tuple(record[name] for name in self.key)


def _f(name: str, kind: str, *, null: bool = False, ref: str | None = None, attname: str | None = "") -> Field:
    return Field(name=name, kind=kind, null=null, ref=ref, attname=attname)


def _user(name: str) -> Field:
    return _f(name, INT, null=True, ref="users")


_SCHEDULE_STATE = (
    _f("resumed_at", DATETIME, null=True),
    _f("next_fire_at", DATETIME, null=True),
    _f("retry_at", DATETIME, null=True),
    _f("failure_streak", INT),
)
_PROOF_REQUIREMENTS = (
    _f("requires_link", STR),
    _f("requires_file", BOOL),
    _f("requires_proof_note", BOOL),
)

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "users",
        "auth.User",
        (
            _f("id", INT),
            _f("username", STR),
            _f("email", STR),
            _f("first_name", STR),
            _f("last_name", STR),
            _f("is_active", BOOL),
            _f("is_staff", BOOL),
            _f("is_superuser", BOOL),
            _f("groups", STR_LIST, attname=None),
            _f("date_joined", DATETIME),
            _f("last_login", DATETIME, null=True),
        ),
        "user",
    ),
    Entity(
        "recurring_configs",
        "recurring.RecurringConfig",
        (
            _f("id", UUID),
            _f("title", STR),
            _f("instructions", STR),
            _f("instructions_url", STR),
            _f("cron_expression", STR),
            _f("timezone", STR),
            _f("starts_on", DATE, null=True),
            _user("assignee_id"),
            _f("area", STR),
            _f("priority", STR),
            _f("estimate_minutes", INT, null=True),
            *_PROOF_REQUIREMENTS,
            _f("enabled", BOOL),
            _f("catch_up", STR),
            _f("archived_at", DATETIME, null=True),
            _f("created_at", DATETIME),
            _f("updated_at", DATETIME),
            *_SCHEDULE_STATE,
        ),
        "recurring config",
    ),
    Entity(
        "templates",
        "workflows.WorkflowTemplate",
        (
            _f("id", UUID),
            _f("name", STR),
            _f("description", STR),
            _f("category", STR),
            _f("stages", LIST),
            _f("run_links", LIST),
            _f("trigger_type", STR),
            _f("trigger_schedule", STR),
            _f("trigger_timezone", STR),
            _f("trigger_lead_days", INT),
            _f("trigger_enabled", BOOL),
            _f("trigger_starts_on", DATE, null=True),
            _f("catch_up", STR),
            _f("archived_at", DATETIME, null=True),
            _f("created_at", DATETIME),
            _f("updated_at", DATETIME),
            *_SCHEDULE_STATE,
        ),
        "template",
    ),
    Entity(
        "template_tasks",
        "workflows.TemplateTask",
        (
            _f("id", UUID),
            _f("template_id", UUID, ref="templates"),
            _f("ref", STR),
            _f("title", STR),
            _f("instructions", STR),
            _f("stage", STR),
            _f("offset_days", INT),
            _f("position", INT),
            _user("assignee_id"),
            _f("priority", STR),
            _f("area", STR),
            _f("depends_on", LIST),
            *_PROOF_REQUIREMENTS,
            _f("requires_run_links", LIST),
            _f("estimate_minutes", INT, null=True),
        ),
        "template task",
    ),
    Entity(
        "runs",
        "workflows.Run",
        (
            _f("id", UUID),
            _f("template_id", UUID, ref="templates"),
            _f("anchor_date", DATE),
            _f("trigger_date", DATE, null=True),
            _f("title", STR),
            _f("status", STR),
            _f("current_stage", STR),
            _f("cancel_reason", STR),
            _user("created_by_id"),
            _f("created_at", DATETIME),
            _f("updated_at", DATETIME),
            _f("completed_at", DATETIME, null=True),
        ),
        "run",
    ),
    Entity(
        "run_links",
        "workflows.RunLink",
        (
            _f("id", UUID),
            _f("run_id", UUID, ref="runs"),
            _f("name", STR),
            _f("url", STR),
            _user("updated_by_id"),
            _f("updated_at", DATETIME, null=True),
        ),
        "run link",
    ),
    Entity(
        "tasks",
        "workflows.Task",
        (
            _f("id", UUID),
            _f("title", STR),
            _f("instructions", STR),
            _f("instructions_url", STR),
            _f("status", STR),
            _f("priority", STR),
            _f("due_date", DATE),
            _f("due_time", TIME, null=True),
            _user("assignee_id"),
            _f("area", STR),
            _f("estimate_minutes", INT, null=True),
            _f("source", STR),
            _f("recurring_config_id", UUID, null=True, ref="recurring_configs"),
            _f("window_date", DATE, null=True),
            _f("run_id", UUID, null=True, ref="runs"),
            _f("template_task_ref", STR),
            _f("stage", STR),
            _f("waiting_for", STR),
            _f("follow_up_at", DATE, null=True),
            *_PROOF_REQUIREMENTS,
            _f("required_run_link_ids", UUID_LIST, ref="run_links", attname=None),
            _f("started_at", DATETIME, null=True),
            _f("completed_at", DATETIME, null=True),
            _user("completed_by_id"),
            _user("created_by_id"),
            _f("created_at", DATETIME),
            _f("updated_at", DATETIME),
            _f("archived_at", DATETIME, null=True),
        ),
        "task",
    ),
    Entity(
        "task_dependencies",
        "workflows.TaskDependency",
        (_f("task_id", UUID, ref="tasks"), _f("depends_on_id", UUID, ref="tasks")),
        "task dependency",
        key=("task_id", "depends_on_id"),
    ),
    Entity(
        "comments",
        "workflows.TaskComment",
        (
            _f("id", UUID),
            _f("task_id", UUID, ref="tasks"),
            _f("kind", STR),
            _user("author_id"),
            _f("body", STR),
            _f("from_status", STR),
            _f("to_status", STR),
            _f("data", DICT),
            _f("created_at", DATETIME),
        ),
        "comment",
    ),
    Entity(
        "proofs",
        "workflows.Proof",
        (
            _f("id", UUID),
            _f("task_id", UUID, ref="tasks"),
            _f("kind", STR),
            _f("label", STR),
            _f("url", STR),
            _f("note", STR),
            # The stored file's name inside the private proof folder: metadata, never content.
            _f("file_path", STR, attname="file"),
            _f("file_name", STR),
            _f("file_size", INT, null=True),
            _f("content_type", STR),
            _f("sha256", STR),
            _user("created_by_id"),
            _f("created_at", DATETIME),
        ),
        "proof",
    ),
    Entity(
        "notifications",
        "notifications.Notification",
        (
            _f("id", UUID),
            _f("recipient_id", INT, ref="users"),
            _f("type", STR),
            _f("title", STR),
            _f("body", STR),
            _f("link", STR),
            _f("task_id", UUID, null=True, ref="tasks"),
            _f("run_id", UUID, null=True, ref="runs"),
            _f("template_id", UUID, null=True, ref="templates"),
            _f("recurring_config_id", UUID, null=True, ref="recurring_configs"),
            _f("window_date", DATE, null=True),
            _f("data", DICT),
            _f("dedup_key", STR),
            _f("created_at", DATETIME),
            _f("read_at", DATETIME, null=True),
            _f("dismissed_at", DATETIME, null=True),
            _f("acknowledged_at", DATETIME, null=True),
            _user("acknowledged_by_id"),
            _f("acknowledgement_note", STR),
            _f("resolved_at", DATETIME, null=True),
            _f("emailed_at", DATETIME, null=True),
        ),
        "notification",
    ),
    Entity(
        "generation_runs",
        "recurring.GenerationRun",
        (
            _f("id", UUID),
            _f("recurring_config_id", UUID, null=True, ref="recurring_configs"),
            _f("template_id", UUID, null=True, ref="templates"),
            _f("trigger", STR),
            _f("status", STR),
            _f("dry_run", BOOL),
            _f("at", DATETIME),
            _f("range_start", DATE, null=True),
            _f("range_end", DATE, null=True),
            _f("generated", INT),
            _f("skipped", INT),
            _f("missed", INT),
            _f("recovered", INT),
            _f("failed", INT),
            _f("windows", DATE_LIST),
            _f("skipped_windows", DATE_LIST),
            _f("missed_windows", DATE_LIST),
            _f("failed_window", DATE, null=True),
            _f("error", STR),
            _f("failure_key", STR),
            _user("triggered_by_id"),
            _f("resolved_at", DATETIME, null=True),
            _f("acknowledged_at", DATETIME, null=True),
            _user("acknowledged_by_id"),
            _f("acknowledgement_note", STR),
            _f("started_at", DATETIME),
            _f("finished_at", DATETIME, null=True),
        ),
        "generation run",
    ),
    Entity(
        "notification_preferences",
        "notifications.ChannelPreference",
        (_f("user_id", INT, ref="users"), _f("type", STR), _f("email", STR)),
        "notification preference",
        key=("user_id", "type"),
        sort_in_python=True,
    ),
)

BY_NAME = {entity.name: entity for entity in ENTITIES}


def model_field(entity: Entity, spec: Field):
    """The model field behind ``spec`` (``None`` for gathered values)."""
    if spec.column is None:
        return None
    for candidate in entity.model._meta.concrete_fields:
        if candidate.attname == spec.column or candidate.name == spec.column:
            return candidate
    raise LookupError(f"{entity.model_label} has no field {spec.column}")


# ---- values ---------------------------------------------------------------------------------

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}:\d{2}|Z)$")
TIME_RE = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")


def normalise_json(value):
    """Nested JSON with every object's keys sorted, so the bytes never depend on the database
    (PostgreSQL's jsonb reorders keys)."""
    if isinstance(value, dict):
        return {str(k): normalise_json(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [normalise_json(v) for v in value]
    return value


def encode(kind: str, value):
    """A database value as the file holds it."""
    if value is None:
        return None
    if kind == UUID:
        return str(value)
    if kind == DATETIME:
        return value.astimezone(dt.UTC).isoformat()
    if kind in (DATE, TIME):
        return value.isoformat()
    if kind in (LIST, DICT, DATE_LIST, STR_LIST, UUID_LIST):
        return normalise_json(value)
    if kind == STR:
        return str(value)
    return value


def decode(kind: str, value):
    """A (validated) file value as the database takes it."""
    if value is None:
        return None
    if kind == UUID:
        return uuid.UUID(value)
    if kind == DATETIME:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == DATE:
        return dt.date.fromisoformat(value)
    if kind == TIME:
        return dt.time.fromisoformat(value)
    return value
