"""Flows that span several models: saving a template with its task definitions, instantiating a
run (idempotent, with top-up recovery), cloning a template, creating a manual task."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import DomainError
from .inputs import check_plain_text
from .models import (
    MAX_ESTIMATE_MINUTES,
    MAX_OFFSET_DAYS,
    MAX_TEMPLATE_TASKS,
    MAX_TEXT_LENGTH,
    Priority,
    Run,
    RunLink,
    Task,
    TaskDependency,
    TaskSource,
    TemplateTask,
    TriggerType,
    WorkflowTemplate,
    check_estimate_minutes,
    check_text_length,
    find_dependency_cycle,
)
from .models.base import _as_date, _person
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


def _names(values: Any, what: str, *, field: str | None = None, **extra: Any) -> list[str]:
    """A list of distinct non-empty names (a bare string is refused, not split into letters)."""
    field = field or what
    if values is None:
        return []
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise DomainError("validation_error", f"{what} must be a list of names.", field=field, **extra)
    cleaned = [v.strip() for v in values]
    if any(not v for v in cleaned):
        raise DomainError("validation_error", f"{what} cannot contain an empty name.", field=field, **extra)
    duplicates = sorted({v for v in cleaned if cleaned.count(v) > 1})
    if duplicates:
        raise DomainError("validation_error", f"{what} has duplicates: {', '.join(duplicates)}.", field=field, **extra)
    return cleaned


#: Lead days of an automatic trigger: the anchor is at most ten years after the trigger date.
MAX_LEAD_DAYS = MAX_OFFSET_DAYS


def _whole_number(
    value: Any,
    what: str,
    *,
    field: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    **extra: Any,
) -> int:
    field = field or what
    try:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError
        number = int(value)
    except ValueError:
        raise DomainError(
            "validation_error", f"{what} must be a whole number; got '{value}'.", field=field, **extra
        ) from None
    if minimum is not None and number < minimum:
        raise DomainError("validation_error", f"{what} must be {minimum} or more.", field=field, **extra)
    if maximum is not None and number > maximum:
        raise DomainError("validation_error", f"{what} must be {maximum:,} or less.", field=field, **extra)
    return number


def check_task_count(tasks: list | None) -> None:
    """Refuse more than ``MAX_TEMPLATE_TASKS`` task definitions, before any of them is read."""
    if tasks is not None and len(tasks) > MAX_TEMPLATE_TASKS:
        raise DomainError(
            "validation_error",
            f"tasks: a template holds at most {MAX_TEMPLATE_TASKS:,} tasks; got {len(tasks):,}.",
            field="tasks",
            limit=MAX_TEMPLATE_TASKS,
        )


def validate_template_definition(template: WorkflowTemplate, tasks: list[dict]) -> None:
    """Refuse a template whose trigger, stages, run links or task definitions are inconsistent:
    unknown stages, run links or dependency refs are named, and a dependency cycle is refused
    with code ``dependency_cycle`` and the ``cycle`` as a list of refs. Numbers are bounded so
    every due date stays a real date and fits its column: ``offset_days`` and
    ``trigger_lead_days`` within ±``MAX_OFFSET_DAYS``, ``estimate_minutes`` up to
    ``MAX_ESTIMATE_MINUTES``; long text up to ``MAX_TEXT_LENGTH``. Normalises ``template`` and
    the ``tasks`` dicts in place (trimmed names, default stage = the first stage)."""
    if not (template.name or "").strip():
        raise DomainError("validation_error", "A template needs a name.", field="name")
    check_text_length(template.description, "description")
    template.stages = _names(template.stages, "stages")
    template.run_links = _names(template.run_links, "run_links")
    if template.trigger_type not in TriggerType.values:
        raise DomainError("validation_error", "trigger_type must be 'manual' or 'automatic'.", field="trigger_type")
    if template.catch_up not in ("latest", "all"):
        raise DomainError("validation_error", "catch_up must be 'latest' or 'all'.", field="catch_up")
    from recurring import cron  # the pure cron module; imported late so workflows loads without it

    try:
        template.trigger_timezone = cron.validate_timezone(template.trigger_timezone or settings.PORTAL_TIME_ZONE)
        if template.trigger_schedule:
            template.trigger_schedule = cron.validate(template.trigger_schedule)
    except cron.CronError as exc:
        raise DomainError("invalid_schedule", str(exc), field="trigger_schedule") from None
    if template.trigger_type == TriggerType.AUTOMATIC and not template.trigger_schedule:
        raise DomainError(
            "validation_error", "An automatic template needs a trigger_schedule.", field="trigger_schedule"
        )
    template.trigger_lead_days = _whole_number(
        template.trigger_lead_days, "trigger_lead_days", minimum=0, maximum=MAX_LEAD_DAYS
    )

    refs: list[str] = []
    for index, spec in enumerate(tasks):
        ref = spec.get("ref") or ""
        if not isinstance(ref, str) or not REF_PATTERN.match(ref.strip()):
            raise DomainError(
                "validation_error",
                f"Task {index + 1}: ref must be letters, digits, '-' or '_' (got '{ref}').",
                field="tasks",
                position=index,
                task_field="ref",
            )
        ref = spec["ref"] = ref.strip()
        title = spec.get("title")
        if not isinstance(title, str) or not title.strip():
            raise DomainError(
                "validation_error", f"Task '{ref}' needs a title.", field="tasks", ref=ref, task_field="title"
            )
        spec["title"] = title.strip()
        if not spec.get("stage") and template.stages:
            spec["stage"] = template.stages[0]
        spec["depends_on"] = _names(
            spec.get("depends_on"), f"Task '{ref}': depends_on", field="tasks", ref=ref, task_field="depends_on"
        )
        spec["requires_run_links"] = _names(
            spec.get("requires_run_links"),
            f"Task '{ref}': requires_run_links",
            field="tasks",
            ref=ref,
            task_field="requires_run_links",
        )
        spec["offset_days"] = _whole_number(
            spec.get("offset_days") or 0,
            f"Task '{ref}': offset_days",
            field="tasks",
            minimum=-MAX_OFFSET_DAYS,
            maximum=MAX_OFFSET_DAYS,
            ref=ref,
            task_field="offset_days",
        )
        if spec.get("estimate_minutes") is not None:
            spec["estimate_minutes"] = _whole_number(
                spec["estimate_minutes"],
                f"Task '{ref}': estimate_minutes",
                field="tasks",
                minimum=0,
                maximum=MAX_ESTIMATE_MINUTES,
                ref=ref,
                task_field="estimate_minutes",
            )
        if isinstance(spec.get("instructions"), str) and len(spec["instructions"]) > MAX_TEXT_LENGTH:
            raise DomainError(
                "validation_error",
                f"Task '{ref}': instructions are too long ({len(spec['instructions']):,} characters); "
                f"the limit is {MAX_TEXT_LENGTH:,}.",
                field="tasks",
                ref=ref,
                task_field="instructions",
            )
        refs.append(ref)
    duplicates = sorted({r for r in refs if refs.count(r) > 1})
    if duplicates:
        raise DomainError(
            "validation_error",
            f"Duplicate task refs: {', '.join(duplicates)}.",
            field="tasks",
            refs=duplicates,
            task_field="ref",
        )
    known = set(refs)
    for spec in tasks:
        ref = spec["ref"]
        stage = spec.get("stage") or ""
        if template.stages and stage not in template.stages:
            raise DomainError(
                "validation_error",
                f"Task '{ref}': stage '{stage}' is not one of the template's stages ({', '.join(template.stages)}).",
                field="tasks",
                ref=ref,
                task_field="stage",
            )
        for dep in spec.get("depends_on") or []:
            if dep == ref:
                raise DomainError(
                    "dependency_cycle", f"Task '{ref}' depends on itself.", cycle=[ref, ref], task_field="depends_on"
                )
            if dep not in known:
                raise DomainError(
                    "validation_error",
                    f"Task '{ref}' depends on unknown task ref '{dep}'.",
                    field="tasks",
                    ref=ref,
                    task_field="depends_on",
                )
        for name in spec.get("requires_run_links") or []:
            if name not in template.run_links:
                raise DomainError(
                    "validation_error",
                    f"Task '{ref}' requires run link '{name}', which the template does not define.",
                    field="tasks",
                    ref=ref,
                    task_field="requires_run_links",
                )
        if spec.get("priority") and spec["priority"] not in Priority.values:
            raise DomainError(
                "validation_error",
                f"Task '{ref}': unknown priority '{spec['priority']}'.",
                field="tasks",
                ref=ref,
                task_field="priority",
            )
    cycle = find_dependency_cycle({spec["ref"]: list(spec.get("depends_on") or []) for spec in tasks})
    if cycle:
        raise DomainError(
            "dependency_cycle",
            "Task dependencies form a cycle: " + " → ".join(cycle) + ".",
            cycle=cycle,
            task_field="depends_on",
        )


def template_task_specs(template: WorkflowTemplate) -> list[dict]:
    return [
        {name: getattr(task, name) for name in TEMPLATE_TASK_FIELDS}
        for task in template.tasks.select_related("assignee").all()
    ]


def save_template(
    *,
    template: WorkflowTemplate | None = None,
    data: dict[str, Any],
    tasks: list[dict] | None = None,
    by=None,
) -> WorkflowTemplate:
    """Create or update a template and (when ``tasks`` is given) replace its task definitions.
    Existing runs are never touched: their tasks are copies. Refused input changes nothing —
    neither the database nor the ``template`` instance the caller holds."""
    template = template or WorkflowTemplate()
    snapshot = {f.attname: getattr(template, f.attname) for f in template._meta.concrete_fields}
    adding = template._state.adding
    try:
        with transaction.atomic():
            return _save_template(template, data=data, tasks=tasks)
    except Exception:
        for attname, value in snapshot.items():
            setattr(template, attname, value)
        template._state.adding = adding
        raise


def _save_template(template: WorkflowTemplate, *, data: dict[str, Any], tasks: list[dict] | None) -> WorkflowTemplate:
    is_new = template._state.adding
    was_automatic_enabled = not is_new and template.schedule_active
    for name, value in data.items():
        if name not in TEMPLATE_FIELDS:
            raise DomainError("validation_error", f"Unknown template field '{name}'.", field=name)
        check_plain_text(value, name)
        if name == "trigger_starts_on" and value not in (None, ""):
            value = _as_date(value, name)
        setattr(template, name, value)
    # Validate copies: the caller's dicts stay as given.
    check_task_count(tasks)
    specs = [dict(spec) for spec in tasks] if tasks is not None else ([] if is_new else template_task_specs(template))
    for position, spec in enumerate(specs):
        for name, value in spec.items():
            check_plain_text(value, f"tasks[{position}].{name}")
    validate_template_definition(template, specs)
    becomes_active = template.schedule_active
    if becomes_active and not was_automatic_enabled and not is_new:
        # Enabling (or switching on automatic) counts as a resume: only later fire times count.
        template.resumed_at = timezone.now()
    if WorkflowTemplate.objects.filter(name__iexact=template.name.strip()).exclude(pk=template.pk).exists():
        raise DomainError("validation_error", f"A template named '{template.name}' already exists.", field="name")
    template.name = template.name.strip()
    template.save()
    if tasks is not None:
        keep = set()
        for position, spec in enumerate(specs):
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


def due_date_for(anchor_date: dt.date, offset_days: int) -> dt.date:
    """A template task's due date in the run for ``anchor_date``: the anchor plus its offset."""
    return anchor_date + dt.timedelta(days=offset_days)


