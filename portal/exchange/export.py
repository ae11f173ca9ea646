"""Writing an export: one JSONL file per entity and ``manifest.json``.

Rows are read as plain values with ``.iterator()`` in id order, and what lives in another table
(a user's groups, a task's required run links) is fetched per chunk of rows, so memory stays flat
however many records there are. Secret-looking values are removed on the way out and counted
(:mod:`portal.exchange.sensitive`). See ``docs/export.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone

from . import schema, sensitive
from .schema import ENTITIES, MANIFEST, SCHEMA, Entity

CHUNK = 2000


class ExportError(Exception):
    """The export cannot be written (e.g. the target folder is not empty)."""


@dataclass
class ExportResult:
    directory: Path
    counts: dict[str, int] = field(default_factory=dict)
    redacted: int = 0

    def summary(self) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in self.counts.items())
        line = f"Exported {total:,} records to {self.directory}: {parts}."
        if self.redacted:
            line += f" {self.redacted:,} secret-like value(s) were left out."
        return line


def dumps(record: dict) -> str:
    """One line: keys in schema order, no spaces, UTF-8 text as is."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _gathered(entity: Entity, ids: list) -> dict[str, dict]:
    """Values kept in another table, for one chunk of rows: ``{field name: {row id: [...]}}``."""
    if entity.name == "users":
        through = entity.model.groups.through
        groups: dict = defaultdict(list)
        for user_id, name in through.objects.filter(user_id__in=ids).values_list("user_id", "group__name"):
            groups[user_id].append(name)
        return {"groups": {pk: sorted(names) for pk, names in groups.items()}}
    if entity.name == "tasks":
        through = entity.model.required_run_links.through
        links: dict = defaultdict(list)
        for task_id, link_id in through.objects.filter(task_id__in=ids).values_list("task_id", "runlink_id"):
            links[task_id].append(str(link_id))
        return {"required_run_link_ids": {pk: sorted(values) for pk, values in links.items()}}
    return {}


def records(entity: Entity, counter: list[int] | None = None) -> Iterator[dict]:
    """The entity's lines as dicts, sorted by key, secret-like values removed (``counter[0]``
    counts them)."""
    counter = counter if counter is not None else [0]
    columns = entity.columns
    rows = entity.model._default_manager.order_by(*list(entity.key)).values_list(*columns)
    if entity.sort_in_python:
        rows = sorted(rows, key=lambda row: tuple(row[columns.index(k)] for k in entity.key))
    else:
        rows = rows.iterator(chunk_size=CHUNK)
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield from _chunk_records(entity, columns, chunk, counter)
            chunk = []
    if chunk:
        yield from _chunk_records(entity, columns, chunk, counter)


def _chunk_records(entity: Entity, columns: list[str], rows: list[tuple], counter: list[int]) -> Iterator[dict]:
    gathered = _gathered(entity, [row[0] for row in rows]) if any(f.column is None for f in entity.fields) else {}
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        record = {}
        for spec in entity.fields:
            if spec.column is None:
                value = gathered.get(spec.name, {}).get(row[0], [])
            else:
                value = values[spec.column]
            value = schema.encode(spec.kind, value)
            if isinstance(value, str):
                value, removed = sensitive.redact(value)
                counter[0] += removed
            elif isinstance(value, (dict, list)):
                value, removed = sensitive.redact_json(value)
                counter[0] += removed
            record[spec.name] = value
        yield record


def write_export(directory: Path | str) -> ExportResult:
    """Write every entity file and the manifest into ``directory`` (created; it must not exist
    or be empty). Returns the counts and how many secret-like values were left out."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ExportError(f"{directory} is not an empty folder; choose a new one so no old file mixes in.")
    directory.mkdir(parents=True, exist_ok=True)
    created_at = timezone.now()
    result = ExportResult(directory=directory)
    files: dict[str, dict] = {}
    counter = [0]
    for entity in ENTITIES:
        digest = hashlib.sha256()
        count = size = 0
        with open(directory / entity.file_name, "wb") as out:
            for record in records(entity, counter):
                line = (dumps(record) + "\n").encode()
                out.write(line)
                digest.update(line)
                size += len(line)
                count += 1
        result.counts[entity.name] = count
        files[entity.file_name] = {"sha256": digest.hexdigest(), "bytes": size}
    result.redacted = counter[0]
    manifest = {
        "schema": SCHEMA,
        "created_at": schema.encode(schema.DATETIME, created_at),
        "counts": result.counts,
        "files": files,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return result
