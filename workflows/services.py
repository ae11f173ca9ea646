"""Flows that span several models: saving a template with its task definitions, instantiating a
run (idempotent, with top-up recovery), cloning a template, creating a manual task."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import DomainError
from .models import (
    Priority,
    Run,
    RunLink,
    Task,
    TaskDependency,
    TaskSource,
    TemplateTask,
    TriggerType,
    WorkflowTemplate,
    _person,
    find_dependency_cycle,
)
from .signals import run_instantiated, template_saved

REF_PATTERN = re.compile(r"^[-a-zA-Z0-9_]+$")

TEMPLATE_FIELDS = (
    "name",
    "description",
    "category",
    "stages",
    "run_links",
    "trigger_type",
    "trigger_schedule",
    "trigger_timezone",
    "trigger_lead_days",
    "trigger_enabled",
    "trigger_starts_on",
    "catch_up",
)
TEMPLATE_TASK_FIELDS = (
    "ref",
    "title",
    "instructions",
    "stage",
    "offset_days",
    "assignee",
    "priority",
    "area",
    "depends_on",
    "requires_link",
    "requires_file",
    "requires_proof_note",
    "requires_run_links",
    "estimate_minutes",
)


def _names(values: Any, what: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise DomainError("validation_error", f"{what} must be a list of names.", field=what)
    cleaned = [v.strip() for v in values]
    if any(not v for v in cleaned):
        raise DomainError("validation_error", f"{what} cannot contain an empty name.", field=what)
    duplicates = sorted({v for v in cleaned if cleaned.count(v) > 1})
    if duplicates:
        raise DomainError("validation_error", f"{what} has duplicates: {', '.join(duplicates)}.", field=what)
    return cleaned


def validate_template_definition(template: WorkflowTemplate, tasks: list[dict]) -> None:
    """Refuse a template whose trigger, stages, run links or task definitions are inconsistent;
    a dependency cycle is refused naming the cycle."""
    if not (template.name or "").strip():
        raise DomainError("validation_error", "A template needs a name.", field="name")
    template.stages = _names(template.stages, "stages")
    template.run_links = _names(template.run_links, "run_links")
    if template.trigger_type not in TriggerType.values:
        raise DomainError("validation_error", "trigger_type must be 'manual' or 'automatic'.", field="trigger_type")
    if template.catch_up not in ("latest", "all"):
        raise DomainError("validation_error", "catch_up must be 'latest' or 'all'.", field="catch_up")
    from recurring import cron  # the pure cron module; imported late so workflows loads without it

    try:
        template.trigger_timezone = cron.validate_timezone(template.trigger_timezone or "UTC")
        if template.trigger_schedule:
            template.trigger_schedule = cron.validate(template.trigger_schedule)
    except cron.CronError as exc:
        raise DomainError("invalid_schedule", str(exc), field="trigger_schedule") from None
    if template.trigger_type == TriggerType.AUTOMATIC and not template.trigger_schedule:
        raise DomainError(
            "validation_error", "An automatic template needs a trigger_schedule.", field="trigger_schedule"
        )
    if template.trigger_lead_days is None or int(template.trigger_lead_days) < 0:
        raise DomainError("validation_error", "trigger_lead_days must be 0 or more.", field="trigger_lead_days")

    refs: list[str] = []
    for index, spec in enumerate(tasks):
        ref = (spec.get("ref") or "").strip()
        if not ref or not REF_PATTERN.match(ref):
            raise DomainError(
                "validation_error",
                f"Task {index + 1}: ref must be letters, digits, '-' or '_' (got '{ref}').",
                field="tasks",
            )
        if not (spec.get("title") or "").strip():
            raise DomainError("validation_error", f"Task '{ref}' needs a title.", field="tasks")
        refs.append(ref)
    duplicates = sorted({r for r in refs if refs.count(r) > 1})
    if duplicates:
        raise DomainError("validation_error", f"Duplicate task refs: {', '.join(duplicates)}.", field="tasks")
    known = set(refs)
    for spec in tasks:
        ref = spec["ref"]
        stage = spec.get("stage") or ""
        if template.stages and stage not in template.stages:
            raise DomainError(
                "validation_error",
                f"Task '{ref}': stage '{stage}' is not one of the template's stages ({', '.join(template.stages)}).",
                field="tasks",
            )
        for dep in spec.get("depends_on") or []:
            if dep == ref:
                raise DomainError("dependency_cycle", f"Task '{ref}' depends on itself.", cycle=[ref, ref])
            if dep not in known:
                raise DomainError(
                    "validation_error", f"Task '{ref}' depends on unknown task ref '{dep}'.", field="tasks"
                )
        for name in spec.get("requires_run_links") or []:
            if name not in template.run_links:
                raise DomainError(
                    "validation_error",
                    f"Task '{ref}' requires run link '{name}', which the template does not define.",
                    field="tasks",
                )
        if spec.get("priority") and spec["priority"] not in Priority.values:
            raise DomainError("validation_error", f"Task '{ref}': unknown priority '{spec['priority']}'.")
    cycle = find_dependency_cycle({spec["ref"]: list(spec.get("depends_on") or []) for spec in tasks})
    if cycle:
        raise DomainError(
            "dependency_cycle",
            "Task dependencies form a cycle: " + " → ".join(cycle) + ".",
            cycle=cycle,
        )


def template_task_specs(template: WorkflowTemplate) -> list[dict]:
    return [
        {name: getattr(task, name) for name in TEMPLATE_TASK_FIELDS}
        for task in template.tasks.select_related("assignee").all()
    ]


@transaction.atomic
def save_template(
    *,
    template: WorkflowTemplate | None = None,
    data: dict[str, Any],
    tasks: list[dict] | None = None,
    by=None,
) -> WorkflowTemplate:
    """Create or update a template and (when ``tasks`` is given) replace its task definitions.
    Existing runs are never touched: their tasks are copies."""
    template = template or WorkflowTemplate()
    was_automatic_enabled = template.pk and template.schedule_active
    for name, value in data.items():
        if name not in TEMPLATE_FIELDS:
            raise DomainError("validation_error", f"Unknown template field '{name}'.", field=name)
        setattr(template, name, value)
    specs = tasks if tasks is not None else (template_task_specs(template) if template.pk else [])
    validate_template_definition(template, specs)
    becomes_active = template.schedule_active
    if becomes_active and not was_automatic_enabled and template.pk:
        # Enabling (or switching on automatic) counts as a resume: only later fire times count.
        template.resumed_at = timezone.now()
    if (
        WorkflowTemplate.objects.filter(name__iexact=template.name.strip()).exclude(pk=template.pk).exists()
    ):
        raise DomainError("validation_error", f"A template named '{template.name}' already exists.", field="name")
    template.name = template.name.strip()
    template.save()
    if tasks is not None:
        keep = set()
        for position, spec in enumerate(tasks):
            values = {k: spec[k] for k in TEMPLATE_TASK_FIELDS if k in spec and k != "ref"}
            values.setdefault("stage", template.stages[0] if template.stages else "")
            values["position"] = position
            for list_field in ("depends_on", "requires_run_links"):
                values[list_field] = list(values.get(list_field) or [])
            for text_field in ("instructions", "area", "requires_link", "stage"):
                if values.get(text_field) is None:
                    values[text_field] = ""
            TemplateTask.objects.update_or_create(template=template, ref=spec["ref"], defaults=values)
            keep.add(spec["ref"])
        template.tasks.exclude(ref__in=keep).delete()
    template_saved.send(sender=WorkflowTemplate, template=template)
    return template


@transaction.atomic
def clone_template(*, template: WorkflowTemplate, name: str, by=None) -> WorkflowTemplate:
    """Copy a template and its task definitions under a new name; the clone starts manual so it
    never begins generating work by surprise."""
    name = (name or "").strip()
    if not name:
        raise DomainError("validation_error", "A clone needs a name.", missing=["name"])
    data = {f: getattr(template, f) for f in TEMPLATE_FIELDS}
    data.update(name=name, trigger_type=TriggerType.MANUAL, trigger_enabled=False)
    data["trigger_starts_on"] = None
    return save_template(data=data, tasks=template_task_specs(template), by=by)


@dataclass
class RunResult:
    run: Run
    created: bool
    recovered: int = 0
    task_ids: list = field(default_factory=list)


def run_title(template: WorkflowTemplate, anchor_date: dt.date) -> str:
    return f"{template.name} — {anchor_date.isoformat()}"


def instantiate_run(
    *,
    template: WorkflowTemplate,
    anchor_date: dt.date,
    by=None,
    trigger_date: dt.date | None = None,
) -> RunResult:
    """Create the run of ``template`` for ``anchor_date`` with all its tasks in one transaction,
    or — when it exists — top up exactly the tasks whose refs it lacks (an archived task counts
    as present). Unique (template, anchor_date) and (run, ref) constraints make concurrent calls
    safe: the loser of the race reuses the winner's run."""
    if template.archived_at:
        raise DomainError("template_archived", "This template is archived; restore it to launch runs.", status=409)
    with transaction.atomic():
        created = False
        run = Run.objects.filter(template=template, anchor_date=anchor_date).first()
        if run is None:
            try:
                with transaction.atomic():
                    run = Run.objects.create(
                        template=template,
                        anchor_date=anchor_date,
                        trigger_date=trigger_date,
                        title=run_title(template, anchor_date),
                        created_by=_person(by),
                        current_stage=(template.stages or [""])[0],
                    )
                    created = True
            except IntegrityError:
                run = Run.objects.get(template=template, anchor_date=anchor_date)
        new_ids = _create_missing_tasks(run, template, by=by)
        recovered = 0 if created else len(new_ids)
        if new_ids:
            run.refresh_stage()
        run_instantiated.send(sender=Run, run=run, created=created, recovered=recovered, by=by)
        return RunResult(run=run, created=created, recovered=recovered, task_ids=new_ids)


