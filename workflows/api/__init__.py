"""REST API for tasks, workflow templates and runs (see ``docs/api.md``).

Views are thin: they validate the shape of the input, call the work engine (task transitions,
``add_proof``, ``services.save_template`` / ``clone_template`` / ``instantiate_run``, run
pause/resume/cancel/fill_link) and render the result. Every refusal is a ``DomainError`` that
``portal.api.exception_handler`` turns into ``{"code", "detail", ...}``. Schedule generation of
templates (``/templates/{id}/generate/``) lives with the scheduler in ``recurring/api.py``.
"""

from rest_framework.routers import SimpleRouter

from .common import (
    COMMON_QUERY_PARAMS,
    TASK_ACTIONS,
    CommaSeparatedChoiceField,
    DateQuerySerializer,
    PortalMemberField,
    QueryFilterSerializer,
    StrictInputSerializer,
    filter_parameters,
    filtered,
    query_date,
    validated,
)
from .runs import (
    RiskSerializer,
    RunSerializer,
    RunViewSet,
    TemplateRefSerializer,
    run_queryset,
    run_risk,
)
from .tasks import (
    ConfigRefSerializer,
    ProofSerializer,
    RunRefSerializer,
    TaskDetailSerializer,
    TaskSerializer,
    TaskViewSet,
    task_queryset,
)
from .templates import TemplateSerializer, TemplateViewSet, template_queryset

__all__ = [
    "COMMON_QUERY_PARAMS",
    "TASK_ACTIONS",
    "CommaSeparatedChoiceField",
    "ConfigRefSerializer",
    "DateQuerySerializer",
    "PortalMemberField",
    "ProofSerializer",
    "QueryFilterSerializer",
    "RiskSerializer",
    "RunRefSerializer",
    "RunSerializer",
    "RunViewSet",
    "StrictInputSerializer",
    "TaskDetailSerializer",
    "TaskSerializer",
    "TaskViewSet",
    "TemplateRefSerializer",
    "TemplateSerializer",
    "TemplateViewSet",
    "filter_parameters",
    "filtered",
    "query_date",
    "run_queryset",
    "run_risk",
    "task_queryset",
    "template_queryset",
    "validated",
]

router = SimpleRouter(trailing_slash=True)
router.register("tasks", TaskViewSet, basename="api-task")
router.register("templates", TemplateViewSet, basename="api-template")
router.register("runs", RunViewSet, basename="api-run")

urlpatterns = router.urls
