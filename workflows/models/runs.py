"""Runs of a template, their risk and their shared links."""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.validators import MaxLengthValidator
from django.db import models, transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from ..errors import DomainError
from ..signals import run_stage_changed
from .base import (
    MAX_TEXT_LENGTH,
    OPEN_STATUSES,
    RESOLVED_STATUSES,
    RunStatus,
    TaskStatus,
    User,
    _choices_check,
    check_text_length,
)
from .templates import WorkflowTemplate


class RunQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=RunStatus.ACTIVE)

    @staticmethod
    def risk_conditions(today: dt.date) -> dict[str, Q]:
        """What each risk count of a run counts among its unarchived tasks (``docs/home.md``),
        from the task rules of :class:`TaskQuerySet`; ``risk_total`` is open + resolved."""
        from .tasks import TaskQuerySet  # tasks belong to runs: imported when first needed

        return {
            "risk_open": Q(status__in=OPEN_STATUSES),
            "risk_resolved": Q(status__in=RESOLVED_STATUSES),
            "risk_overdue": TaskQuerySet.overdue_q(today),
            "risk_waiting": Q(status=TaskStatus.WAITING),
            "risk_follow_ups_due": TaskQuerySet.follow_ups_due_q(today),
            "risk_missing_evidence": TaskQuerySet.missing_evidence_q(today),
            "risk_blocked": Q(status__in=OPEN_STATUSES) & TaskQuerySet.blocked_q(),
        }

    #: The counts that put a run at risk when any is above zero: overdue work, a follow-up due,
    #: missing evidence. Waiting and blocked work alone do not.
    AT_RISK_COUNTS = ("risk_overdue", "risk_follow_ups_due", "risk_missing_evidence")

    @classmethod
    def at_risk_q(cls, today: dt.date) -> Q:
        """At risk (:attr:`AT_RISK_COUNTS`), as existence tests on the run's tasks, so the
        database stops at the first such task (and at the first rule that holds)."""
        from .tasks import Task  # tasks belong to runs: imported when first needed

        tasks = Task.objects.filter(run=OuterRef("pk"), archived_at__isnull=True)
        conditions = cls.risk_conditions(today)
        at_risk = Q()
        for name in cls.AT_RISK_COUNTS:
            at_risk |= Q(Exists(tasks.filter(conditions[name])))
        return at_risk

    @staticmethod
    def _next_due_tasks():
        """A run's next due task (``TaskQuerySet.next_due``), as a subquery on the run."""
        from .tasks import Task

        return Task.objects.filter(run=OuterRef("pk")).next_due()

    #: How risk cards are listed after at-risk runs first: by the next due task's date, anchor
    #: date and title (``risk_next_due_date``, see :meth:`by_next_due_date`).
    ORDER_AFTER_AT_RISK = (models.F("risk_next_due_date").asc(nulls_last=True), "anchor_date", "title", "id")

    def risk_ordered(self, today: dt.date):
        """Annotate ``at_risk`` and ``risk_next_due_date`` (the next due task's date) and order
        the runs as risk cards are listed: at-risk first, then :attr:`ORDER_AFTER_AT_RISK`. No
        counts: pick the runs to show with this, then count their work with
        :meth:`with_risk_counts`."""
        return (
            self._with_at_risk(today).by_next_due_date().order_by(models.F("at_risk").desc(), *self.ORDER_AFTER_AT_RISK)
        )

    def by_next_due_date(self):
        """Annotate ``risk_next_due_date`` and order by :attr:`ORDER_AFTER_AT_RISK`: the risk
        cards' order for runs whose ``at_risk`` is read from their counts
        (:meth:`Run.at_risk_by_counts`), which then go first."""
        return self.annotate(risk_next_due_date=Subquery(self._next_due_tasks().values("due_date")[:1])).order_by(
            *self.ORDER_AFTER_AT_RISK
        )

    def with_risk(self, today: dt.date):
        """Annotate each run with its risk counts (:meth:`risk_conditions`), ``at_risk`` and
        next due task, as subqueries: for filtering and ordering by risk (Workflows page,
        admin) and for a page of runs."""
        return self.with_risk_counts(today)._with_at_risk(today)

    def with_risk_counts(self, today: dt.date):
        """:meth:`with_risk` without ``at_risk``: for runs whose ``at_risk`` is already known (the
        ranking of :meth:`risk_ordered` computed it) or is read from these counts
        (:meth:`Run.at_risk_by_counts`). Each count reads a run's tasks from one index
        (``task_run_status_due``: status, dates, id and requirements), never a table row."""
        from .tasks import Task  # tasks belong to runs: imported when first needed

        tasks = Task.objects.filter(run=OuterRef("pk"), archived_at__isnull=True)

        def count(condition: Q):
            counted = tasks.filter(condition).order_by().values("run").annotate(n=Count("*")).values("n")[:1]
            return Coalesce(Subquery(counted), Value(0))

        counts = {name: count(condition) for name, condition in self.risk_conditions(today).items()}
        return self.annotate(**counts, risk_next_due_task_id=Subquery(self._next_due_tasks().values("pk")[:1]))

    def _with_at_risk(self, today: dt.date):
        if "at_risk" in self.query.annotations:  # already there (risk_ordered)
            return self
        return self.annotate(
            at_risk=models.ExpressionWrapper(self.at_risk_q(today), output_field=models.BooleanField())
        )

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

    def at_risk_by_counts(self) -> bool:
        """``at_risk`` read from the counts of ``Run.objects.with_risk_counts(today)``: any of
        :attr:`RunQuerySet.AT_RISK_COUNTS` above zero, as :meth:`RunQuerySet.at_risk_q` tests in SQL."""
        return any(getattr(self, name) for name in RunQuerySet.AT_RISK_COUNTS)

    @property
    def risk_total(self) -> int:
        """Every unarchived task of a run annotated by ``Run.objects.with_risk``."""
        return self.risk_open + self.risk_resolved

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
        check_text_length(name, "name", limit=RunLink._meta.get_field("name").max_length)
        check_text_length(url, "url", limit=RunLink._meta.get_field("url").max_length)
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
