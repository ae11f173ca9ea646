"""The work engine: tasks, their history and proof, workflow templates and runs.

One object's behaviour is a model method (``task.complete(by=user)``); questions about many rows
are QuerySet methods (``Task.objects.open().overdue(today)``, ``Run.objects.with_risk(today)``).
Every refused operation raises :class:`workflows.errors.DomainError` with a stable code.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import os.path
import uuid
from collections.abc import Iterable
from typing import Any

import filetype
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Lower, Trim
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from .errors import DomainError
from .signals import run_stage_changed, template_saved

User = settings.AUTH_USER_MODEL


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


class TaskStatus(models.TextChoices):
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting", "Waiting"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


OPEN_STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.WAITING)
ACTIONABLE_STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS)
RESOLVED_STATUSES = (TaskStatus.DONE, TaskStatus.SKIPPED)

#: A task's proof requirements: fixed once the task is done or skipped.
REQUIREMENT_FIELDS = ("requires_link", "requires_file", "requires_proof_note")

NOT_A_PORTAL_MEMBER = (
    "Only active members of Operators or Admins can be assigned work; '{username}' is not one, so they "
    "would never see it."
)


class TaskSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    RECURRING = "recurring", "Recurring"
    TEMPLATE = "template", "Template"


class TriggerType(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTOMATIC = "automatic", "Automatic"


class RunStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"


#: Bounds on free input, so nothing a person types can overflow a column or a date: long text
#: (instructions, notes, reasons, comments), estimates in minutes (a PostgreSQL integer holds
#: about two billion) and day offsets of template tasks (anchor ± ten years stays a real date).
MAX_TEXT_LENGTH = 20_000
MAX_ESTIMATE_MINUTES = 100_000
MAX_OFFSET_DAYS = 3650


def check_text_length(value: str | None, field: str, *, limit: int = MAX_TEXT_LENGTH) -> None:
    """Refuse text longer than ``limit`` characters with ``validation_error`` naming the field."""
    if value and len(value) > limit:
        raise DomainError(
            "validation_error",
            f"{field} is too long ({len(value):,} characters); the limit is {limit:,}.",
            field=field,
            limit=limit,
        )


def check_estimate_minutes(value, field: str = "estimate_minutes") -> int | None:
    """``None`` or a whole number of minutes from 0 to ``MAX_ESTIMATE_MINUTES``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError("validation_error", f"{field} must be a whole number of minutes; got '{value}'.", field=field)
    if not 0 <= value <= MAX_ESTIMATE_MINUTES:
        raise DomainError(
            "validation_error", f"{field} must be between 0 and {MAX_ESTIMATE_MINUTES:,} minutes.", field=field
        )
    return value


def _default_trigger_timezone() -> str:
    """A template's schedule reads in the operators' calendar unless it names another zone."""
    return settings.PORTAL_TIME_ZONE


def portal_today() -> dt.date:
    """Today in the operators' calendar (``PORTAL_TIME_ZONE``)."""
    from zoneinfo import ZoneInfo

    return timezone.now().astimezone(ZoneInfo(settings.PORTAL_TIME_ZONE)).date()


def _choices_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


# --------------------------------------------------------------------------------------------
# Schedule bookkeeping shared by recurring configs and automatic templates
# --------------------------------------------------------------------------------------------