def check_launchable(*, template: WorkflowTemplate, anchor_date: dt.date) -> None:
    """Refuse launching ``template`` for ``anchor_date``: an archived template (409), a template
    without task definitions (``template_has_no_tasks``: its run could never complete) and an
    anchor date that would put a due date outside the calendar (``validation_error``)."""
    if template.archived_at:
        raise DomainError("template_archived", "This template is archived; restore it to launch runs.", status=409)
    offsets = list(template.tasks.values_list("ref", "offset_days"))
    if not offsets:
        raise DomainError(
            "template_has_no_tasks",
            f"Template '{template.name}' has no tasks; add at least one task before launching a run.",
        )
    for ref, offset in offsets:
        try:
            due_date_for(anchor_date, offset)
        except OverflowError:
            raise DomainError(
                "validation_error",
                f"Anchor date {anchor_date.isoformat()} puts task '{ref}' (offset {offset:+d} days) outside "
                "the calendar.",
                field="anchor_date",
            ) from None


@dataclass
class PlannedTask:
    """One task a run for an anchor date would hold (see :func:`preview_run`)."""

    ref: str
    title: str
    stage: str
    due_date: dt.date
    assignee: Any
    depends_on: list[str]


@dataclass
class RunPreview:
    template: WorkflowTemplate
    anchor_date: dt.date
    tasks: list[PlannedTask]
    existing_run: Run | None


