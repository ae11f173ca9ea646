"""The work engine: tasks, their history and proof, workflow templates and runs.

One object's behaviour is a model method (``task.complete(by=user)``); questions about many rows
are QuerySet methods (``Task.objects.open().overdue(today)``, ``Run.objects.with_risk(today)``).
Every refused operation raises :class:`workflows.errors.DomainError` with a stable code. The rules
themselves are described in ``docs/concepts.md`` and ``docs/task-states.md``.

One module per concern; every name is importable from ``workflows.models`` (migrations included).
"""

from .base import (
    ACTIONABLE_STATUSES,
    MAX_ESTIMATE_MINUTES,
    MAX_OFFSET_DAYS,
    MAX_TEMPLATE_TASKS,
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
    ScheduleState,
    TaskSource,
    TaskStatus,
    TriggerType,
    _default_trigger_timezone,
    check_estimate_minutes,
    check_text_length,
    portal_today,
)
from .proofs import (
    CONTAINER_MEMBERS,
    CONTENT_TYPE_EXTENSIONS,
    OLE_CONTAINER,
    SNIFF_BYTES,
    TEXT_CONTENT_TYPES,
    PrivateProofStorage,
    Proof,
    add_proof,
    checked_content_type,
    proof_upload_to,
    sniff_content_type,
)
from .runs import Run, RunLink, RunQuerySet
from .tasks import HOME_GROUPS, HOME_UPCOMING_DAYS, HomeState, Task, TaskComment, TaskDependency, TaskQuerySet
from .templates import TemplateTask, WorkflowTemplate, WorkflowTemplateQuerySet, find_dependency_cycle

__all__ = [
    "HOME_GROUPS",
    "HOME_UPCOMING_DAYS",
    "HomeState",
    "ACTIONABLE_STATUSES",
    "CONTAINER_MEMBERS",
    "CONTENT_TYPE_EXTENSIONS",
    "MAX_ESTIMATE_MINUTES",
    "MAX_OFFSET_DAYS",
    "MAX_TEMPLATE_TASKS",
    "MAX_TEXT_LENGTH",
    "NOT_A_PORTAL_MEMBER",
    "OLE_CONTAINER",
    "OPEN_STATUSES",
    "PRIORITY_RANK",
    "REQUIREMENT_FIELDS",
    "RESOLVED_STATUSES",
    "SNIFF_BYTES",
    "TEXT_CONTENT_TYPES",
    "CommentKind",
    "PrivateProofStorage",
    "Priority",
    "Proof",
    "ProofKind",
    "Run",
    "RunLink",
    "RunQuerySet",
    "RunStatus",
    "ScheduleState",
    "Task",
    "TaskComment",
    "TaskDependency",
    "TaskQuerySet",
    "TaskSource",
    "TaskStatus",
    "TemplateTask",
    "TriggerType",
    "WorkflowTemplate",
    "WorkflowTemplateQuerySet",
    "_default_trigger_timezone",
    "add_proof",
    "check_estimate_minutes",
    "check_text_length",
    "checked_content_type",
    "find_dependency_cycle",
    "portal_today",
    "proof_upload_to",
    "sniff_content_type",
]
