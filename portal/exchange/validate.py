"""Checking an export before anyone trusts it.

Every line must parse as one JSON object with exactly the schema's fields, of the right types
(dates ``YYYY-MM-DD``, datetimes ISO 8601 with an offset), ids unique and in order, every
reference resolving to a record of the export; the manifest's counts and hashes must match the
files; no forbidden key or secret-like value may appear; and no ``done`` task may lack a proof it
requires (the rule is ``Task.requirements()``, the one the portal itself applies). Each problem
is reported as ``FILE:LINE FIELD: what is wrong``. See ``docs/export.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.db import models

from . import schema, sensitive
from .schema import ENTITIES, MANIFEST, SCHEMA, Entity, Field


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.field}: {self.message}"


@dataclass
class Report:
    directory: Path
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.problems:
            return f"{len(self.problems):,} problem(s) in {self.directory}; nothing in it can be trusted until fixed."
        parts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in self.counts.items())
        return f"{self.directory} is a valid {SCHEMA} export: {parts}."


_REQUIREMENT_FIELDS = {
    "link": "requires_link",
    "file": "requires_file",
    "note": "requires_proof_note",
    "run_link": "required_run_link_ids",
}


class _Manifest:
    """The parsed manifest and where its keys sit (so a problem can name its line)."""

    def __init__(self, text: str, data: dict):
        self.lines = text.splitlines()
        self.data = data

    def line_of(self, *keys: str) -> int:
        position = 0
        for key in keys:
            needle = f'"{key}":'
            for index in range(position, len(self.lines)):
                if self.lines[index].strip().startswith(needle):
                    position = index
                    break
            else:
                return 1
        return position + 1


class _Validator:
    def __init__(self, directory: Path):
        self.directory = directory
        self.report = Report(directory=directory)
        self.keys: dict[str, set] = defaultdict(set)
        self.run_links: dict[str, tuple[str, str]] = {}
        self.pending_done: dict[str, tuple[int, dict]] = {}
        self.proofs_of_pending: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.model_fields: dict[tuple[str, str], models.Field | None] = {}

    def problem(self, file: str, line: int, field_name: str, message: str) -> None:
        self.report.problems.append(Problem(file, line, field_name, message))

    # ---- manifest --------------------------------------------------------------------------

    def read_manifest(self) -> _Manifest | None:
        path = self.directory / MANIFEST
        if not path.is_file():
            self.problem(MANIFEST, 0, "-", "missing; an export always has a manifest")
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            self.problem(MANIFEST, error.lineno, "-", f"not valid JSON ({error.msg})")
            return None
        if not isinstance(data, dict):
            self.problem(MANIFEST, 1, "-", "must be a JSON object")
            return None
        manifest = _Manifest(text, data)
        if data.get("schema") != SCHEMA:
            self.problem(
                MANIFEST, manifest.line_of("schema"), "schema", f"must be '{SCHEMA}'; got {data.get('schema')!r}"
            )
        created = data.get("created_at")
        if not (isinstance(created, str) and _valid_datetime(created)):
            self.problem(
                MANIFEST,
                manifest.line_of("created_at"),
                "created_at",
                f"must be an ISO 8601 datetime with offset; got {created!r}",
            )
        for section in ("counts", "files"):
            if not isinstance(data.get(section), dict):
                self.problem(MANIFEST, manifest.line_of(section), section, "missing or not an object")
                data[section] = {}
        known = {entity.file_name for entity in ENTITIES}
        for name in sorted(set(data["files"]) - known):
            self.problem(MANIFEST, manifest.line_of("files", name), f"files.{name}", "not a file of this schema")
        for name in sorted(set(data["counts"]) - {e.name for e in ENTITIES}):
            self.problem(MANIFEST, manifest.line_of("counts", name), f"counts.{name}", "not an entity of this schema")
        return manifest

    def check_against_manifest(self, manifest: _Manifest, entity: Entity, lines: int, digest: str) -> None:
        counts, files = manifest.data["counts"], manifest.data["files"]
        if entity.name not in counts:
            self.problem(MANIFEST, manifest.line_of("counts"), f"counts.{entity.name}", "missing")
        elif counts[entity.name] != lines:
            self.problem(
                MANIFEST,
                manifest.line_of("counts", entity.name),
                f"counts.{entity.name}",
                f"says {counts[entity.name]!r} but {entity.file_name} has {lines:,} line(s)",
            )
        recorded = files.get(entity.file_name)
        if not isinstance(recorded, dict) or "sha256" not in recorded:
            self.problem(MANIFEST, manifest.line_of("files"), f"files.{entity.file_name}.sha256", "missing")
        elif recorded["sha256"] != digest:
            self.problem(
                MANIFEST,
                manifest.line_of("files", entity.file_name, "sha256"),
                f"files.{entity.file_name}.sha256",
                f"{entity.file_name} does not match its recorded hash (file {digest}, manifest "
                f"{recorded['sha256']}); it was changed after the export",
            )

    # ---- entity files ----------------------------------------------------------------------

    def check_file(self, entity: Entity, manifest: _Manifest | None) -> None:
        path = self.directory / entity.file_name
        if not path.is_file():
            self.problem(entity.file_name, 0, "-", "missing; every entity has a file, even an empty one")
            return
        digest = hashlib.sha256()
        count = 0
        previous_key = None
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                digest.update(raw)
                count += 1
                record, valid = self.parse_line(entity, number, raw)
                if record is None:
                    continue
                if all(name in record for name in entity.key):
                    key = self.check_key(entity, number, record, previous_key)
                    if key is not None:
                        previous_key = key
                if valid:
                    self.remember(entity, number, record)
        self.report.counts[entity.name] = count
        if manifest is not None:
            self.check_against_manifest(manifest, entity, count, digest.hexdigest())

    def parse_line(self, entity: Entity, number: int, raw: bytes) -> tuple[dict | None, bool]:
        """The line's object (``None`` when it is not one) and whether every field is valid."""
        name = entity.file_name
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.problem(name, number, "-", "not UTF-8 text")
            return None, False
        if not text.strip():
            self.problem(name, number, "-", "blank line; each line holds one record")
            return None, False
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            self.problem(name, number, "-", f"not valid JSON ({error.msg} at column {error.colno})")
            return None, False
        if not isinstance(record, dict):
            self.problem(name, number, "-", "must be a JSON object")
            return None, False
        expected = {spec.name: spec for spec in entity.fields}
        for key in record:
            if part := sensitive.forbidden_key(key):
                self.problem(name, number, key, f"forbidden key (contains '{part}'); secrets never leave the portal")
            elif key not in expected:
                self.problem(name, number, key, "unexpected field")
        valid = True
        for spec in entity.fields:
            if spec.name not in record:
                self.problem(name, number, spec.name, "required field is missing")
                valid = False
                continue
            message = self.check_value(entity, spec, record[spec.name])
            if message:
                self.problem(name, number, spec.name, message)
                valid = False
            for path, what in sensitive.scan_json(record[spec.name], spec.name):
                self.problem(name, number, path, what)
                valid = False
        return record, valid

    def _model_field(self, entity: Entity, spec: Field):
        cache_key = (entity.name, spec.name)
        if cache_key not in self.model_fields:
            self.model_fields[cache_key] = schema.model_field(entity, spec)
        return self.model_fields[cache_key]

    def check_value(self, entity: Entity, spec: Field, value) -> str | None:
        if value is None:
            return None if spec.null else "must not be null"
        kind = spec.kind
        problem = _type_problem(kind, value)
        if problem:
            return problem
        model_field = self._model_field(entity, spec)
        if model_field is not None:
            if kind == schema.STR:
                if model_field.max_length and len(value) > model_field.max_length:
                    return f"longer than {model_field.max_length} characters"
                if model_field.choices and value not in {c for c, _ in model_field.choices}:
                    allowed = ", ".join(c for c, _ in model_field.choices)
                    return f"'{value}' is not one of {allowed}"
            if (
                kind == schema.INT
                and isinstance(model_field, (models.PositiveIntegerField, models.PositiveBigIntegerField))
                and value < 0
            ):
                return "must not be negative"
        if spec.ref:
            targets = value if kind == schema.UUID_LIST else [value]
            target_entity = schema.BY_NAME[spec.ref]
            for target in targets:
                if (target,) not in self.keys[spec.ref]:
                    return f"references missing {target_entity.ref_label} {target}"
        return None

    def check_key(self, entity: Entity, number: int, record: dict, previous) -> tuple | None:
        key = entity.key_of(record)
        if any(not isinstance(part, (str, int)) for part in key):
            return None
        if key in self.keys[entity.name]:
            label = ", ".join(f"{k}={v}" for k, v in zip(entity.key, key, strict=True))
            self.problem(entity.file_name, number, entity.key[0], f"duplicate {entity.ref_label} ({label})")
            return None
        self.keys[entity.name].add(key)
        try:
            out_of_order = previous is not None and key < previous
        except TypeError:  # a key of the wrong type, reported with its field
            out_of_order = False
        if out_of_order:
            self.problem(
                entity.file_name, number, entity.key[0], "out of order; lines are sorted by " + ", ".join(entity.key)
            )
        return key

    def remember(self, entity: Entity, number: int, record: dict) -> None:
        """Keep what the done-task rule needs once proofs are read."""
        if entity.name == "run_links":
            self.run_links[record["id"]] = (record["name"], record["url"])
        elif entity.name == "tasks" and record["status"] == "done":
            if (
                record["requires_link"]
                or record["requires_file"]
                or record["requires_proof_note"]
                or record["required_run_link_ids"]
            ):
                self.pending_done[record["id"]] = (number, record)
        elif entity.name == "proofs" and record["task_id"] in self.pending_done:
            self.proofs_of_pending[record["task_id"]].append((record["kind"], record["label"]))

    def check_done_tasks(self) -> None:
        from workflows.models import Proof, RunLink, Task

        def cached(model, items: list):
            queryset = model.objects.none()
            queryset._result_cache = items
            queryset._prefetch_done = True
            return queryset

        for task_id, (number, record) in sorted(self.pending_done.items(), key=lambda item: item[1][0]):
            task = Task(
                id=uuid.UUID(task_id),
                run_id=record["run_id"],
                requires_link=record["requires_link"],
                requires_file=record["requires_file"],
                requires_proof_note=record["requires_proof_note"],
            )
            links = [
                RunLink(id=uuid.UUID(pk), name=self.run_links[pk][0], url=self.run_links[pk][1])
                for pk in record["required_run_link_ids"]
            ]
            proofs = [Proof(kind=kind, label=label) for kind, label in self.proofs_of_pending.get(task_id, [])]
            task._prefetched_objects_cache = {
                "proofs": cached(Proof, proofs),
                "required_run_links": cached(RunLink, links),
            }
            for item in task.requirements():
                if not item["met"]:
                    self.problem(
                        "tasks.jsonl",
                        number,
                        _REQUIREMENT_FIELDS[item["kind"]],
                        f"task is done but its required {item['name']} is missing",
                    )

    def run(self) -> Report:
        if not self.directory.is_dir():
            self.problem(str(self.directory), 0, "-", "not a folder")
            return self.report
        manifest = self.read_manifest()
        for entity in ENTITIES:
            self.check_file(entity, manifest)
        self.check_done_tasks()
        known = {entity.file_name for entity in ENTITIES} | {MANIFEST}
        for path in sorted(self.directory.iterdir()):
            if path.name not in known:
                self.problem(path.name, 0, "-", "unexpected file; an export holds only its manifest and entity files")
        return self.report