def preview_run(*, template: WorkflowTemplate, anchor_date: dt.date) -> RunPreview:
    """What :func:`instantiate_run` would create for ``anchor_date``, written nowhere: each task
    with its stage, due date and prerequisites (titles), in the template's stage order, and the
    run that already exists for that anchor date (launching opens it instead of adding one).
    Refused like a launch (:func:`check_launchable`)."""
    check_launchable(template=template, anchor_date=anchor_date)
    specs = list(template.tasks.select_related("assignee"))
    titles = {spec.ref: spec.title for spec in specs}
    order = template.stage_order()
    planned = [
        PlannedTask(
            ref=spec.ref,
            title=spec.title,
            stage=spec.stage,
            due_date=due_date_for(anchor_date, spec.offset_days),
            assignee=spec.assignee,
            depends_on=[titles.get(ref, ref) for ref in spec.depends_on or []],
        )
        for spec in specs
    ]
    planned.sort(key=lambda task: (order.get(task.stage, len(order)), task.due_date))
    existing = Run.objects.filter(template=template, anchor_date=anchor_date).first()
    return RunPreview(template=template, anchor_date=anchor_date, tasks=planned, existing_run=existing)


def instantiate_run(
    *,
    template: WorkflowTemplate,
    anchor_date: dt.date,
    by=None,
    trigger_date: dt.date | None = None,
    announce: bool = True,
) -> RunResult:
    """Create the run of ``template`` for ``anchor_date`` with all its tasks in one transaction,
    or — when it exists — top up exactly the tasks whose refs it lacks (an archived task counts
    as present) and report how many were recovered. Unique (template, anchor_date) and (run, ref)
    constraints make concurrent calls safe: the loser of the creation race reuses the winner's
    run, and top-ups of one run are serialised by locking the run row. With a ``trigger_date``
    (the scheduler) the run of that trigger date is the existing run, whatever anchor date it
    got (unique (template, trigger_date) too), so changing the lead never adds a second run for
    one trigger date. ``announce=False`` (a backfill, which raises one summary instead) tells
    the ``run_instantiated`` receivers not to announce the new run.

    Refused, changing nothing: an archived template (409), a template without task definitions
    (``template_has_no_tasks``: its run could never complete) and an anchor date that would put a
    due date outside the calendar (``validation_error``)."""
    check_launchable(template=template, anchor_date=anchor_date)
    try:
        return _instantiate_run(
            template=template, anchor_date=anchor_date, by=by, trigger_date=trigger_date, announce=announce
        )
    except OverflowError as exc:
        # Any other date arithmetic out of the calendar is bad input too, never a crash.
        raise DomainError("validation_error", f"Date out of range: {exc}.", field="anchor_date") from None


