"""``GET /api/v1/today/`` (Start today) and ``GET /api/v1/insights/``: the same selectors as the
pages (``portal.today``, ``portal.insights``)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.api import QueryFilterSerializer, validated
from workflows.api.runs import ProgressSerializer
from workflows.inputs import StrictDateField
from workflows.models import portal_today

from .insights import MAX_DAYS, MIN_DAYS, insights
from .today import start_today


class TodayQuerySerializer(QueryFilterSerializer):
    common_params = frozenset({"format"})

    date = StrictDateField(required=False, help_text="The day (default: today in the portal's time zone).")


class QueueTaskSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    due_date = serializers.DateField()
    due_time = serializers.TimeField(allow_null=True)
    priority = serializers.CharField()
    status = serializers.CharField()
    follow_up_at = serializers.DateField(allow_null=True)
    source_label = serializers.CharField()
    blocked = serializers.BooleanField(source="is_blocked", help_text="An open prerequisite holds it back.")
    typical_minutes = serializers.IntegerField(
        allow_null=True, help_text="Median of recent occurrences when there are 3 or more, else its own estimate."
    )
    typical_from_history = serializers.BooleanField()


class TodaySerializer(serializers.Serializer):
    date = serializers.DateField()
    queue = QueueTaskSerializer(many=True)
    progress = ProgressSerializer()
    expected_minutes = serializers.IntegerField()
    streak = serializers.IntegerField()


class TodayView(APIView):
    """The requesting user's queue for a day (assigned to them or unassigned), in the order Start
    today walks it, with progress, the expected time left and the streak (docs/home.md)."""

    @extend_schema(parameters=[TodayQuerySerializer], responses={200: TodaySerializer}, summary="Start today")
    def get(self, request: Request) -> Response:
        query = validated(TodayQuerySerializer, request.query_params)
        data = start_today(user=request.user, today=query.get("date") or portal_today())
        return Response(TodaySerializer(data).data)


class InsightsQuerySerializer(QueryFilterSerializer):
    common_params = frozenset({"format"})

    days = serializers.IntegerField(
        required=False, default=30, min_value=MIN_DAYS, max_value=MAX_DAYS, help_text="The period: the last N days."
    )


class WeekSerializer(serializers.Serializer):
    week_start = serializers.DateField()
    on_time = serializers.IntegerField()
    late = serializers.IntegerField()
    missed = serializers.IntegerField()


class DutyInsightSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    due = serializers.IntegerField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    open = serializers.IntegerField()
    completion_rate = serializers.FloatField(allow_null=True, help_text="done / due, 0–1; null when nothing was due")
    on_time_rate = serializers.FloatField(allow_null=True, help_text="done on time / done, 0–1; null when none done")
    median_minutes_to_complete = serializers.IntegerField(allow_null=True)
    median_days_late = serializers.FloatField(allow_null=True)
    weeks = WeekSerializer(many=True)


class InsightsSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    configs = DutyInsightSerializer(many=True)
    templates = DutyInsightSerializer(many=True)


class InsightsView(APIView):
    """Per recurring config and per workflow template, over the tasks due in the last ``days``
    days: counts, completion and on-time rates, medians and weeks (docs/home.md)."""

    @extend_schema(parameters=[InsightsQuerySerializer], responses={200: InsightsSerializer}, summary="Insights")
    def get(self, request: Request) -> Response:
        query = validated(InsightsQuerySerializer, request.query_params)
        return Response(InsightsSerializer(insights(today=portal_today(), days=query["days"])).data)


urlpatterns = [
    path("today/", TodayView.as_view(), name="api-today"),
    path("insights/", InsightsView.as_view(), name="api-insights"),
]
