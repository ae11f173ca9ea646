"""Loading a validated export into a new, empty portal.

The export is validated first; a database that already holds portal data is refused; then every
record is loaded in one transaction, in dependency order, with its original id and timestamps
(``bulk_create``: no save hook rewrites ``updated_at`` or a schedule's bookkeeping). celery-beat
rows of the schedules are made by the same code that keeps them in sync on every save
(``recurring.beat``). Imported people get unusable passwords: they set new ones. A failure at any
row rolls everything back. See ``docs/export.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import DatabaseError, connection, transaction

from . import schema
from .schema import ENTITIES, Entity
from .validate import Problem, validate_export

CHUNK = 1000


class ImportRefused(Exception):
    """Nothing was loaded: the export is invalid, the database is not empty, or a row failed."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass
class ImportResult:
    directory: Path
    counts: dict[str, int] = field(default_factory=dict)
    beat_entries: int = 0
    dry_run: bool = False

    def summary(self) -> list[str]:
        total = sum(self.counts.values())
        parts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in self.counts.items())
        if self.dry_run:
            return [
                f"Dry run: {total:,} records from {self.directory} would be imported ({parts}); nothing was changed."
            ]
        lines = [
            f"Imported {total:,} records from {self.directory}: {parts}.",
            f"celery-beat: {self.beat_entries:,} schedule entr{'y' if self.beat_entries == 1 else 'ies'} re-created "
            "for the schedules.",
        ]
        if self.counts.get("users"):
            lines.append(
                f"The {self.counts['users']:,} imported user(s) have no usable password (passwords never leave a "
                "portal): set one for each with `manage.py changepassword USERNAME` or on the user's admin page."
            )
        return lines


def portal_data_present() -> dict[str, int]:
    """How many records of each entity the database holds (only the non-empty ones)."""
    present = {}
    for entity in ENTITIES:
        count = entity.model._default_manager.count()
        if count:
            present[entity.name] = count
    return present


def _lines(path: Path) -> Iterator[tuple[int, dict]]:
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            yield number, json.loads(raw)


class _Loader:
    def __init__(self, directory: Path):
        self.directory = directory
        self.groups: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def group_id(self, name: str) -> int:
        if name not in self.groups:
            self.groups[name] = Group.objects.get_or_create(name=name)[0].pk
        return self.groups[name]

    def build(self, entity: Entity, record: dict):
        values = {
            spec.column: schema.decode(spec.kind, record[spec.name])
            for spec in entity.fields
            if spec.column is not None
        }
        if entity.name == "users":
            values["password"] = make_password(None)
        return entity.model(**values)

    def related_rows(self, entity: Entity, records: list[dict]) -> list:
        model = entity.model
        if entity.name == "users":
            through = model.groups.through
            return [
                through(user_id=record["id"], group_id=self.group_id(name))
                for record in records
                for name in record["groups"]
            ]
        if entity.name == "tasks":
            through = model.required_run_links.through
            return [
                through(task_id=record["id"], runlink_id=link_id)
                for record in records
                for link_id in record["required_run_link_ids"]
            ]
        return []

    def flush(self, entity: Entity, chunk: list[tuple[int, dict]]) -> None:
        records = [record for _, record in chunk]
        try:
            with transaction.atomic():
                entity.model._default_manager.bulk_create([self.build(entity, record) for record in records])
                related = self.related_rows(entity, records)
                if related:
                    type(related[0])._default_manager.bulk_create(related)
        except DatabaseError as error:
            first, last = chunk[0][0], chunk[-1][0]
            where = f"{entity.file_name} line {first}" if first == last else f"{entity.file_name} lines {first}–{last}"
            raise ImportRefused(f"The import failed at {where}: {error}. Nothing was changed.") from error

    def load(self) -> dict[str, int]:
        for entity in ENTITIES:
            chunk: list[tuple[int, dict]] = []
            count = 0
            for number, record in _lines(self.directory / entity.file_name):
                chunk.append((number, record))
                count += 1
                if len(chunk) >= CHUNK:
                    self.flush(entity, chunk)
                    chunk = []
            if chunk:
                self.flush(entity, chunk)
            self.counts[entity.name] = count
        return self.counts


def _reset_sequences() -> None:
    """Users keep their numeric ids; the database's id counter must continue after them."""
    from django.contrib.auth import get_user_model

    statements = connection.ops.sequence_reset_sql(no_style(), [get_user_model()])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


class _DryRun(Exception):
    pass


def import_export(directory: Path | str, *, dry_run: bool = False) -> ImportResult:
    """Validate ``directory`` and load it into this (empty) portal in one transaction; with
    ``dry_run`` everything is loaded and then rolled back. Raises :class:`ImportRefused` (nothing
    changed) when the export is invalid, the portal holds data, or a row is refused."""
    from recurring import beat

    directory = Path(directory)
    report = validate_export(directory)
    if not report.ok:
        raise ImportRefused(
            f"{directory} is not a valid export ({len(report.problems):,} problem(s)); nothing was imported.",
            report.problems,
        )
    present = portal_data_present()
    if present:
        parts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in present.items())
        raise ImportRefused(
            f"This portal already holds data ({parts}); an export is imported only into a new, empty "
            "installation (run `manage.py migrate` on a new database, then import before creating any user). "
            "Nothing was changed."
        )
    result = ImportResult(directory=directory, dry_run=dry_run)
    try:
        with transaction.atomic():
            result.counts = _Loader(directory).load()
            beat.sync_all()
            result.beat_entries = beat.schedule_entries().count()
            if dry_run:
                raise _DryRun
            _reset_sequences()
    except _DryRun:
        pass
    except DatabaseError as error:
        raise ImportRefused(f"The import failed: {error}. Nothing was changed.") from error
    return result