def _instantiate_run(
    *, template: WorkflowTemplate, anchor_date: dt.date, by, trigger_date: dt.date | None, announce: bool = True
) -> RunResult:
    def existing() -> Run | None:
        runs = Run.objects.select_for_update(no_key=True).filter(template=template)
        if trigger_date is not None:
            run = runs.filter(trigger_date=trigger_date).first()
            if run is not None:
                return run
        return runs.filter(anchor_date=anchor_date).first()

    with transaction.atomic():
        created = False
        run = existing()
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
                # Another process created it first; its transaction has committed by now.
                run = existing()
                if run is None:
                    raise
        new_ids = _create_missing_tasks(run, template, by=by)
        recovered = 0 if created else len(new_ids)
        if new_ids:
            # A new run starts in the earliest stage that has tasks and announces itself with
            # workflow-created; a top-up that reopens an earlier stage is a real stage change.
            run.refresh_stage(announce=not created)
        run_instantiated.send(sender=Run, run=run, created=created, recovered=recovered, by=by, announce=announce)
        return RunResult(run=run, created=created, recovered=recovered, task_ids=new_ids)


def _create_missing_tasks(run: Run, template: WorkflowTemplate, *, by=None) -> list:
    """Create the tasks (with their dependency links and run-link requirements) for the template
    refs the run lacks. The caller holds the run's lock, so no other top-up runs concurrently and
    any constraint violation here is a real error, not a race to ignore."""
    specs = list(template.tasks.all())
    existing_links = set(run.links.values_list("name", flat=True))
    missing_links = [RunLink(run=run, name=name) for name in template.run_links if name not in existing_links]
    if missing_links:
        RunLink.objects.bulk_create(missing_links)
    links = {link.name: link for link in run.links.all()}
    by_ref = {t.template_task_ref: t for t in run.tasks.only("id", "template_task_ref")}
    to_create = [spec for spec in specs if spec.ref not in by_ref]
    if not to_create:
        return []
    created = [
        Task(
            title=spec.title,
            instructions=spec.instructions,
            priority=spec.priority,
            due_date=due_date_for(run.anchor_date, spec.offset_days),
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
    Task.objects.bulk_create(created)
    by_ref.update({t.template_task_ref: t for t in created})
    created_refs = {t.template_task_ref for t in created}
    spec_by_ref = {spec.ref: spec for spec in specs}
    edges = {
        (spec.ref, dep)
        for spec in specs
        for dep in spec.depends_on or []
        if (spec.ref in created_refs or dep in created_refs) and spec.ref in by_ref and dep in by_ref
    }
    TaskDependency.objects.bulk_create(
        [TaskDependency(task=by_ref[ref], depends_on=by_ref[dep]) for ref, dep in sorted(edges)]
    )
    through = Task.required_run_links.through
    through.objects.bulk_create(
        [
            through(task_id=task.pk, runlink_id=links[name].pk)
            for task in created
            for name in spec_by_ref[task.template_task_ref].requires_run_links or []
            if name in links
        ]
    )
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
    for name, value in values.items():
        check_plain_text(value, name)
    if not (values.get("title") or "").strip():
        raise DomainError("validation_error", "A task needs a title.", missing=["title"])
    if not values.get("due_date"):
        raise DomainError("validation_error", "A task needs a due date.", missing=["due_date"])
    check_text_length(values.get("instructions"), "instructions")
    values["estimate_minutes"] = check_estimate_minutes(values.get("estimate_minutes"))
    task = Task(source=TaskSource.MANUAL, created_by=_person(by), **values)
    task.title = task.title.strip()
    task.save()
    return task
