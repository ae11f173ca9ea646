"""Template endpoints: definitions, launching runs and cloning."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..filters import TemplateFilterSet
from ..inputs import StrictDateField
from ..models import (
    MAX_ESTIMATE_MINUTES,
    MAX_OFFSET_DAYS,
    MAX_TEMPLATE_TASKS,
    MAX_TEXT_LENGTH,
    Priority,
    TemplateTask,
    TriggerType,
    WorkflowTemplate,
    portal_today,
)
from .common import (
    PortalMemberField,
    StrictInputSerializer,
    _empty_as_none,
    filter_parameters,
    filtered,
    validated,
)
from .runs import RunSerializer, run_queryset

TEMPLATE_TASK_DEFAULTS: dict[str, Any] = {
    "instructions": "",
    "offset_days": 0,
    "assignee": None,
    "priority": Priority.NORMAL,
    "area": "",
    "depends_on": [],
    "requires_link": "",
    "requires_file": False,
    "requires_proof_note": False,
    "requires_run_links": [],
    "estimate_minutes": None,
}


class TemplateTaskSerializer(serializers.Serializer):
    """One task definition. In ``tasks`` every item is a complete definition: absent fields take
    their defaults (also in PATCH); a missing ``stage`` means the template's first stage."""

    ref = serializers.CharField(max_length=100, help_text="Stable key within the template.")
    title = serializers.CharField(max_length=300)
    instructions = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    stage = serializers.CharField(required=False, allow_blank=True, max_length=100)
    offset_days = serializers.IntegerField(
        required=False,
        min_value=-MAX_OFFSET_DAYS,
        max_value=MAX_OFFSET_DAYS,
        help_text="Due date = anchor date + offset.",
    )
    assignee = PortalMemberField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    area = serializers.CharField(required=False, allow_blank=True, max_length=100)
    depends_on = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    requires_link = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=200, help_text="Label or null."
    )
    requires_file = serializers.BooleanField(required=False)
    requires_proof_note = serializers.BooleanField(required=False)
    requires_run_links = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    estimate_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_ESTIMATE_MINUTES
    )

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown task field."] for name in unknown})
        values = super().to_internal_value(data)
        spec = {**TEMPLATE_TASK_DEFAULTS, **values}
        spec["requires_link"] = (spec["requires_link"] or "").strip()
        spec["depends_on"] = list(spec["depends_on"])
        spec["requires_run_links"] = list(spec["requires_run_links"])
        return spec

    def to_representation(self, task: TemplateTask) -> dict:
        return {
            "ref": task.ref,
            "title": task.title,
            "instructions": task.instructions,
            "stage": task.stage,
            "offset_days": task.offset_days,
            "assignee": task.assignee.username if task.assignee else None,
            "priority": task.priority,
            "area": task.area,
            "depends_on": list(task.depends_on or []),
            "requires_link": _empty_as_none(task.requires_link),
            "requires_file": task.requires_file,
            "requires_proof_note": task.requires_proof_note,
            "requires_run_links": list(task.requires_run_links or []),
            "estimate_minutes": task.estimate_minutes,
        }