def _create_missing_tasks(run: Run, template: WorkflowTemplate, *, by=None) -> list:
    specs = list(template.tasks.all())
    links = {link.name: link for link in run.links.all()}
    missing_links = [RunLink(run=run, name=name) for name in template.run_links if name not in links]
    if missing_links:
        RunLink.objects.bulk_create(missing_links, ignore_conflicts=True)
        links = {link.name: link for link in run.links.all()}
    present = set(run.tasks.values_list("template_task_ref", flat=True))
    to_create = [spec for spec in specs if spec.ref not in present]
    if not to_create:
        return []
    new_tasks = [
        Task(
            title=spec.title,
            instructions=spec.instructions,
            priority=spec.priority,
            due_date=run.anchor_date + dt.timedelta(days=spec.offset_days),
            assignee_id=spec.assignee_id,
            area=spec.area,
            estimate_minutes=spec.estimate_minutes,
            source=TaskSource.TEMPLATE,
            run=run,
            template_task_ref=spec.ref,
            stage=spec.stage,
            requires_link=spec.requires_link,
            requires_file=spec.requires_file,
            requires_proof_note=spec.requires_proof_note,
            created_by=_person(by),
        )
        for spec in to_create
    ]
    Task.objects.bulk_create(new_tasks, ignore_conflicts=True)
    # With ignore_conflicts a concurrent top-up may have won some refs: keep only ours.
    by_ref = {t.template_task_ref: t for t in run.tasks.all()}
    ours = {t.pk for t in new_tasks}
    created = [t for t in by_ref.values() if t.pk in ours]
    if not created:
        return []
    created_refs = {t.template_task_ref for t in created}
    spec_by_ref = {spec.ref: spec for spec in specs}
    edges = []
    for spec in specs:
        for dep in spec.depends_on or []:
            if (spec.ref in created_refs or dep in created_refs) and spec.ref in by_ref and dep in by_ref:
                edges.append(TaskDependency(task=by_ref[spec.ref], depends_on=by_ref[dep]))
    TaskDependency.objects.bulk_create(edges, ignore_conflicts=True)
    through = Task.required_run_links.through
    link_rows = [
        through(task_id=task.pk, runlink_id=links[name].pk)
        for task in created
        for name in spec_by_ref[task.template_task_ref].requires_run_links or []
        if name in links
    ]
    through.objects.bulk_create(link_rows, ignore_conflicts=True)
    return [t.pk for t in created]


TASK_CREATE_FIELDS = (
    "title",
    "instructions",
    "instructions_url",
    "priority",
    "due_date",
    "due_time",
    "assignee",
    "area",
    "estimate_minutes",
    "requires_link",
    "requires_file",
    "requires_proof_note",
)


@transaction.atomic
def create_manual_task(*, by=None, **values: Any) -> Task:
    """A one-off task created by a person."""
    unknown = set(values) - set(TASK_CREATE_FIELDS)
    if unknown:
        raise DomainError("validation_error", f"Unknown task field(s): {', '.join(sorted(unknown))}.")
    if not (values.get("title") or "").strip():
        raise DomainError("validation_error", "A task needs a title.", missing=["title"])
    if not values.get("due_date"):
        raise DomainError("validation_error", "A task needs a due date.", missing=["due_date"])
    task = Task(source=TaskSource.MANUAL, created_by=_person(by), **values)
    task.title = task.title.strip()
    task.save()
    return task
