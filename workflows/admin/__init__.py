"""Admin of the work engine — and the conventions every admin of the portal follows.

Conventions (other apps' admins import them from here, the core):

* Admin changes go through the domain code (``workflows.services``, the task and run methods);
  a :class:`DomainError` becomes an admin error message or a form error, never a 500.
* Task status never changes by editing a field: the transitions are admin actions. A task's
  plain fields are edited by ``Task.edit`` (one "Edited …" history entry), after the same checks
  the API makes (``Task.check_edit``).
* Work is assigned only to active portal members (:class:`AssigneeChoicesMixin`).
* Objects that carry history are never hard-deleted: the delete page and the bulk "delete
  selected" action refuse with an explanation and point to archiving (:class:`DeletionRefusalMixin`).
* Actions that need input (a reason, a date, a note) show an intermediate form page
  (:func:`form_action`); actions on many objects report each refusal by name (:func:`apply_to_each`).
* List pages use a constant number of queries: related rows through ``list_select_related``,
  counts and flags as annotations.
"""

from .conventions import (
    APPLY_FIELD,
    LISTED_OBJECTS,
    ArchivedFilter,
    AssigneeChoicesMixin,
    DeletionRefusalMixin,
    DomainErrorMessagesMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    admin_link,
    apply_to_each,
    changelist_url,
    form_action,
    render_action_form,
)
from .runs import RunAdmin, RunRiskFilter
from .tasks import ProofAdmin, TaskAdmin, TaskAttentionFilter, TaskCommentAdmin
from .templates import TemplateTaskAdmin, WorkflowTemplateAdmin

__all__ = [
    "APPLY_FIELD",
    "LISTED_OBJECTS",
    "ArchivedFilter",
    "AssigneeChoicesMixin",
    "DeletionRefusalMixin",
    "DomainErrorMessagesMixin",
    "ProofAdmin",
    "ReadOnlyAdminMixin",
    "ReadOnlyInline",
    "RunAdmin",
    "RunRiskFilter",
    "TaskAdmin",
    "TaskAttentionFilter",
    "TaskCommentAdmin",
    "TemplateTaskAdmin",
    "WorkflowTemplateAdmin",
    "admin_link",
    "apply_to_each",
    "changelist_url",
    "form_action",
    "render_action_form",
]
