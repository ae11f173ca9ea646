"""Tasks: the attention rules, the life cycle, dependencies and history."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from ..errors import DomainError
from .base import (
    ACTIONABLE_STATUSES,
    MAX_ESTIMATE_MINUTES,
    MAX_TEXT_LENGTH,
    NOT_A_PORTAL_MEMBER,
    OPEN_STATUSES,
    PRIORITY_RANK,
    REQUIREMENT_FIELDS,
    RESOLVED_STATUSES,
    CommentKind,
    Priority,
    ProofKind,
    RunStatus,
    TaskSource,
    TaskStatus,
    User,
    _as_date,
    _choices_check,
    _history_value,
    _person,
    check_estimate_minutes,
    check_text_length,
    object_path,
)
from .runs import Run, RunLink

if TYPE_CHECKING:
    from .proofs import Proof


#: Operations Home's groups in precedence order (``docs/home.md``).
HOME_GROUPS = ("follow_ups_due", "overdue", "missing_evidence", "today", "waiting", "upcoming")
#: How many days ahead Home's "upcoming" group looks.
HOME_UPCOMING_DAYS = 7
#: Home's order among tasks of one date (a group's date is the due date, or the follow-up date
#: for waiting work): ``Task.home_rank`` (priority, timed work first), then these.
HOME_ORDER_WITHIN_DATE = ("home_rank", "due_time", "title", "id")


class HomeState(models.IntegerChoices):
    """``Task.home_state``: the part of Home's rules a task's own row decides — open and not
    archived, split into the two kinds of open work Home's groups are made of. NULL for closed or
    archived work. The database computes it (a stored generated column), so every write keeps
    it true, bulk updates included."""

    ACTIONABLE = 1, "To do or in progress"
    WAITING = 2, "Waiting"


def _home_state_expression() -> models.Case:
    unarchived = Q(archived_at__isnull=True)
    return models.Case(
        models.When(unarchived & Q(status__in=ACTIONABLE_STATUSES), then=models.Value(HomeState.ACTIONABLE.value)),
        models.When(unarchived & Q(status=TaskStatus.WAITING), then=models.Value(HomeState.WAITING.value)),
        default=None,
        output_field=models.PositiveSmallIntegerField(null=True),
    )


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
    def evidence_missing_q() -> Q:
        """A proof or run-link requirement is unmet (whatever the status and date): a link
        requirement without a link proof of that label (equal ignoring case and surrounding
        blanks) or without a label; a file or note requirement without such a proof; a required
        run link still empty. Python's twin is ``Task.missing_requirements()``."""
        from .proofs import Proof  # proofs belong to tasks: imported when first needed

        proofs = Proof.objects.filter(task=OuterRef("pk"))
        # (iexact against a column would treat '%' and '_' in the label as wildcards.)
        link_proof = (
            proofs.filter(kind=ProofKind.LINK)
            .annotate(_label=Lower(Trim("label")))
            .filter(Q(_label=Lower(Trim(OuterRef("requires_link")))) | Q(_label=""))
        )
        unfilled_run_link = RunLink.objects.filter(requiring_tasks=OuterRef("pk"), url="")
        return (
            (~Q(requires_link="") & ~Exists(link_proof))
            | (Q(requires_file=True) & ~Exists(proofs.filter(kind=ProofKind.FILE)))
            | (Q(requires_proof_note=True) & ~Exists(proofs.filter(kind=ProofKind.NOTE)))
            | Exists(unfilled_run_link)
        )

    @staticmethod
    def missing_evidence_q(today: dt.date) -> Q:
        """Missing evidence: open, due ``today`` or earlier, with a proof or run-link requirement
        unmet (:meth:`evidence_missing_q`). The cheap column tests come first, so the database
        looks for proofs only for the tasks they let through."""
        return Q(status__in=OPEN_STATUSES, due_date__lte=today) & TaskQuerySet.evidence_missing_q()

    @staticmethod
    def mine_q(user) -> Q:
        """A person's work: assigned to them or to nobody (unassigned work is everyone's, as its
        notifications go to everyone). Home's "mine" scope, the task list and Start today."""
        return Q(assignee=user) | Q(assignee__isnull=True)

    @staticmethod
    def priority_rank() -> models.Case:
        """Urgent → low as 0–3 (unknown last), for ordering in SQL."""
        return models.Case(
            *[models.When(priority=value, then=models.Value(rank)) for value, rank in PRIORITY_RANK.items()],
            default=models.Value(len(PRIORITY_RANK)),
            output_field=models.IntegerField(),
        )

    @staticmethod
    def home_rank_expression() -> models.Expression:
        """Home's order among work of one date (``Task.home_rank``): by priority (:meth:`priority_rank`),
        work with a due time before work without (0 urgent with a time, 1 urgent without, 2 high
        with a time, …). Followed by the due time, title and id, it is Home's order within a
        date, and an index can hold it all (``task_home_due``): a time-less row's place no
        longer needs ``NULLS LAST``."""
        timeless = models.Case(
            models.When(due_time__isnull=True, then=models.Value(1)),
            default=models.Value(0),
            output_field=models.IntegerField(),
        )
        return TaskQuerySet.priority_rank() * models.Value(2) + timeless

    @staticmethod
    def home_group_q(name: str, today: dt.date) -> Q:
        """One of Operations Home's groups (``docs/home.md``) as a condition: the rules above,
        with their status part read from ``home_state`` (open, unarchived work is all Home
        lists), so that each group is one range of the index on ``home_state`` and its date
        (``task_home_due``, ``task_home_follow_up``), counted and read in order without sorting
        the group. The groups exclude each other — precedence is written into them."""
        actionable = Q(home_state=HomeState.ACTIONABLE)
        waiting = Q(home_state=HomeState.WAITING)
        due_today = TaskQuerySet.home_due_today_q(today)
        if name == "follow_ups_due":  # follow_ups_due_q
            return waiting & Q(follow_up_at__lte=today)
        if name == "overdue":  # overdue_q
            return actionable & Q(due_date__lt=today)
        if name == "missing_evidence":
            # missing_evidence_q; overdue work is in the group above, so what is left of the rule
            # is work due today.
            return due_today & TaskQuerySet.evidence_missing_q()
        if name == "today":
            return due_today & ~TaskQuerySet.evidence_missing_q()
        if name == "waiting":
            return waiting & Q(follow_up_at__gt=today)
        if name == "upcoming":
            return actionable & Q(due_date__gt=today, due_date__lte=today + dt.timedelta(days=HOME_UPCOMING_DAYS))
        raise ValueError(f"group must be one of {', '.join(HOME_GROUPS)}")

    @staticmethod
    def home_due_today_q(today: dt.date) -> Q:
        """Work due ``today`` on Home, with or without missing evidence: Home's
        ``missing_evidence`` and ``today`` groups together (they split it)."""
        return Q(home_state=HomeState.ACTIONABLE, due_date=today)

    @staticmethod
    def home_group_qs(today: dt.date) -> dict[str, Q]:
        """Every Home group's condition (:meth:`home_group_q`), in precedence order."""
        return {name: TaskQuerySet.home_group_q(name, today) for name in HOME_GROUPS}

    # ---- filters ---------------------------------------------------------------------------
    def in_home_group(self, name: str, today: dt.date):
        """Tasks of one Operations Home group on ``today``."""
        return self.on_home().filter(self.home_group_q(name, today))

    def in_any_home_group(self, today: dt.date):
        """Tasks Operations Home lists on ``today``, in whichever group, with the flags of
        :meth:`with_flags`."""
        queryset = self.on_home().with_flags()
        listed = Q()
        for condition in self.home_group_qs(today).values():
            listed |= condition
        return queryset.filter(listed)

    def in_scope(self, scope: str, user):
        """Home's and the task list's scope: ``mine`` is :meth:`mine_q` of ``user``, ``all`` is
        everyone's work."""
        return self.filter(self.mine_q(user)) if scope == "mine" else self

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
        return self.filter(self.missing_evidence_q(today))

    def on_home(self):
        """Open, unarchived work that belongs on Operations Home: tasks of paused or cancelled
        runs leave it; tasks of paused or archived recurring configs stay (they are real work).
        Open and unarchived is ``home_state`` set."""
        return self.filter(home_state__isnull=False).filter(Q(run__isnull=True) | Q(run__status=RunStatus.ACTIVE))

    def with_flags(self):
        """Annotate ``is_blocked`` (an open prerequisite) and ``evidence_missing`` (a proof or
        run-link requirement unmet) in SQL."""
        return self.with_blocked().with_evidence_missing()

    @staticmethod
    def blocked_q() -> Q:
        """Blocked: the task has an open prerequisite. Python's twin is
        ``Task.open_prerequisites()``."""
        return Q(Exists(TaskDependency.objects.filter(task=OuterRef("pk"), depends_on__status__in=OPEN_STATUSES)))

    def with_blocked(self):
        """Annotate ``is_blocked`` (:meth:`blocked_q`)."""
        if "is_blocked" in self.query.annotations:
            return self
        return self.annotate(is_blocked=models.ExpressionWrapper(self.blocked_q(), output_field=models.BooleanField()))

    def next_due(self):
        """Candidates for a run's next due task, first one first: open, unarchived (``home_state``
        set), unblocked, by due date, due time and title — the order of ``task_run_next_due``,
        so a run's first candidates are read in order, not sorted."""
        return self.filter(home_state__isnull=False).exclude(self.blocked_q()).order_by("due_date", "due_time", "title")

    @staticmethod
    def listing_prefetches(*relations: str) -> list[Prefetch]:
        """Load what a list of tasks shows of its rows' proofs, required run links and
        prerequisites (``is_blocked``, ``evidence_missing``, the missing requirements' names) as
        plain lists (:attr:`Task.LISTED`), all three unless ``relations`` names some: a query
        each for any number of tasks."""
        from .proofs import Proof  # proofs belong to tasks: imported when first needed

        rows = {
            "proofs": Proof.objects.only("id", "task_id", "kind", "label"),
            "required_run_links": RunLink.objects.all(),
            "dependencies": Task.objects.only("id", "status", "title"),
        }
        return [
            Prefetch(relation, queryset=rows[relation], to_attr=Task.LISTED[relation])
            for relation in relations or Task.LISTED
        ]

    def with_evidence_missing(self):
        """Annotate ``evidence_missing`` (:meth:`evidence_missing_q`)."""
        if "evidence_missing" in self.query.annotations:
            return self
        return self.annotate(
            evidence_missing=models.ExpressionWrapper(self.evidence_missing_q(), output_field=models.BooleanField())
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
    # For queries (HomeState): an instance keeps the value it was loaded with, as Django reads
    # generated fields back after an insert but not after an update.
    home_state = models.GeneratedField(
        expression=_home_state_expression(),
        output_field=models.PositiveSmallIntegerField(null=True, choices=HomeState.choices),
        db_persist=True,
    )
    # A task's place among work of the same date on Home (TaskQuerySet.home_rank_expression),
    # stored so that Home's indexes hold its whole order.
    home_rank = models.GeneratedField(
        expression=TaskQuerySet.home_rank_expression(),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )

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
            # Operations Home and the task list read a group's first rows along these (its home
            # state, then its whole order: date, HOME_ORDER_WITHIN_DATE) instead of sorting the
            # group, and count a group from the index alone (it holds the person and the run the
            # scope and Home test).
            models.Index(
                fields=["home_state", "due_date", *HOME_ORDER_WITHIN_DATE, "assignee", "run"],
                condition=Q(home_state__isnull=False),
                name="task_home_due",
            ),
            models.Index(
                fields=["home_state", "follow_up_at", *HOME_ORDER_WITHIN_DATE, "assignee", "run"],
                condition=Q(home_state__isnull=False),
                name="task_home_follow_up",
            ),
            models.Index(fields=["due_date", "id"], name="task_list_due_id"),
            # A run's risk counts (RunQuerySet.with_risk) read its tasks' status and dates here,
            # and what the blocked and missing-evidence rules test of the task itself (its id
            # for the prerequisites and proofs, its requirements), so no count reads a table row.
            models.Index(
                fields=["run", "status", "due_date", "follow_up_at", "id", *REQUIREMENT_FIELDS],
                condition=Q(archived_at__isnull=True),
                name="task_run_status_due",
            ),
            # A run's next due task (TaskQuerySet.next_due) is the first unblocked one along this.
            models.Index(
                fields=["run", "due_date", "due_time", "title"],
                condition=Q(home_state__isnull=False),
                name="task_run_next_due",
            ),
            # Start today's "resolved today" reads the day's completions and skips along these.
            models.Index(fields=["status", "completed_at"], name="task_status_completed"),
            models.Index(fields=["status", "updated_at"], name="task_status_updated"),
            # A person's streak reads a year of due dates, keeping their own tasks. (Led by the
            # person, it would lure SQLite into reading someone's whole history for Home.)
            models.Index(fields=["due_date", "assignee"], name="task_due_assignee"),
            # Typical durations (workflows/history.py) read a duty's timed completions here.
            models.Index(
                fields=["recurring_config", "completed_at"],
                condition=Q(status=TaskStatus.DONE, started_at__isnull=False),
                name="task_typical_config",
            ),
            models.Index(
                fields=["run", "completed_at"],
                condition=Q(status=TaskStatus.DONE, started_at__isnull=False),
                name="task_typical_run",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return object_path("task-detail", self.pk)

    def home_actions_url(self) -> str:
        """Where a Home row loads its actions from (``docs/home.md``)."""
        return object_path("task-home-actions", self.pk)

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

    #: Related rows a selector can load onto many tasks at once as plain lists
    #: (:meth:`TaskQuerySet.listing_prefetches`): relation → attribute. A list costs nothing per
    #: task, where a prefetched relation builds a related manager and a queryset for each.
    LISTED = {
        "proofs": "listed_proofs",
        "required_run_links": "listed_run_links",
        "dependencies": "listed_dependencies",
    }

    def _related(self, relation: str) -> list:
        """The rows of ``relation``: the list a selector loaded, else the (prefetched) relation."""
        listed = self.__dict__.get(self.LISTED[relation])
        return listed if listed is not None else list(getattr(self, relation).all())

    def refresh_from_db(self, *args, **kwargs) -> None:
        """Also drops the lists a selector loaded (:attr:`LISTED`), as Django drops prefetches."""
        super().refresh_from_db(*args, **kwargs)
        self.forget_loaded_related()

    def forget_loaded_related(self, *relations: str) -> None:
        """Drop loaded rows of ``relations``, prefetched or listed, so the next read sees the
        database; with none named, every prefetch and every list."""
        if not relations:
            self.__dict__.pop("_prefetched_objects_cache", None)
        cache = self.__dict__.get("_prefetched_objects_cache", {})
        for relation in relations or self.LISTED:
            cache.pop(relation, None)
            self.__dict__.pop(self.LISTED[relation], None)

    def _proofs(self) -> list[Proof]:
        return self._related("proofs")

    def _run_links_required(self) -> list[RunLink]:
        # Only run tasks can require run links: spare the query for every other task.
        if not self.run_id:
            return []
        return sorted(self._related("required_run_links"), key=lambda link: link.name)

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
        return [dep for dep in self._related("dependencies") if dep.status in OPEN_STATUSES]

    @property
    def skipped_prerequisites(self) -> list[Task]:
        return [dep for dep in self._related("dependencies") if dep.status == TaskStatus.SKIPPED]

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
        self.forget_loaded_related()

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
        from ..inputs import check_plain_text
        from ..members import members

        for name, value in changes.items():
            check_plain_text(value, name)
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