class TemplateSerializer(StrictInputSerializer):
    """A workflow template with its trigger and task definitions (read and write)."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    category = serializers.CharField(required=False, allow_blank=True, max_length=100)
    stages = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    run_links = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    trigger_type = serializers.ChoiceField(choices=TriggerType.choices, required=False)
    trigger_schedule = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Five-field cron expression."
    )
    trigger_timezone = serializers.CharField(required=False, max_length=64, help_text="IANA time zone name.")
    trigger_lead_days = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET_DAYS)
    trigger_enabled = serializers.BooleanField(required=False)
    trigger_starts_on = StrictDateField(required=False, allow_null=True)
    catch_up = serializers.ChoiceField(choices=["latest", "all"], required=False)
    tasks = TemplateTaskSerializer(many=True, required=False, max_length=MAX_TEMPLATE_TASKS)
    schedule_description = serializers.SerializerMethodField()
    next_fire_times = serializers.SerializerMethodField()
    archived_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_schedule_description(self, template: WorkflowTemplate) -> str | None:
        schedule = _template_schedule(template)
        return schedule.explain() if schedule else None

    @extend_schema_field(serializers.ListField(child=serializers.DateTimeField()))
    def get_next_fire_times(self, template: WorkflowTemplate) -> list[str]:
        schedule = _template_schedule(template)
        if schedule is None or not template.schedule_active:
            return []
        field = serializers.DateTimeField()
        return [field.to_representation(t) for t in schedule.next_fire_times(timezone.now(), count=5)]


def _template_schedule(template: WorkflowTemplate):
    if not template.trigger_schedule:
        return None
    from recurring import cron  # the pure cron module

    try:
        return cron.compile_schedule(template.trigger_schedule, template.trigger_timezone or "UTC")
    except cron.CronError:
        return None


def template_queryset() -> QuerySet:
    return WorkflowTemplate.objects.prefetch_related(
        Prefetch("tasks", queryset=TemplateTask.objects.select_related("assignee").order_by("position", "ref"))
    )


class LaunchInputSerializer(serializers.Serializer):
    anchor_date = StrictDateField()


class CloneInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


@extend_schema_view(
    list=extend_schema(parameters=filter_parameters(TemplateFilterSet), summary="List templates"),
    retrieve=extend_schema(summary="One template with its task definitions"),
    create=extend_schema(summary="Create a template (dependency cycle → 400 dependency_cycle)"),
    partial_update=extend_schema(summary="Edit a template; without `tasks` its task definitions stay as they are"),
)
class TemplateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    http_method_names = ["get", "post", "patch", "head", "options"]
    serializer_class = TemplateSerializer
    # Nested task definitions only survive JSON: a form-encoded body would silently drop them.
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet:
        queryset = template_queryset()
        if self.action == "list":
            queryset = filtered(TemplateFilterSet, self.request, queryset)
        return queryset

    def _template(self, pk, *, status_code: int = status.HTTP_200_OK) -> Response:
        template = template_queryset().get(pk=pk)
        return Response(TemplateSerializer(template, context=self.get_serializer_context()).data, status=status_code)

    def _save(self, request: Request, template: WorkflowTemplate | None, *, partial: bool) -> WorkflowTemplate:
        if isinstance(request.data, dict) and isinstance(request.data.get("tasks"), list):
            services.check_task_count(request.data["tasks"])  # before each task is read
        data = dict(validated(TemplateSerializer, request.data, partial=partial))
        tasks = data.pop("tasks", None)
        return services.save_template(template=template, data=data, tasks=tasks, by=request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        template = self._save(request, None, partial=False)
        return self._template(template.pk, status_code=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        template = self._save(request, self.get_object(), partial=True)
        return self._template(template.pk)

    @extend_schema(
        request=LaunchInputSerializer,
        responses={201: RunSerializer, 200: RunSerializer},
        summary="Launch a run for an anchor date (201 new, 200 existing — missing tasks topped up)",
    )
    @action(detail=True, methods=["post"])
    def launch(self, request: Request, pk=None) -> Response:
        template = self.get_object()
        data = validated(LaunchInputSerializer, request.data)
        result = services.instantiate_run(template=template, anchor_date=data["anchor_date"], by=request.user)
        run = run_queryset(portal_today()).get(pk=result.run.pk)
        body = RunSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(
        request=CloneInputSerializer,
        responses={201: TemplateSerializer},
        summary="Clone a template (the clone starts manual)",
    )
    @action(detail=True, methods=["post"])
    def clone(self, request: Request, pk=None) -> Response:
        template = self.get_object()
        data = validated(CloneInputSerializer, request.data)
        clone = services.clone_template(template=template, name=data["name"], by=request.user)
        return self._template(clone.pk, status_code=status.HTTP_201_CREATED)
