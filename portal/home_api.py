"""``GET /api/v1/home/``: Operations Home as JSON, from the same selector as the HTML page."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.api import (
    ConfigRefSerializer,
    QueryFilterSerializer,
    RiskSerializer,
    RunRefSerializer,
    TemplateRefSerializer,
    run_risk,
    validated,
)
from workflows.inputs import StrictDateField
from workflows.models import Run, Task, portal_today

from .selectors import DEFAULT_GROUP_LIMIT, HOME_GROUPS, SCOPES, HomeData, operations_home

MAX_GROUP_LIMIT = 500


class HomeQuerySerializer(QueryFilterSerializer):
    common_params = frozenset({"format"})

    # Bounded by the portal's calendar (docs/api.md), like every date the portal reads.
    date = StrictDateField(required=False, help_text="The day to look at (default: today).")
    scope = serializers.ChoiceField(
        choices=SCOPES, required=False, default="all", help_text="mine = assigned to me or to nobody."
    )
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_GROUP_LIMIT,
        min_value=0,
        max_value=MAX_GROUP_LIMIT,
        help_text="At most this many tasks per group (counts are always complete).",
    )


class HomeTaskSerializer(serializers.Serializer):
    """One row of a Home group: what the operator needs to decide and act."""

    id = serializers.UUIDField()
    title = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.CharField()
    due_date = serializers.DateField()
    due_time = serializers.TimeField(allow_null=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True, allow_null=True)
    area = serializers.CharField()
    source = serializers.CharField()
    source_label = serializers.CharField()
    recurring_config = ConfigRefSerializer(read_only=True, allow_null=True)
    run = RunRefSerializer(read_only=True, allow_null=True)
    stage = serializers.CharField()
    waiting_for = serializers.CharField()
    follow_up_at = serializers.DateField(allow_null=True)
    days_overdue = serializers.IntegerField()
    is_blocked = serializers.BooleanField()
    evidence_missing = serializers.BooleanField()
    missing_requirements = serializers.SerializerMethodField()

    def get_missing_requirements(self, task: Task) -> list[str]:
        return task.missing_requirements()

    def to_representation(self, task: Task) -> dict:
        """The fields above, written out: going field by field through the generic path cost
        several times more per row (a test holds both to the same output)."""
        config, run = task.recurring_config, task.run
        return {
            "id": str(task.pk),
            "title": task.title,
            "status": task.status,
            "priority": task.priority,
            "due_date": task.due_date.isoformat(),
            "due_time": _iso(task.due_time),
            "assignee": task.assignee.username if task.assignee_id else None,
            "area": task.area,
            "source": task.source,
            "source_label": task.source_label,
            "recurring_config": {"id": str(config.pk), "title": config.title} if config else None,
            "run": {"id": str(run.pk), "title": run.title, "status": run.status} if run else None,
            "stage": task.stage,
            "waiting_for": task.waiting_for,
            "follow_up_at": _iso(task.follow_up_at),
            "days_overdue": task.days_overdue,
            "is_blocked": bool(task.is_blocked),
            "evidence_missing": bool(task.evidence_missing),
            "missing_requirements": self.get_missing_requirements(task),
        }


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()


class HomeGroupsSerializer(serializers.Serializer):
    follow_ups_due = HomeTaskSerializer(many=True)
    overdue = HomeTaskSerializer(many=True)
    missing_evidence = HomeTaskSerializer(many=True)
    today = HomeTaskSerializer(many=True)
    waiting = HomeTaskSerializer(many=True)
    upcoming = HomeTaskSerializer(many=True)


class HomeCountsSerializer(serializers.Serializer):
    follow_ups_due = serializers.IntegerField()
    overdue = serializers.IntegerField()
    missing_evidence = serializers.IntegerField()
    today = serializers.IntegerField()
    waiting = serializers.IntegerField()
    upcoming = serializers.IntegerField()


#: One serializer for every card's risk: building a serializer per card (its fields are deep-copied
#: each time) cost more than the risk itself on a page of 300 runs.
_RISK = RiskSerializer()


class RiskCardSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    template = serializers.SerializerMethodField()
    anchor_date = serializers.DateField()
    status = serializers.CharField()
    current_stage = serializers.CharField()
    risk = serializers.SerializerMethodField()

    @extend_schema_field(TemplateRefSerializer)
    def get_template(self, run: Run) -> dict:
        return {"id": run.template_id, "name": run.template.name}

    @extend_schema_field(RiskSerializer)
    def get_risk(self, run: Run) -> dict:
        return _RISK.to_representation(run_risk(run, run.next_due_task))


class ScheduleRefSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="recurring or template")
    id = serializers.UUIDField()
    title = serializers.CharField()


class AutomationFailureSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The latest failed generation run of this schedule and window.")
    schedule = serializers.SerializerMethodField()
    window_date = serializers.DateField(source="failed_window", allow_null=True)
    error = serializers.CharField()
    trigger = serializers.CharField()
    at = serializers.DateTimeField()
    started_at = serializers.DateTimeField()
    attempts = serializers.IntegerField()

    @extend_schema_field(ScheduleRefSerializer)
    def get_schedule(self, failure) -> dict:
        if failure.recurring_config_id:
            return {"kind": "recurring", "id": failure.recurring_config_id, "title": failure.recurring_config.title}
        return {"kind": "template", "id": failure.template_id, "title": failure.template.name}


class HomeSerializer(serializers.Serializer):
    date = serializers.DateField()
    scope = serializers.CharField()
    groups = serializers.SerializerMethodField()
    counts = HomeCountsSerializer()
    runs = RiskCardSerializer(many=True)
    automation_failures = AutomationFailureSerializer(many=True)

    @extend_schema_field(HomeGroupsSerializer)
    def get_groups(self, home: HomeData) -> dict:
        return {name: HomeTaskSerializer(home.groups[name], many=True).data for name in HOME_GROUPS}


class HomeView(APIView):
    """Operations Home (``docs/home.md``): each open task in exactly one group, risk cards for active
    runs (at-risk first) and unacknowledged automation failures."""

    @extend_schema(parameters=[HomeQuerySerializer], responses={200: HomeSerializer}, summary="Operations Home")
    def get(self, request: Request) -> Response:
        query = validated(HomeQuerySerializer, request.query_params)
        home = operations_home(
            today=query.get("date") or portal_today(),
            user=request.user,
            scope=query["scope"],
            limit=query["limit"],
        )
        return Response(HomeSerializer(home).data)


urlpatterns = [path("home/", HomeView.as_view(), name="api-home")]
