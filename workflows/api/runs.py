"""Run endpoints: risk, links, pause, resume and cancel."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ..filters import RunFilterSet
from ..models import (
    MAX_TEXT_LENGTH,
    Run,
    RunLink,
    Task,
    portal_today,
)
from .common import (
    OptionalURLField,
    filter_parameters,
    query_date,
    validated,
)


class RunTaskSerializer(serializers.Serializer):
    """A run's task in brief (flags from ``Task.objects.with_flags()``)."""

    id = serializers.UUIDField()
    ref = serializers.CharField(source="template_task_ref")
    title = serializers.CharField()
    stage = serializers.CharField()
    status = serializers.CharField()
    due_date = serializers.DateField()
    assignee = serializers.CharField(source="assignee.username", read_only=True, allow_null=True)
    waiting_for = serializers.CharField()
    follow_up_at = serializers.DateField(allow_null=True)
    is_blocked = serializers.BooleanField()
    evidence_missing = serializers.BooleanField()


class NextDueTaskSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    due_date = serializers.DateField()
    status = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    resolved = serializers.IntegerField()
    total = serializers.IntegerField()


class RiskSerializer(serializers.Serializer):
    overdue = serializers.IntegerField()
    waiting = serializers.IntegerField()
    follow_ups_due = serializers.IntegerField()
    missing_evidence = serializers.IntegerField()
    blocked = serializers.IntegerField()
    next_due_task = NextDueTaskSerializer(allow_null=True)
    at_risk = serializers.BooleanField()
    progress = ProgressSerializer()


class RunLinkSerializer(serializers.ModelSerializer):
    filled = serializers.BooleanField(source="is_filled", read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    url = OptionalURLField(help_text="The filled URL; empty until it is filled.")

    class Meta:
        model = RunLink
        fields = ["name", "url", "filled", "updated_by", "updated_at"]
        read_only_fields = fields


class TemplateRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


def run_risk(run: Run, next_due_task: Task | None) -> dict:
    """The risk card of a run annotated by ``Run.objects.with_risk(today)``, with its next due
    task spelled out (id, title, due date, status) instead of a bare id."""
    risk = run.risk()
    task = next_due_task
    risk["next_due_task"] = (
        {"id": task.pk, "title": task.title, "due_date": task.due_date, "status": task.status} if task else None
    )
    return risk


#: One serializer for every run's risk (one per run would deep-copy its fields each time).
_RISK = RiskSerializer()


class RunSerializer(serializers.ModelSerializer):
    """A run with its links, tasks and risk. Expects :func:`run_queryset`."""

    template = serializers.SerializerMethodField()
    stages = serializers.SerializerMethodField()
    links = RunLinkSerializer(many=True, read_only=True)
    risk = serializers.SerializerMethodField()
    tasks = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "title",
            "template",
            "anchor_date",
            "trigger_date",
            "status",
            "current_stage",
            "stages",
            "cancel_reason",
            "links",
            "risk",
            "tasks",
            "created_at",
            "updated_at",
            "completed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(TemplateRefSerializer)
    def get_template(self, run: Run) -> dict:
        return {"id": run.template_id, "name": run.template.name}

    def get_stages(self, run: Run) -> list[str]:
        return list(run.template.stages or [])

    @extend_schema_field(RiskSerializer)
    def get_risk(self, run: Run) -> dict:
        by_id = {task.pk: task for task in run.tasks.all()}
        return _RISK.to_representation(run_risk(run, by_id.get(run.risk_next_due_task_id)))

    @extend_schema_field(RunTaskSerializer(many=True))
    def get_tasks(self, run: Run) -> list[dict]:
        return RunTaskSerializer(run.tasks.all(), many=True).data


def run_queryset(today: dt.date) -> QuerySet:
    """Runs annotated with their risk for ``today``, with links and (unarchived) tasks."""
    tasks = (
        Task.objects.not_archived()
        .with_flags()
        .select_related("assignee")
        .order_by("due_date", "due_time", "title", "id")
    )
    return (
        Run.objects.with_risk(today)
        .select_related("template")
        .prefetch_related(
            Prefetch("links", queryset=RunLink.objects.select_related("updated_by").order_by("name")),
            Prefetch("tasks", queryset=tasks),
        )
    )


class RunLinkInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    url = serializers.CharField(max_length=2000, allow_blank=True)


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")


_DATE_PARAM = OpenApiParameter("date", OpenApiTypes.DATE, description="Evaluate risk for this day (default: today).")


@extend_schema_view(
    list=extend_schema(parameters=filter_parameters(RunFilterSet), summary="List runs with risk"),
    retrieve=extend_schema(parameters=[_DATE_PARAM], summary="One run with tasks and risk"),
)
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RunSerializer

    def get_queryset(self) -> QuerySet:
        if self.action == "list":
            filters = RunFilterSet(self.request.query_params, queryset=Run.objects.all())
            runs = filters.filtered()
            day = filters.form.cleaned_data.get("date") or portal_today()
            return run_queryset(day).filter(pk__in=runs.values("pk")).order_by("-anchor_date", "title", "id")
        if self.action == "retrieve":
            return run_queryset(query_date(self.request))
        # Actions work on the run itself and re-read it with its risk for the answer.
        return Run.objects.select_related("template")

    def _run(self, pk, *, status_code: int = status.HTTP_200_OK) -> Response:
        run = run_queryset(query_date(self.request)).get(pk=pk)
        return Response(RunSerializer(run, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(
        request=RunLinkInputSerializer, responses={200: RunSerializer}, summary="Fill one of the run's links"
    )
    @action(detail=True, methods=["post"])
    def links(self, request: Request, pk=None) -> Response:
        run = self.get_object()
        data = validated(RunLinkInputSerializer, request.data)
        run.fill_link(name=data["name"], url=data["url"], by=request.user)
        return self._run(run.pk)

    @extend_schema(request=None, responses={200: RunSerializer}, summary="Pause (its tasks leave Home)")
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk=None) -> Response:
        run = self.get_object()
        run.pause(by=request.user)
        return self._run(run.pk)

    @extend_schema(request=None, responses={200: RunSerializer}, summary="Resume a paused run")
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk=None) -> Response:
        run = self.get_object()
        run.resume(by=request.user)
        return self._run(run.pk)

    @extend_schema(request=CancelInputSerializer, responses={200: RunSerializer}, summary="Cancel (reason required)")
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        run = self.get_object()
        data = validated(CancelInputSerializer, request.data)
        run.cancel(reason=data["reason"], by=request.user)
        return self._run(run.pk)