class ScheduleState(models.Model):
    """Where a schedule stands. The scheduler only considers windows whose fire time is after
    ``max(created_at, resumed_at)`` (creation counts as a resume); ``next_fire_at`` is what the
    per-minute reconcile task looks at (indexed); ``retry_at``/``failure_streak`` hold the
    exponential back-off of a failing schedule."""

    resumed_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    retry_at = models.DateTimeField(null=True, blank=True, editable=False)
    failure_streak = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        abstract = True

    @property
    def schedule_watermark(self) -> dt.datetime:
        if self.resumed_at and self.resumed_at > self.created_at:
            return self.resumed_at
        return self.created_at


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def find_dependency_cycle(depends_on: dict[str, Iterable[str]]) -> list[str] | None:
    """Return one dependency cycle as a list of refs ending where it started, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(depends_on, WHITE)
    stack: list[str] = []

    def visit(ref: str) -> list[str] | None:
        colour[ref] = GREY
        stack.append(ref)
        for nxt in depends_on.get(ref, ()):
            if nxt not in colour:
                continue
            if colour[nxt] == GREY:
                return stack[stack.index(nxt) :] + [nxt]
            if colour[nxt] == WHITE and (found := visit(nxt)):
                return found
        stack.pop()
        colour[ref] = BLACK
        return None

    for ref in sorted(depends_on):
        if colour[ref] == WHITE and (found := visit(ref)):
            return found
    return None


class WorkflowTemplateQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived_at__isnull=True)

    def automatic(self):
        return self.filter(trigger_type=TriggerType.AUTOMATIC)


class WorkflowTemplate(ScheduleState):
    """A reusable multi-step piece of work: ordered stages, task definitions, run links and an
    optional automatic trigger (cron + lead days)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_TEXT_LENGTH)])
    category = models.CharField(max_length=100, blank=True, db_index=True)
    stages = models.JSONField(default=list, blank=True, help_text="Ordered stage names.")
    run_links = models.JSONField(default=list, blank=True, help_text="Names of links shared by a run.")
    trigger_type = models.CharField(max_length=10, choices=TriggerType.choices, default=TriggerType.MANUAL)
    trigger_schedule = models.CharField(max_length=200, blank=True, help_text="Five-field cron expression.")
    trigger_timezone = models.CharField(max_length=64, default=_default_trigger_timezone)
    trigger_lead_days = models.PositiveIntegerField(default=0)
    trigger_enabled = models.BooleanField(default=True)
    trigger_starts_on = models.DateField(null=True, blank=True)
    catch_up = models.CharField(
        max_length=10, choices=[("latest", "Latest missed window"), ("all", "All missed windows")], default="latest"
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = WorkflowTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            _choices_check("trigger_type", TriggerType, "template_trigger_type_valid"),
            models.CheckConstraint(
                condition=Q(trigger_type=TriggerType.MANUAL) | ~Q(trigger_schedule=""),
                name="template_automatic_has_schedule",
            ),
            models.CheckConstraint(condition=Q(catch_up__in=["latest", "all"]), name="template_catch_up_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    @property
    def is_automatic(self) -> bool:
        return self.trigger_type == TriggerType.AUTOMATIC

    @property
    def schedule_active(self) -> bool:
        return self.is_automatic and self.trigger_enabled and self.archived_at is None

    @property
    def starts_on(self) -> dt.date:
        """``trigger_starts_on``, else the creation date in the template's own zone (the UTC date
        would be a day off around midnight)."""
        if self.trigger_starts_on:
            return self.trigger_starts_on
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            zone = ZoneInfo(self.trigger_timezone or settings.PORTAL_TIME_ZONE)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo(settings.PORTAL_TIME_ZONE)
        return timezone.localdate(self.created_at, timezone=zone)

    def stage_order(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.stages or [])}

    # ---- lifecycle ---------------------------------------------------------------------------
    # Every change announces ``template_saved`` once (whoever keeps schedules in sync reacts).

    def archive(self, *, by=None) -> None:
        """Hide the template from launching and stop its schedule; its runs are kept."""
        self._set_archived(True)

    def restore(self, *, by=None) -> None:
        """Undo :meth:`archive`."""
        self._set_archived(False)

    def _set_archived(self, archived: bool) -> None:
        if (self.archived_at is not None) == archived:
            return
        self.archived_at = timezone.now() if archived else None
        self.save(update_fields=["archived_at", "updated_at"])
        template_saved.send(sender=WorkflowTemplate, template=self)

    def set_trigger_enabled(self, enabled: bool, *, by=None) -> None:
        """Pause or enable the automatic trigger; enabling counts as a resume (only later fire
        times count). Goes through ``save_template``, so the same validation applies."""
        from .services import save_template

        if not self.is_automatic:
            raise DomainError("invalid_transition", "This template has no automatic trigger.")
        save_template(template=self, data={"trigger_enabled": enabled}, by=by)


class TemplateTask(models.Model):
    """One task definition of a template; ``ref`` is its stable key within the template."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="tasks")
    ref = models.SlugField(max_length=100)
    title = models.CharField(max_length=300)
    instructions = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_TEXT_LENGTH)])
    stage = models.CharField(max_length=100, blank=True)
    offset_days = models.IntegerField(
        default=0,
        validators=[MinValueValidator(-MAX_OFFSET_DAYS), MaxValueValidator(MAX_OFFSET_DAYS)],
        help_text="Due date = anchor date + offset (usually ≤ 0).",
    )
    position = models.PositiveIntegerField(default=0)
    assignee = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    area = models.CharField(max_length=100, blank=True)
    depends_on = models.JSONField(default=list, blank=True, help_text="Refs of prerequisite tasks.")
    requires_link = models.CharField(max_length=200, blank=True, help_text="Label of a required link proof.")
    requires_file = models.BooleanField(default=False)
    requires_proof_note = models.BooleanField(default=False)
    requires_run_links = models.JSONField(default=list, blank=True)
    estimate_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_ESTIMATE_MINUTES)]
    )

    class Meta:
        ordering = ["template", "position", "offset_days", "ref"]
        constraints = [
            models.UniqueConstraint(fields=["template", "ref"], name="template_task_ref_unique"),
            _choices_check("priority", Priority, "template_task_priority_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.ref}: {self.title}"


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


class RunQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=RunStatus.ACTIVE)

    @staticmethod
    def at_risk_q() -> Q:
        """At risk: a run with overdue work, a follow-up due or missing evidence (counts of
        :meth:`with_risk`); waiting and blocked work alone do not put a run at risk."""
        return Q(risk_overdue__gt=0) | Q(risk_follow_ups_due__gt=0) | Q(risk_missing_evidence__gt=0)

    def with_risk(self, today: dt.date):
        """Annotate each run with its risk counts, ``at_risk``, progress and next due task — all
        as subqueries, so the number of queries never depends on the number of runs. The counts
        use the task rules of :class:`TaskQuerySet`."""
        tasks = Task.objects.filter(run=OuterRef("pk"), archived_at__isnull=True)

        def count(qs):
            return Coalesce(
                Subquery(qs.order_by().values("run").annotate(n=Count("pk")).values("n")[:1]),
                Value(0),
            )

        flagged = Task.objects.with_flags().filter(run=OuterRef("pk"), archived_at__isnull=True)
        next_due = (
            flagged.filter(status__in=OPEN_STATUSES, is_blocked=False)
            .order_by("due_date", "due_time", "title")
            .values("pk")[:1]
        )
        return self.annotate(
            risk_total=count(tasks),
            risk_resolved=count(tasks.filter(status__in=RESOLVED_STATUSES)),
            risk_overdue=count(tasks.overdue(today)),
            risk_waiting=count(tasks.filter(status=TaskStatus.WAITING)),
            risk_follow_ups_due=count(tasks.follow_ups_due(today)),
            risk_missing_evidence=count(flagged.missing_evidence(today)),
            risk_blocked=count(flagged.filter(status__in=OPEN_STATUSES, is_blocked=True)),
            risk_next_due_task_id=Subquery(next_due),
        ).annotate(at_risk=models.ExpressionWrapper(self.at_risk_q(), output_field=models.BooleanField()))

    def at_risk(self):
        """Runs at risk; needs :meth:`with_risk`."""
        return self.filter(at_risk=True)

    def on_track(self):
        """Runs not at risk; needs :meth:`with_risk`."""
        return self.filter(at_risk=False)


class Run(models.Model):
    """One instance of a template for one anchor date, holding its tasks."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.PROTECT, related_name="runs")
    anchor_date = models.DateField()
    trigger_date = models.DateField(null=True, blank=True, help_text="Run date of an automatic trigger.")
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.ACTIVE, db_index=True)
    current_stage = models.CharField(max_length=100, blank=True)
    cancel_reason = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_TEXT_LENGTH)])
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-anchor_date", "title"]
        constraints = [
            models.UniqueConstraint(fields=["template", "anchor_date"], name="run_unique_anchor_date"),
            # One run per trigger date of an automatic template, whatever lead it was created with.
            models.UniqueConstraint(
                fields=["template", "trigger_date"],
                condition=models.Q(trigger_date__isnull=False),
                name="run_unique_trigger_date",
            ),
            _choices_check("status", RunStatus, "run_status_valid"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("run-detail", args=[self.pk])

    def risk(self) -> dict:
        """The risk card of an annotated run (``Run.objects.with_risk(today)``)."""
        return {
            "overdue": self.risk_overdue,
            "waiting": self.risk_waiting,
            "follow_ups_due": self.risk_follow_ups_due,
            "missing_evidence": self.risk_missing_evidence,
            "blocked": self.risk_blocked,
            "next_due_task": self.risk_next_due_task_id,
            "at_risk": bool(self.at_risk),
            "progress": {"resolved": self.risk_resolved, "total": self.risk_total},
        }

    def _locked(self) -> Run:
        return Run.objects.select_for_update(no_key=True).get(pk=self.pk)

    def refresh_stage(self, *, announce: bool = True) -> None:
        """Current stage = the earliest stage (template order) that still has open tasks; when
        every task is resolved the run is completed (and reopened work re-activates it). A move
        raises ``run_stage_changed`` unless ``announce`` is off (a brand-new run announces itself
        with ``workflow-created`` instead) or the run is cancelled (nobody works on it any more)."""
        with transaction.atomic():
            run = self._locked()
            order = run.template.stage_order()
            open_stages = set(
                run.tasks.filter(status__in=OPEN_STATUSES, archived_at__isnull=True).values_list("stage", flat=True)
            )
            previous_stage, previous_status = run.current_stage, run.status
            if open_stages:
                new_stage = min(open_stages, key=lambda s: (order.get(s, len(order)), s))
                if run.status == RunStatus.COMPLETED:
                    run.status = RunStatus.ACTIVE
                    run.completed_at = None
            else:
                new_stage = ""
                if run.status in (RunStatus.ACTIVE, RunStatus.PAUSED) and run.tasks.exists():
                    run.status = RunStatus.COMPLETED
                    run.completed_at = timezone.now()
            run.current_stage = new_stage
            if (new_stage, run.status) != (previous_stage, previous_status):
                run.save()
            self.__dict__.update(
                {k: getattr(run, k) for k in ("status", "current_stage", "completed_at", "updated_at")}
            )
            if new_stage != previous_stage and announce and run.status != RunStatus.CANCELLED:
                # Sent inside the transaction so the notifications commit (or roll back) with it.
                run_stage_changed.send(sender=Run, run=run, from_stage=previous_stage, to_stage=new_stage)

    def pause(self, *, by=None) -> None:
        with transaction.atomic():
            run = self._locked()
            if run.status != RunStatus.ACTIVE:
                raise DomainError("invalid_transition", f"Only an active run can be paused; this run is {run.status}.")
            run.status = RunStatus.PAUSED
            run.save()
            self.status = run.status

    def resume(self, *, by=None) -> None:
        with transaction.atomic():
            run = self._locked()
            if run.status != RunStatus.PAUSED:
                raise DomainError("invalid_transition", f"Only a paused run can be resumed; this run is {run.status}.")
            run.status = RunStatus.ACTIVE
            run.save()
            self.status = run.status

    def cancel(self, *, reason: str, by=None) -> None:
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("reason_required", "A reason is required to cancel a run.", missing=["reason"])
        check_text_length(reason, "reason")
        with transaction.atomic():
            run = self._locked()
            if run.status not in (RunStatus.ACTIVE, RunStatus.PAUSED):
                raise DomainError("invalid_transition", f"A {run.status} run cannot be cancelled.")
            run.status = RunStatus.CANCELLED
            run.cancel_reason = reason
            run.save()
            self.status, self.cancel_reason = run.status, run.cancel_reason

    def fill_link(self, *, name: str, url: str, by=None) -> RunLink:
        """Fill (or change) one of the template's named run links."""
        from django.core.exceptions import ValidationError
        from django.core.validators import URLValidator

        name = (name or "").strip()
        url = (url or "").strip()
        link = self.links.filter(name=name).first()
        if link is None:
            known = ", ".join(f"'{n}'" for n in self.links.values_list("name", flat=True)) or "none"
            raise DomainError("unknown_run_link", f"This run has no link named '{name}' (known: {known}).")
        if not url:
            raise DomainError("validation_error", "A URL is required.", missing=["url"])
        check_text_length(url, "url", limit=RunLink._meta.get_field("url").max_length)
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise DomainError("validation_error", f"'{url}' is not a valid http(s) URL.") from None
        link.url = url
        link.updated_by = by if getattr(by, "is_authenticated", False) else None
        link.updated_at = timezone.now()
        link.save()
        return link


class RunLink(models.Model):
    """A named URL shared by a whole run (e.g. "Mailchimp newsletter"), visible on each task."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="links")
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2000, blank=True)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="run_link_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_filled(self) -> bool:
        return bool(self.url)


# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------


class TaskQuerySet(models.QuerySet):
    """Questions about many tasks. Each attention rule ("overdue", "follow-up due", "missing
    evidence") is defined once, as a ``Q`` (``*_q``) that the filters here, the run risk counts,
    Operations Home's grouping, the scanner, the admin and the pages all use (see
    ``docs/task-states.md`` and ``docs/home.md``)."""

    # ---- the rules, as conditions ----------------------------------------------------------
    @staticmethod
    def overdue_q(today: dt.date) -> Q:
        """Overdue: to do or in progress, due before ``today``. Waiting work is governed by its
        follow-up date, never by its due date."""
        return Q(status__in=ACTIONABLE_STATUSES, due_date__lt=today)

    @staticmethod
    def follow_ups_due_q(today: dt.date) -> Q:
        """Follow-up due: waiting, and the follow-up date is ``today`` or earlier."""
        return Q(status=TaskStatus.WAITING, follow_up_at__lte=today)

    @staticmethod
    def missing_evidence_q(today: dt.date) -> Q:
        """Missing evidence: open, due ``today`` or earlier, with a proof or run-link requirement
        unmet. Needs the ``evidence_missing`` annotation of :meth:`with_flags`."""
        return Q(status__in=OPEN_STATUSES, due_date__lte=today, evidence_missing=True)

    # ---- filters ---------------------------------------------------------------------------
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def actionable(self):
        return self.filter(status__in=ACTIONABLE_STATUSES)

    def not_archived(self):
        return self.filter(archived_at__isnull=True)

    def overdue(self, today: dt.date):
        return self.filter(self.overdue_q(today))

    def follow_ups_due(self, today: dt.date):
        return self.filter(self.follow_ups_due_q(today))

    def missing_evidence(self, today: dt.date):
        flagged = self if "evidence_missing" in self.query.annotations else self.with_flags()
        return flagged.filter(self.missing_evidence_q(today))

    def on_home(self):
        """Open, unarchived work that belongs on Operations Home: tasks of paused or cancelled
        runs leave it; tasks of paused or archived recurring configs stay (they are real work)."""
        return self.open().not_archived().filter(Q(run__isnull=True) | Q(run__status=RunStatus.ACTIVE))

    def with_flags(self):
        """Annotate ``is_blocked`` (an open prerequisite) and ``evidence_missing`` (a proof or
        run-link requirement unmet) in SQL."""
        proofs = Proof.objects.filter(task=OuterRef("pk"))
        # Same rule as missing_requirements(): label equal ignoring case and surrounding blanks,
        # or no label. (iexact against a column would treat '%' and '_' in the label as wildcards.)
        link_proof = (
            proofs.filter(kind=ProofKind.LINK)
            .annotate(_label=Lower(Trim("label")))
            .filter(Q(_label=Lower(Trim(OuterRef("requires_link")))) | Q(_label=""))
        )
        unfilled_run_link = RunLink.objects.filter(requiring_tasks=OuterRef("pk"), url="")
        open_prereq = TaskDependency.objects.filter(task=OuterRef("pk"), depends_on__status__in=OPEN_STATUSES)
        missing = (
            (~Q(requires_link="") & ~Exists(link_proof))
            | (Q(requires_file=True) & ~Exists(proofs.filter(kind=ProofKind.FILE)))
            | (Q(requires_proof_note=True) & ~Exists(proofs.filter(kind=ProofKind.NOTE)))
            | Exists(unfilled_run_link)
        )
        return self.annotate(
            is_blocked=Exists(open_prereq),
            evidence_missing=models.ExpressionWrapper(missing, output_field=models.BooleanField()),
        )


class Task(models.Model):
    """One unit of work for a person."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=300)
    instructions = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_TEXT_LENGTH)])
    instructions_url = models.URLField(max_length=2000, blank=True)
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.TODO)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    due_date = models.DateField()
    due_time = models.TimeField(null=True, blank=True)
    assignee = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    area = models.CharField(max_length=100, blank=True)
    estimate_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_ESTIMATE_MINUTES)]
    )
    source = models.CharField(max_length=10, choices=TaskSource.choices, default=TaskSource.MANUAL)
    # Provenance: a recurring config + window date, or a run + template task ref.
    recurring_config = models.ForeignKey(
        "recurring.RecurringConfig", null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    window_date = models.DateField(null=True, blank=True)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks")
    template_task_ref = models.CharField(max_length=100, blank=True)
    stage = models.CharField(max_length=100, blank=True)
    waiting_for = models.CharField(max_length=300, blank=True)
    follow_up_at = models.DateField(null=True, blank=True)
    requires_link = models.CharField(max_length=200, blank=True)
    requires_file = models.BooleanField(default=False)
    requires_proof_note = models.BooleanField(default=False)
    required_run_links = models.ManyToManyField(RunLink, blank=True, related_name="requiring_tasks")
    dependencies = models.ManyToManyField(
        "self", through="TaskDependency", symmetrical=False, related_name="dependents", blank=True
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "due_time", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["recurring_config", "window_date"],
                condition=Q(recurring_config__isnull=False),
                name="task_unique_recurring_window",
            ),
            models.UniqueConstraint(
                fields=["run", "template_task_ref"],
                condition=Q(run__isnull=False),
                name="task_unique_run_ref",
            ),
            _choices_check("status", TaskStatus, "task_status_valid"),
            _choices_check("priority", Priority, "task_priority_valid"),
            _choices_check("source", TaskSource, "task_source_valid"),
            models.CheckConstraint(
                condition=~Q(source=TaskSource.RECURRING)
                | (Q(recurring_config__isnull=False) & Q(window_date__isnull=False)),
                name="task_recurring_has_window",
            ),
            models.CheckConstraint(
                condition=~Q(source=TaskSource.TEMPLATE) | (Q(run__isnull=False) & ~Q(template_task_ref="")),
                name="task_template_has_run",
            ),
            models.CheckConstraint(
                condition=~Q(status=TaskStatus.WAITING) | (~Q(waiting_for="") & Q(follow_up_at__isnull=False)),
                name="task_waiting_has_follow_up",
            ),
            models.CheckConstraint(
                condition=~Q(status=TaskStatus.DONE) | Q(completed_at__isnull=False),
                name="task_done_has_completed_at",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"], name="task_status_due"),
            models.Index(fields=["assignee", "status"], name="task_assignee_status"),
            models.Index(fields=["follow_up_at"], name="task_follow_up"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("task-detail", args=[self.pk])

    # ---- derived -------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    # One task's view of the rules of :class:`TaskQuerySet` (``overdue_q``, ``follow_ups_due_q``,
    # ``missing_evidence_q``); a test keeps each pair in agreement.
    def is_overdue(self, today: dt.date) -> bool:
        return self.status in ACTIONABLE_STATUSES and self.due_date < today

    def overdue_days(self, today: dt.date) -> int:
        """Days past the due date for overdue work, else 0."""
        return (today - self.due_date).days if self.is_overdue(today) else 0

    def is_follow_up_due(self, today: dt.date) -> bool:
        return self.status == TaskStatus.WAITING and self.follow_up_at is not None and self.follow_up_at <= today

    def is_missing_evidence(self, today: dt.date) -> bool:
        """Uses the ``evidence_missing`` annotation of ``with_flags()`` when present (no query)."""
        if not (self.status in OPEN_STATUSES and self.due_date <= today):
            return False
        flagged = getattr(self, "evidence_missing", None)
        return bool(self.missing_requirements()) if flagged is None else bool(flagged)

    @property
    def source_label(self) -> str:
        if self.source == TaskSource.RECURRING and self.recurring_config_id:
            return f"Recurring · {self.recurring_config.title}"
        if self.source == TaskSource.TEMPLATE and self.run_id:
            return f"Workflow · {self.run.title}"
        return "Manual"

    def requirements(self) -> list[dict]:
        """The requirements checklist: each requirement (kind, name) and whether it is met.
        Costs no query when ``proofs`` and ``required_run_links`` are prefetched."""
        missing = set(self.missing_requirements())
        items = []
        if self.requires_link:
            items.append({"kind": "link", "name": self.requires_link})
        if self.requires_file:
            items.append({"kind": "file", "name": "file"})
        if self.requires_proof_note:
            items.append({"kind": "note", "name": "proof note"})
        for link in self._run_links_required():
            items.append({"kind": "run_link", "name": f"run link '{link.name}'"})
        for item in items:
            item["met"] = item["name"] not in missing
        return items

    def _proofs(self) -> list[Proof]:
        return list(self.proofs.all())

    def _run_links_required(self) -> list[RunLink]:
        # Only run tasks can require run links: spare the query for every other task.
        if not self.run_id:
            return []
        return sorted(self.required_run_links.all(), key=lambda link: link.name)

    def missing_requirements(self) -> list[str]:
        """Names of unmet proof and run-link requirements, e.g. "LinkedIn post URL", "file",
        "proof note", "run link 'Mailchimp newsletter'". A link requirement is met by a link
        proof with the same label (or no label); a file or note requirement by any such proof."""
        needs_proof = bool(self.requires_link or self.requires_file or self.requires_proof_note)
        proofs = self._proofs() if needs_proof else []
        kinds = {p.kind for p in proofs}
        missing: list[str] = []
        if self.requires_link:
            wanted = self.requires_link.strip().lower()
            if not any(p.kind == ProofKind.LINK and p.label.strip().lower() in (wanted, "") for p in proofs):
                missing.append(self.requires_link)
        if self.requires_file and ProofKind.FILE not in kinds:
            missing.append("file")
        if self.requires_proof_note and ProofKind.NOTE not in kinds:
            missing.append("proof note")
        for link in self._run_links_required():
            if not link.url:
                missing.append(f"run link '{link.name}'")
        return missing

    def open_prerequisites(self) -> list[Task]:
        return [dep for dep in self.dependencies.all() if dep.status in OPEN_STATUSES]

    @property
    def skipped_prerequisites(self) -> list[Task]:
        return [dep for dep in self.dependencies.all() if dep.status == TaskStatus.SKIPPED]

    # ---- transitions ---------------------------------------------------------------------
    #
    # Every transition runs in one transaction that first locks the task's run (when it has one)
    # and then the task itself, always in that order, so concurrent transitions of tasks of one
    # run queue behind each other instead of deadlocking, and a prerequisite cannot be reopened
    # between the "not blocked" check and the write. The run's stage is refreshed once at the end
    # of each operation, so a cascade raises one stage-change, not one per skipped task.

    def _lock_for_change(self, *, status_change: bool = True) -> None:
        """Lock the run, then the task, and reload this instance from the locked row. Cached
        prefetches (proofs, dependencies, run links) are dropped: they may predate the lock.
        ``no_key``: these rows' keys never change, so comments and proofs (whose foreign keys
        take key-share locks) may still be added while a transition runs. An archived task's
        status is frozen: every status change is refused (``invalid_transition``)."""
        if self.run_id:
            list(Run.objects.select_for_update(no_key=True).filter(pk=self.run_id).values_list("pk", flat=True))
        self._sync_from(Task.objects.select_for_update(no_key=True).get(pk=self.pk))
        if status_change and self.archived_at is not None:
            raise DomainError(
                "invalid_transition",
                "This task is archived; its status can no longer change.",
                task_status=self.status,
                archived=True,
            )

    def _sync_from(self, fresh: Task) -> None:
        for field in fresh._meta.concrete_fields:
            setattr(self, field.attname, getattr(fresh, field.attname))
        self.__dict__.pop("_prefetched_objects_cache", None)

    def _refuse(self, action: str, allowed: Iterable[str]) -> None:
        allowed_text = " or ".join(TaskStatus(s).label.lower() for s in allowed)
        raise DomainError(
            "invalid_transition",
            f"Cannot {action} a task that is {TaskStatus(self.status).label.lower()}; it must be {allowed_text}.",
            task_status=self.status,
        )

    def _transition(self, to_status: str, *, by, note: str = "", kind: str = "status") -> None:
        """Write the new status and its history entry (who, when, from, to, note)."""
        from_status = self.status
        self.status = to_status
        self.save()
        TaskComment.objects.create(
            task=self,
            kind=kind,
            author=_person(by),
            body=note,
            from_status=from_status,
            to_status=to_status,
        )

    def _refresh_run_stage(self) -> None:
        if self.run_id:
            self.run.refresh_stage()

    def _check_not_blocked(self, action: str) -> None:
        blockers = self.open_prerequisites()
        if blockers:
            names = ", ".join(f"'{t.title}'" for t in blockers)
            raise DomainError(
                "blocked_by_dependencies",
                f"Cannot {action}: waiting on prerequisite task(s) {names}.",
                blocked_by=[{"id": str(t.pk), "title": t.title, "status": t.status} for t in blockers],
            )

    @transaction.atomic
    def start(self, *, by=None) -> None:
        """todo → in_progress; refused while a prerequisite is open."""
        self._lock_for_change()
        if self.status != TaskStatus.TODO:
            self._refuse("start", [TaskStatus.TODO])
        self._check_not_blocked("start")
        self.started_at = self.started_at or timezone.now()
        self._transition(TaskStatus.IN_PROGRESS, by=by)

    @transaction.atomic
    def complete(self, *, by=None, note: str = "") -> None:
        """todo/in_progress → done. Refused while a prerequisite is open (checked first), then
        while a proof or run-link requirement is unmet, naming each missing item."""
        self._lock_for_change()
        if self.status not in ACTIONABLE_STATUSES:
            self._refuse("complete", ACTIONABLE_STATUSES)
        self._check_not_blocked("complete")
        check_text_length(note, "note")
        missing = self.missing_requirements()
        if missing:
            run_links = [m for m in missing if m.startswith("run link ")]
            detail = "Cannot complete: missing " + ", ".join(missing) + "."
            if run_links and len(run_links) == len(missing):
                detail = "; ".join(f"required {m} is not filled" for m in run_links)
                detail = detail[0].upper() + detail[1:] + "."
            raise DomainError("missing_evidence", detail, missing=missing)
        now = timezone.now()
        self.completed_at = now
        self.completed_by = _person(by)
        self.started_at = self.started_at or now
        self._transition(TaskStatus.DONE, by=by, note=(note or "").strip())
        self._refresh_run_stage()

    @transaction.atomic
    def mark_waiting(
        self, *, by=None, waiting_for: str = "", follow_up_at: dt.date | None = None, note: str = ""
    ) -> None:
        """todo/in_progress → waiting; requires who/what we wait on (``waiting_for``), a follow-up
        date (``follow_up_at``) and a ``note``; each missing one is named in ``missing``."""
        self._lock_for_change()
        if self.status not in ACTIONABLE_STATUSES:
            if self.status == TaskStatus.WAITING:
                raise DomainError(
                    "invalid_transition",
                    "This task is already waiting; record a follow-up or a response instead.",
                    task_status=self.status,
                )
            self._refuse("mark waiting", ACTIONABLE_STATUSES)
        waiting_for = (waiting_for or "").strip()
        note = (note or "").strip()
        missing = [
            name
            for name, value in (("waiting_for", waiting_for), ("follow_up_at", follow_up_at), ("note", note))
            if not value
        ]
        if missing:
            raise DomainError(
                "waiting_fields_required",
                "Marking a task as waiting needs " + ", ".join(missing) + ".",
                missing=missing,
            )
        check_text_length(waiting_for, "waiting_for", limit=Task._meta.get_field("waiting_for").max_length)
        check_text_length(note, "note")
        self.waiting_for = waiting_for
        self.follow_up_at = _as_date(follow_up_at, "follow_up_at")
        self._transition(TaskStatus.WAITING, by=by, note=note)

    @transaction.atomic
    def follow_up_sent(self, *, by=None, note: str = "", next_follow_up_at: dt.date | None = None) -> None:
        """On a waiting task: record a follow-up (note + next follow-up date) as a timestamped
        comment and move ``follow_up_at``; the task stays waiting."""
        self._lock_for_change()
        if self.status != TaskStatus.WAITING:
            self._refuse("record a follow-up on", [TaskStatus.WAITING])
        note = (note or "").strip()
        missing = [n for n, v in (("note", note), ("next_follow_up_at", next_follow_up_at)) if not v]
        if missing:
            raise DomainError(
                "follow_up_fields_required",
                "Recording a follow-up needs " + ", ".join(missing) + ".",
                missing=missing,
            )
        check_text_length(note, "note")
        next_follow_up_at = _as_date(next_follow_up_at, "next_follow_up_at")
        previous = self.follow_up_at
        self.follow_up_at = next_follow_up_at
        self.save()
        TaskComment.objects.create(
            task=self,
            kind=CommentKind.FOLLOW_UP,
            author=_person(by),
            body=note,
            data={
                "previous_follow_up_at": previous.isoformat() if previous else None,
                "next_follow_up_at": next_follow_up_at.isoformat(),
            },
        )

    @transaction.atomic
    def response_received(self, *, by=None, note: str = "") -> None:
        """On a waiting task: the response came; back to todo, the note kept in history."""
        self._lock_for_change()
        if self.status != TaskStatus.WAITING:
            self._refuse("record a response on", [TaskStatus.WAITING])
        note = (note or "").strip()
        if not note:
            raise DomainError("note_required", "Recording a response needs a note.", missing=["note"])
        check_text_length(note, "note")
        self.follow_up_at = None
        self.waiting_for = ""
        self._transition(TaskStatus.TODO, by=by, note=note, kind=CommentKind.RESPONSE)

    @transaction.atomic
    def skip(self, *, by=None, reason: str = "", cascade: bool = False) -> list[Task]:
        """Any open status → skipped (reason required). With ``cascade`` every open task that
        (transitively) depends on this one is skipped too; returns those. Without it the
        dependents simply become actionable (a skipped prerequisite resolves them) and show it
        through ``skipped_prerequisites``."""
        self._lock_for_change()
        if self.status not in OPEN_STATUSES:
            self._refuse("skip", OPEN_STATUSES)
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("reason_required", "Skipping a task needs a reason.", missing=["reason"])
        check_text_length(reason, "reason")
        if self.status == TaskStatus.WAITING:
            self.follow_up_at = None
            self.waiting_for = ""
        self._transition(TaskStatus.SKIPPED, by=by, note=reason)
        cascaded: list[Task] = []
        if cascade:
            frontier = {self.pk}
            seen = {self.pk}
            while frontier:
                # Ids first, then lock: PostgreSQL refuses FOR UPDATE together with DISTINCT.
                dependent_ids = (
                    set(TaskDependency.objects.filter(depends_on__in=frontier).values_list("task_id", flat=True)) - seen
                )
                seen |= dependent_ids
                frontier = dependent_ids
                for dependent in (
                    Task.objects.select_for_update(no_key=True).filter(pk__in=dependent_ids).order_by("pk")
                ):
                    # An archived dependent's status is frozen; the cascade still goes through it.
                    if dependent.status in OPEN_STATUSES and dependent.archived_at is None:
                        dependent.follow_up_at = None
                        dependent.waiting_for = ""
                        dependent._transition(
                            TaskStatus.SKIPPED, by=by, note=f"Skipped with prerequisite '{self.title}': {reason}"
                        )
                        cascaded.append(dependent)
        self._refresh_run_stage()
        for run in {t.run_id: t.run for t in cascaded if t.run_id and t.run_id != self.run_id}.values():
            run.refresh_stage()
        return cascaded

    @transaction.atomic
    def reopen(self, *, by=None, reason: str = "") -> None:
        """done/skipped → todo (reason required); a completed run becomes active again."""
        self._lock_for_change()
        if self.status not in RESOLVED_STATUSES:
            self._refuse("reopen", RESOLVED_STATUSES)
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("reason_required", "Reopening a task needs a reason.", missing=["reason"])
        check_text_length(reason, "reason")
        self.completed_at = None
        self.completed_by = None
        self._transition(TaskStatus.TODO, by=by, note=reason)
        self._refresh_run_stage()

    # ---- plain-field edits ------------------------------------------------------------------
    def check_edit(self, changes: dict[str, Any]) -> None:
        """Refuse plain-field ``changes`` to this task (as stored) that would break a rule.

        * Work is assigned only to an active portal member: anyone else could never see it.
          Keeping an assignee who has since left is no change and stays allowed.
        * A done or skipped task's proof requirements are fixed: switching one on would leave a
          resolved task with unmet evidence, switching one off would rewrite what its completion
          was checked against. Reopening the task makes them editable again.
        * Text and estimates stay within their bounds.
        """
        from .members import members

        if "instructions" in changes:
            check_text_length(changes["instructions"], "instructions")
        if "estimate_minutes" in changes:
            check_estimate_minutes(changes["estimate_minutes"])
        assignee = changes.get("assignee")
        if (
            assignee is not None
            and assignee.pk != self.assignee_id
            # Asked of the database, not of the user object the caller loaded: they may have left.
            and not members().filter(pk=assignee.pk).exists()
        ):
            raise DomainError(
                "validation_error", NOT_A_PORTAL_MEMBER.format(username=assignee.get_username()), field="assignee"
            )
        if self.status in RESOLVED_STATUSES:
            locked = [name for name in REQUIREMENT_FIELDS if name in changes and changes[name] != getattr(self, name)]
            if locked:
                raise DomainError(
                    "task_resolved",
                    f"The proof requirements of a {self.get_status_display().lower()} task are fixed; "
                    "reopen it first to change them.",
                    status=409,
                    field=locked[0],
                    fields=locked,
                )

    @transaction.atomic
    def edit(self, changes: dict[str, Any], *, by=None) -> None:
        """Apply plain-field edits (never the status) to the locked row, after :meth:`check_edit`
        on it (a transition may have happened since the caller loaded the task), and write one
        history entry naming what changed (old → new). Only edited fields are written, so a
        transition made meanwhile survives."""
        self._lock_for_change(status_change=False)
        self.check_edit(changes)
        diff: dict[str, list] = {}
        for name, value in changes.items():
            old = getattr(self, name)
            if old != value:
                diff[name] = [_history_value(old), _history_value(value)]
                setattr(self, name, value)
        if diff:
            self.save()
            TaskComment.objects.create(
                task=self,
                kind=CommentKind.EVENT,
                author=_person(by),
                body="Edited " + ", ".join(name.replace("_", " ") for name in diff) + ".",
                data={"changes": diff},
            )

    def add_comment(self, *, by, body: str) -> TaskComment:
        body = (body or "").strip()
        if not body:
            raise DomainError("validation_error", "A comment cannot be empty.", missing=["body"])
        check_text_length(body, "body")
        return TaskComment.objects.create(task=self, kind=CommentKind.COMMENT, author=_person(by), body=body)

    @transaction.atomic
    def archive(self, *, by=None) -> None:
        """Hide the task from default lists, keeping its history. An archived task no longer
        holds its run's stage back, and still counts as present when a run is topped up."""
        self._lock_for_change(status_change=False)
        if self.archived_at is None:
            self.archived_at = timezone.now()
            self.save()
            TaskComment.objects.create(task=self, kind=CommentKind.EVENT, author=_person(by), body="Archived.")
            self._refresh_run_stage()


def _person(by):
    return by if getattr(by, "is_authenticated", False) else None


def _history_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.get_username() if hasattr(value, "get_username") else str(value.pk)
    return value


def _as_date(value, name: str) -> dt.date:
    """Accept a date or an ISO ``YYYY-MM-DD`` string; anything else is refused naming the field."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise DomainError("validation_error", f"{name} must be a date (YYYY-MM-DD); got '{value}'.", field=name)


class TaskDependency(models.Model):
    """``task`` cannot start or complete while ``depends_on`` is open (same run)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="dependency_links")
    depends_on = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="dependent_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "depends_on"], name="task_dependency_unique"),
            models.CheckConstraint(condition=~Q(task=F("depends_on")), name="task_dependency_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} depends on {self.depends_on_id}"


class CommentKind(models.TextChoices):
    COMMENT = "comment", "Comment"
    STATUS = "status", "Status change"
    FOLLOW_UP = "follow_up", "Follow-up sent"
    RESPONSE = "response", "Response received"
    PROOF = "proof", "Proof added"
    EVENT = "event", "Event"


class TaskComment(models.Model):
    """The task's timestamped history: comments, status changes, follow-ups, proof."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=12, choices=CommentKind.choices, default=CommentKind.COMMENT)
    author = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_TEXT_LENGTH)])
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [_choices_check("kind", CommentKind, "task_comment_kind_valid")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.task_id}"


class ProofKind(models.TextChoices):
    LINK = "link", "Link"
    FILE = "file", "File"
    NOTE = "note", "Note"


class PrivateProofStorage(FileSystemStorage):
    """Proof files live outside every served folder and are streamed only by a login-checked
    view; there is deliberately no public URL."""

    def __init__(self, **kwargs):
        super().__init__(base_url=None, **kwargs)

    # Read the setting on every use, not once at import: the field's storage is built when the
    # model class is, long before per-deployment (or per-test) settings are final.
    @property
    def base_location(self) -> str:
        return str(settings.PROOF_STORAGE_DIR)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Proof files have no public URL; use the proof download view.")


def proof_upload_to(instance: Proof, filename: str) -> str:
    return f"{instance.task_id}/{instance.id}/{filename}"


class Proof(models.Model):
    """Evidence attached to a task: a link, a stored file, or a note."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="proofs")
    kind = models.CharField(max_length=4, choices=ProofKind.choices)
    label = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    note = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_TEXT_LENGTH)])
    file = models.FileField(upload_to=proof_upload_to, storage=PrivateProofStorage, blank=True, max_length=500)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=150, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            _choices_check("kind", ProofKind, "proof_kind_valid"),
            models.CheckConstraint(condition=~Q(kind=ProofKind.LINK) | ~Q(url=""), name="proof_link_has_url"),
            models.CheckConstraint(condition=~Q(kind=ProofKind.NOTE) | ~Q(note=""), name="proof_note_has_text"),
            models.CheckConstraint(
                condition=~Q(kind=ProofKind.FILE) | (~Q(file="") & ~Q(sha256="")), name="proof_file_has_content"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} proof on {self.task_id}"

    @property
    def download_url(self) -> str:
        """Proof files are private: served only to signed-in members by the API's file view."""
        return reverse("api-task-proof-file", kwargs={"pk": self.task_id, "proof_id": self.pk})

    @cached_property
    def display(self) -> str:
        if self.kind == ProofKind.LINK:
            return self.label or self.url
        if self.kind == ProofKind.FILE:
            return self.file_name
        return self.note[:80]