def _valid_datetime(value: str) -> bool:
    if not schema.DATETIME_RE.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _valid_date(value) -> bool:
    if not (isinstance(value, str) and schema.DATE_RE.match(value)):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _valid_uuid(value) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _type_problem(kind: str, value) -> str | None:
    """What is wrong with a non-null value of ``kind``, or ``None``."""
    if kind == schema.UUID:
        return None if _valid_uuid(value) else f"must be a lowercase UUID; got {value!r}"
    if kind == schema.INT:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"must be an integer; got {value!r}"
    if kind == schema.STR:
        return None if isinstance(value, str) else f"must be a string; got {value!r}"
    if kind == schema.BOOL:
        return None if isinstance(value, bool) else f"must be true or false; got {value!r}"
    if kind == schema.DATE:
        return None if _valid_date(value) else f"must be a date YYYY-MM-DD; got {value!r}"
    if kind == schema.DATETIME:
        if isinstance(value, str) and _valid_datetime(value):
            return None
        return f"must be an ISO 8601 datetime with offset (e.g. 2029-01-09T09:00:00+00:00); got {value!r}"
    if kind == schema.TIME:
        ok = isinstance(value, str) and schema.TIME_RE.match(value)
        return None if ok else f"must be a time HH:MM:SS; got {value!r}"
    if kind == schema.LIST:
        return None if isinstance(value, list) else "must be a list"
    if kind == schema.DICT:
        return None if isinstance(value, dict) else "must be an object"
    if kind == schema.STR_LIST:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of strings"
    if kind == schema.UUID_LIST:
        ok = isinstance(value, list) and all(_valid_uuid(v) for v in value)
        return None if ok else "must be a list of lowercase UUIDs"
    if kind == schema.DATE_LIST:
        if not isinstance(value, list):
            return "must be a list of dates"
        bad = next((v for v in value if not _valid_date(v)), None)
        return None if bad is None else f"must be a list of dates YYYY-MM-DD; got {bad!r}"
    return None


def validate_export(directory: Path | str) -> Report:
    """Check the export in ``directory`` against every rule; see :class:`Report`."""
    return _Validator(Path(directory)).run()