# What the first bytes of a file can prove. Text has no magic number: text types are believed
# only when the bytes are UTF-8 without NUL. Containers hold more specific formats the sniffer
# cannot always name (an OOXML document is a zip whose telling entry may come late; a legacy
# Office file is an OLE compound file of either kind), so a declared member of the container's
# family is accepted when the bytes prove the container.
TEXT_CONTENT_TYPES = frozenset({"text/plain", "text/csv", "application/json"})
OLE_CONTAINER = "application/x-ole-storage"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CONTAINER_MEMBERS = {
    "application/zip": frozenset(
        {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }
    ),
    OLE_CONTAINER: frozenset({"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}),
}
# File name extensions each type may carry; a type not listed here falls back to the system's
# MIME table, and a type with no known extension is not checked against the name.
CONTENT_TYPE_EXTENSIONS = {
    "application/pdf": {".pdf"},
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "image/gif": {".gif"},
    "image/webp": {".webp"},
    "text/plain": {".txt", ".text", ".log", ".md"},
    "text/csv": {".csv"},
    "application/json": {".json"},
    "application/zip": {".zip"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {".xlsx"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {".docx"},
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": {".pptx"},
    "application/vnd.ms-excel": {".xls"},
    "application/msword": {".doc"},
    "application/vnd.ms-powerpoint": {".ppt"},
}
SNIFF_BYTES = 8192


def _extensions_for(content_type: str) -> set[str]:
    import mimetypes

    known = CONTENT_TYPE_EXTENSIONS.get(content_type)
    return set(known) if known is not None else set(mimetypes.guess_all_extensions(content_type))


def sniff_content_type(head: bytes) -> str | None:
    """The type the first bytes of a file prove (``None`` when they prove nothing)."""
    detected = filetype.guess_mime(bytes(head[:SNIFF_BYTES]))
    if detected is None and head.startswith(_OLE_MAGIC):
        return OLE_CONTAINER
    return detected


def checked_content_type(*, declared: str, file_name: str, head: bytes, is_text: bool) -> str:
    """The content type to store for an upload, or ``file_type_not_allowed`` naming the detected
    type. ``declared`` (already on the allow-list) must agree with what ``head`` (the first bytes)
    proves, and the file name's extension, if any, must fit that type. A text type is accepted
    only without a binary signature and when the whole file is UTF-8 without NUL (``is_text``)."""
    allowed = [t.lower() for t in settings.PORTAL_PROOF_CONTENT_TYPES]
    detected = sniff_content_type(head)

    def refuse(detail: str) -> DomainError:
        return DomainError(
            "file_type_not_allowed",
            detail,
            declared=declared,
            detected=detected or "unknown",
            allowed=allowed,
        )

    if declared in TEXT_CONTENT_TYPES or declared.startswith("text/"):
        if detected is not None:
            raise refuse(f"The file says it is {declared}, but its content is {detected}.")
        if not is_text:
            raise refuse(
                f"The file says it is {declared}, but its content is binary data (not UTF-8 text without NUL bytes)."
            )
    elif detected is None:
        raise refuse(f"The file says it is {declared}, but its content is not recognisable as that type (unknown).")
    elif detected != declared and declared not in CONTAINER_MEMBERS.get(detected, ()):
        raise refuse(f"The file says it is {declared}, but its content is {detected}.")
    # The bytes agree with the declared type, which may be more specific than they can prove.
    stored = declared
    extension = os.path.splitext(file_name)[1].lower()
    expected = _extensions_for(stored)
    if extension and expected and extension not in expected:
        raise refuse(
            f"The file name ends in '{extension}', but its content is {detected or stored}"
            f" (expected {', '.join(sorted(expected))})."
        )
    return stored


def add_proof(
    task: Task,
    *,
    by=None,
    kind: str,
    label: str = "",
    url: str = "",
    note: str = "",
    file=None,
) -> Proof:
    """Validate and attach one proof item, writing a history entry. Files are checked against the
    size limit and the content-type allow-list; the declared type must agree with the content's
    first bytes and with the file name (:func:`checked_content_type`), and the checked type and
    the sha256 are recorded. Text is bounded (``MAX_TEXT_LENGTH``)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    label, url, note = (label or "").strip(), (url or "").strip(), (note or "").strip()
    if kind not in ProofKind.values:
        raise DomainError("validation_error", f"Proof kind must be one of link, file, note; got '{kind}'.")
    if task.archived_at:
        raise DomainError("invalid_transition", "Cannot add proof to an archived task.")
    check_text_length(label, "label", limit=Proof._meta.get_field("label").max_length)
    check_text_length(url, "url", limit=Proof._meta.get_field("url").max_length)
    check_text_length(note, "note")
    proof = Proof(task=task, kind=kind, label=label, created_by=_person(by))
    if kind == ProofKind.LINK:
        if not url:
            raise DomainError("validation_error", "A link proof needs a URL.", missing=["url"])
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise DomainError("validation_error", f"'{url}' is not a valid http(s) URL.") from None
        proof.url = url
        proof.label = label or task.requires_link
    elif kind == ProofKind.NOTE:
        if not note:
            raise DomainError("validation_error", "A note proof needs text.", missing=["note"])
        proof.note = note
    else:
        if file is None:
            raise DomainError("validation_error", "A file proof needs a file.", missing=["file"])
        limit = settings.PORTAL_PROOF_MAX_BYTES
        if file.size > limit:
            raise DomainError(
                "file_too_large",
                f"The file is {file.size:,} bytes; the limit is {limit:,} bytes.",
                limit=limit,
            )
        if file.size == 0:
            raise DomainError("validation_error", "The file is empty.")
        content_type = (getattr(file, "content_type", "") or "").split(";")[0].strip().lower()
        allowed = [t.lower() for t in settings.PORTAL_PROOF_CONTENT_TYPES]
        if content_type not in allowed:
            raise DomainError(
                "file_type_not_allowed",
                f"Files of type '{content_type or 'unknown'}' are not accepted (accepted: {', '.join(allowed)}).",
                allowed=allowed,
            )
        digest = hashlib.sha256()
        size = 0
        head = b""
        utf8 = codecs.getincrementaldecoder("utf-8")()
        is_text = True
        for chunk in file.chunks():
            digest.update(chunk)
            size += len(chunk)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            if is_text:
                try:
                    utf8.decode(chunk)
                    is_text = b"\x00" not in chunk
                except UnicodeDecodeError:
                    is_text = False
        if is_text:
            try:
                utf8.decode(b"", final=True)  # a multi-byte character cut off at the end
            except UnicodeDecodeError:
                is_text = False
        # The declared size is the client's word; the bytes we hashed are the truth.
        if size > limit:
            raise DomainError(
                "file_too_large", f"The file is {size:,} bytes; the limit is {limit:,} bytes.", limit=limit
            )
        file.seek(0)
        proof.file_name = os.path.basename(file.name or "")[:255] or "proof"
        content_type = checked_content_type(
            declared=content_type, file_name=proof.file_name, head=head, is_text=is_text
        )
        proof.file_size = size
        proof.content_type = content_type
        proof.sha256 = digest.hexdigest()
        proof.note = note
        proof.file.save(proof.file_name, file, save=False)
    try:
        with transaction.atomic():
            proof.save()
            TaskComment.objects.create(
                task=task,
                kind=CommentKind.PROOF,
                author=_person(by),
                body=f"Added {proof.get_kind_display().lower()} proof: {proof.display}",
                data={"proof_id": str(proof.pk)},
            )
    except Exception:
        if proof.file:
            proof.file.storage.delete(proof.file.name)
        raise
    # A caller holding this task with prefetched proofs must see the new one (e.g. complete()).
    getattr(task, "_prefetched_objects_cache", {}).pop("proofs", None)
    return proof
