"""REST API of recurring duties and the automation's history (SPEC §9.1).

Thin views over ``recurring.services``: everything a request triggers (saving, pausing,
generating, backfilling) runs synchronously inside the request, so the tasks, runs, generation
runs and notifications exist when the response returns. Lists annotate their derived columns
(generated count, last run) in SQL, so their cost in queries never depends on their length.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from workflows.errors import DomainError
from workflows.models import Task, WorkflowTemplate

from . import cron, services
from .models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig

NEXT_FIRE_TIMES = 5
# Strictly ``YYYY-MM-DD``: ``date.fromisoformat`` also takes ``20261101`` and ``2026-W47-1``.
DATE_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Dates past this year are refused before they reach the scheduler: no duty runs that far ahead,
# and fire-time arithmetic near ``date.max`` has no room left.
MAX_YEAR = 9000


# --------------------------------------------------------------------------------------------
# Shared reading of schedules
# --------------------------------------------------------------------------------------------


def upcoming_fire_times(config: RecurringConfig, *, after: dt.datetime, count: int = NEXT_FIRE_TIMES) -> list:
    """The schedule's next ``count`` fire times after ``after`` (aware datetimes in the schedule's
    zone), never before ``starts_on``. Shown whether or not the config is paused: it is what the
    schedule means, not a promise that work will be created."""
    try:
        schedule = cron.compile_schedule(config.cron_expression, config.timezone)
    except cron.CronError:
        return []
    if config.starts_on:
        # Fire times of window D fall on local date D, so starting just before D's midnight keeps
        # windows before starts_on out.
        start_of_first_window = dt.datetime.combine(config.starts_on, dt.time.min, tzinfo=config.zone)
        after = max(after, start_of_first_window - dt.timedelta(seconds=1))
    return [fire.astimezone(config.zone) for fire in schedule.next_fire_times(after, count=count)]


def schedule_description(expression: str) -> str:
    try:
        return cron.explain(expression)
    except cron.CronError as exc:
        return f"Invalid schedule: {exc}"


def configs_with_history(queryset: QuerySet | None = None) -> QuerySet:
    """Configs annotated with ``generated_count`` (one subquery) and their latest real
    generation run prefetched as ``latest_runs`` (one query for the whole page)."""
    queryset = RecurringConfig.objects.all() if queryset is None else queryset
    generated = (
        Task.objects.filter(recurring_config=OuterRef("pk"))
        .order_by()
        .values("recurring_config")
        .annotate(n=Count("pk"))
        .values("n")
    )
    latest = GenerationRun.objects.filter(dry_run=False).order_by("-started_at", "-at")[:1]
    return (
        queryset.select_related("assignee")
        .annotate(generated_count=Coalesce(Subquery(generated, output_field=IntegerField()), Value(0)))
        .prefetch_related(Prefetch("generation_runs", queryset=latest, to_attr="latest_runs"))
    )


def last_run_of(config: RecurringConfig) -> GenerationRun | None:
    runs = getattr(config, "latest_runs", None)
    if runs is None:
        return config.generation_runs.filter(dry_run=False).order_by("-started_at", "-at").first()
    return runs[0] if runs else None


# --------------------------------------------------------------------------------------------
# Input parsing with specific error codes
# --------------------------------------------------------------------------------------------


def strict_date(text: str) -> dt.date:
    """``text`` as a date when it is exactly ``YYYY-MM-DD`` and a real date; ValueError otherwise."""
    if not DATE_FORMAT.fullmatch(text):
        raise ValueError(text)
    return dt.date.fromisoformat(text)


def parse_date(value: Any, name: str) -> dt.date:
    """A ``YYYY-MM-DD`` date, or a 400 naming the field (``validation_error`` when missing or
    after year ``MAX_YEAR``, ``invalid_date`` when malformed)."""
    if value in (None, ""):
        raise DomainError("validation_error", f"{name} is required (YYYY-MM-DD).", field=name)
    text = str(value).strip() if isinstance(value, str) else None
    try:
        if text is None:
            raise ValueError(value)
        day = strict_date(text)
    except ValueError:
        raise DomainError("invalid_date", f"{name}: '{value}' is not a date in YYYY-MM-DD form.", field=name)
    if day.year > MAX_YEAR:
        raise DomainError("validation_error", f"{name}: {text} is too far ahead (year {MAX_YEAR} at most).", field=name)
    return day


def parse_bool(value: Any, name: str, *, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise DomainError("validation_error", f"{name} must be true or false; got '{value}'.", field=name)


def parse_uuid(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("validation_error", f"{name}: '{value}' is not a valid id.", field=name)


# --------------------------------------------------------------------------------------------
# Recurring configs
# --------------------------------------------------------------------------------------------


class LastRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = GenerationRun
        fields = ["id", "at", "status", "generated", "skipped", "missed", "failed", "error"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["error"] = instance.error or None
        return data


class StrictDateField(serializers.DateField):
    """A date given exactly as ``YYYY-MM-DD``, no later than year ``MAX_YEAR``."""

    def to_internal_value(self, value: Any) -> dt.date:
        if not isinstance(value, str) or not DATE_FORMAT.fullmatch(value.strip()):
            raise serializers.ValidationError("Enter a date in YYYY-MM-DD form.")
        day = super().to_internal_value(value.strip())
        if day.year > MAX_YEAR:
            raise serializers.ValidationError(f"The date is too far ahead (year {MAX_YEAR} at most).")
        return day


class RecurringConfigSerializer(serializers.ModelSerializer):
    """A config as §9.1 describes it. Writes go through ``services.save_config``."""

    starts_on = StrictDateField(required=False, allow_null=True)
    assignee = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=150)
    requires_link = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=200)
    timezone = serializers.CharField(required=False, max_length=64)
    schedule_description = serializers.SerializerMethodField()
    next_fire_times = serializers.SerializerMethodField()
    generated_count = serializers.SerializerMethodField()
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = RecurringConfig
        fields = [
            "id",
            *services.CONFIG_FIELDS,
            "schedule_description",
            "next_fire_times",
            "generated_count",
            "last_run",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "archived_at", "created_at", "updated_at"]

    # -- output ---------------------------------------------------------------------------

    def to_representation(self, instance: RecurringConfig) -> dict:
        data = super().to_representation(instance)
        data["assignee"] = instance.assignee.username if instance.assignee_id else None
        data["requires_link"] = instance.requires_link or None
        return data

    @extend_schema_field(OpenApiTypes.STR)
    def get_schedule_description(self, config: RecurringConfig) -> str:
        return schedule_description(config.cron_expression)

    @extend_schema_field(serializers.ListField(child=serializers.DateTimeField()))
    def get_next_fire_times(self, config: RecurringConfig) -> list[str]:
        now = self.context.get("now") or timezone.now()
        return [fire.isoformat() for fire in upcoming_fire_times(config, after=now)]

    @extend_schema_field(OpenApiTypes.INT)
    def get_generated_count(self, config: RecurringConfig) -> int:
        count = getattr(config, "generated_count", None)
        return count if count is not None else config.tasks.count()

    @extend_schema_field(LastRunSerializer(allow_null=True))
    def get_last_run(self, config: RecurringConfig) -> dict | None:
        run = last_run_of(config)
        return LastRunSerializer(run).data if run else None

    # -- input: each refusal has its own code and names the field ------------------------

    def validate_cron_expression(self, value: str) -> str:
        try:
            return cron.validate(value)
        except cron.CronError as exc:
            raise DomainError(
                "invalid_schedule", f"cron_expression: '{value}' is refused: {exc}.", field="cron_expression"
            )

    def validate_timezone(self, value: str) -> str:
        try:
            return cron.validate_timezone(value)
        except cron.CronError as exc:
            raise DomainError("invalid_timezone", f"timezone: {exc}.", field="timezone")

    def validate_assignee(self, value: str | None):
        """A username of an active portal member (the rule of the task API), or none; keeping
        the config's current assignee after they left is no change and stays allowed."""
        current = self.instance.assignee_id if self.instance is not None else None
        return services.resolve_assignee(value.strip() if value else None, current_id=current)

    def validate_requires_link(self, value: str | None) -> str:
        return (value or "").strip()

    def validate_title(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("A title is required.")
        return value

    def create(self, validated_data: dict) -> RecurringConfig:
        return services.save_config(data=validated_data, by=self.context["request"].user)

    def update(self, instance: RecurringConfig, validated_data: dict) -> RecurringConfig:
        return services.save_config(config=instance, data=validated_data, by=self.context["request"].user)


class GenerateRangeSerializer(serializers.Serializer):
    """The body of the generate endpoints (documentation; parsed strictly by ``_backfill``)."""

    start_date = serializers.DateField()
    end_date = serializers.DateField()
    dry_run = serializers.BooleanField(default=False)


class _GenerateResultSerializer(serializers.Serializer):
    generated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    windows = serializers.ListField(child=serializers.DateField(), help_text="New window dates.")
    existing = serializers.ListField(child=serializers.DateField(), help_text="Window dates that already existed.")
    dry_run = serializers.BooleanField()
    failed = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField(), help_text="Why some dates were left out.")


class ConfigGenerateResultSerializer(_GenerateResultSerializer):
    task_ids = serializers.ListField(child=serializers.UUIDField())


class TemplateGenerateResultSerializer(_GenerateResultSerializer):
    recovered = serializers.IntegerField(help_text="Missing tasks added to existing runs.")
    run_ids = serializers.ListField(child=serializers.UUIDField())


class RecurringConfigViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """``/recurring-configs/``: archived configs are left out of the list unless
    ``?archived=true`` (which includes them); a single one is always reachable by id."""

    serializer_class = RecurringConfigSerializer
    lookup_value_converter = "uuid"

    @extend_schema(
        parameters=[OpenApiParameter("archived", OpenApiTypes.BOOL, description="Include archived configs.")]
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet:
        queryset = configs_with_history()
        if self.action == "list":
            include_archived = parse_bool(self.request.query_params.get("archived"), "archived")
            if not include_archived:
                queryset = queryset.active()
        return queryset.order_by("title", "id")

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "now": timezone.now()}

    def _answer(self, config: RecurringConfig, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = configs_with_history().get(pk=config.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)

    @transaction.atomic
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._answer(serializer.save(), status.HTTP_201_CREATED)

    @transaction.atomic
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return self._answer(serializer.save())

    def update(self, request: Request, *args, **kwargs) -> Response:
        if not kwargs.get("partial"):
            return Response(
                {"code": "method_not_allowed", "detail": "Use PATCH to change a recurring config."},
                status=status.HTTP_405_METHOD_NOT_ALLOWED,
            )
        return super().update(request, *args, **kwargs)

    @transaction.atomic
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.delete_config(self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk=None) -> Response:
        config = self.get_object()
        with transaction.atomic():
            services.pause_config(config, by=request.user)
        return self._answer(config)

    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk=None) -> Response:
        config = self.get_object()
        with transaction.atomic():
            services.resume_config(config, by=request.user)
        return self._answer(config)

    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk=None) -> Response:
        config = self.get_object()
        with transaction.atomic():
            services.archive_config(config, by=request.user)
        return self._answer(config)

    @extend_schema(request=GenerateRangeSerializer, responses=ConfigGenerateResultSerializer)
    @action(detail=True, methods=["post"])
    def generate(self, request: Request, pk=None) -> Response:
        """Backfill a date range (``start_date``, ``end_date``, ``dry_run``), synchronously."""
        config = self.get_object()
        result = _backfill(config, request)
        return Response(
            {
                "generated": result.generated,
                "skipped": result.skipped,
                "windows": _dates(result.windows),
                "existing": _dates(result.existing),
                "task_ids": [str(pk) for pk in result.task_ids],
                "dry_run": result.dry_run,
                "failed": result.failed,
                "error": result.error or None,
                "notes": notes_of(result),
            }
        )


def notes_of(result: services.GenerationResult) -> list[str]:
    """The service's notes, plus the reason when the range holds no window at all, so an empty
    answer always says why."""
    notes = list(result.notes)
    if not (notes or result.windows or result.existing or result.failed or result.error):
        notes.append("No window of the schedule falls between start_date and end_date.")
    return notes


def _dates(values) -> list[str]:
    return [value.isoformat() if hasattr(value, "isoformat") else str(value) for value in values]


def _backfill(schedule, request: Request):
    """Validate the body strictly (nothing is written on bad input), then run the backfill."""
    body = request.data
    if not isinstance(body, dict):
        raise DomainError("validation_error", "The body must be a JSON object with start_date, end_date and dry_run.")
    start = parse_date(body.get("start_date"), "start_date")
    end = parse_date(body.get("end_date"), "end_date")
    dry_run = parse_bool(body.get("dry_run"), "dry_run")
    return services.backfill(
        schedule, start=start, end=end, dry_run=dry_run, by=request.user, trigger=GenerationTrigger.API
    )


class TemplateGenerateView(APIView):
    """``POST /templates/{id}/generate/``: backfill an automatic template over trigger (run)
    dates; answers like the config endpoint with ``run_ids`` and ``recovered``."""

    @extend_schema(request=GenerateRangeSerializer, responses=TemplateGenerateResultSerializer)
    def post(self, request: Request, pk) -> Response:
        template = get_object_or_404(WorkflowTemplate, pk=pk)
        result = _backfill(template, request)
        return Response(
            {
                "generated": result.generated,
                "skipped": result.skipped,
                "recovered": result.recovered,
                "windows": _dates(result.windows),
                "existing": _dates(result.existing),
                "run_ids": [str(pk) for pk in result.run_ids],
                "dry_run": result.dry_run,
                "failed": result.failed,
                "error": result.error or None,
                "notes": notes_of(result),
            }
        )


# --------------------------------------------------------------------------------------------
# Generation runs (the automation's history)
# --------------------------------------------------------------------------------------------


class GenerationRunSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True)
    error = serializers.CharField(read_only=True, allow_null=True, help_text="null when there was no error.")
    schedule_title = serializers.SerializerMethodField()
    triggered_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    needs_attention = serializers.SerializerMethodField()

    class Meta:
        model = GenerationRun
        fields = [
            "id",
            "kind",
            "recurring_config",
            "template",
            "schedule_title",
            "trigger",
            "status",
            "dry_run",
            "at",
            "range_start",
            "range_end",
            "generated",
            "skipped",
            "missed",
            "recovered",
            "failed",
            "windows",
            "skipped_windows",
            "missed_windows",
            "failed_window",
            "error",
            "triggered_by",
            "needs_attention",
            "resolved_at",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledgement_note",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_schedule_title(self, run: GenerationRun) -> str:
        return run.recurring_config.title if run.recurring_config_id else run.template.name

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_needs_attention(self, run: GenerationRun) -> bool:
        return needs_attention(run)

    def to_representation(self, instance: GenerationRun) -> dict:
        data = super().to_representation(instance)
        data["error"] = instance.error or None  # null for "no error", as in a config's last_run
        return data


def needs_attention(run: GenerationRun) -> bool:
    """A failure nobody has acknowledged and no later success has resolved."""
    return run.status == GenerationStatus.FAILED and run.resolved_at is None and run.acknowledged_at is None


class GenerationRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """``/generation-runs/``, newest first; filters ``config``, ``template``, ``status``,
    ``trigger`` and ``kind`` (recurring / template)."""

    serializer_class = GenerationRunSerializer
    lookup_value_converter = "uuid"

    @extend_schema(
        parameters=[
            OpenApiParameter("config", OpenApiTypes.UUID, description="Runs of this recurring config."),
            OpenApiParameter("template", OpenApiTypes.UUID, description="Runs of this workflow template."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=GenerationStatus.values),
            OpenApiParameter("trigger", OpenApiTypes.STR, enum=GenerationTrigger.values),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=["recurring", "template"]),
        ]
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet:
        queryset = GenerationRun.objects.select_related(
            "recurring_config", "template", "triggered_by", "acknowledged_by"
        ).order_by("-started_at", "id")
        if self.action != "list":
            return queryset
        params = self.request.query_params
        if params.get("config"):
            queryset = queryset.filter(recurring_config_id=parse_uuid(params["config"], "config"))
        if params.get("template"):
            queryset = queryset.filter(template_id=parse_uuid(params["template"], "template"))
        for name, choices in (("status", GenerationStatus), ("trigger", GenerationTrigger)):
            value = params.get(name)
            if value:
                if value not in choices.values:
                    allowed = ", ".join(choices.values)
                    raise DomainError("validation_error", f"{name} must be one of {allowed}; got '{value}'.")
                queryset = queryset.filter(**{name: value})
        kind = params.get("kind")
        if kind:
            if kind not in ("recurring", "template"):
                raise DomainError("validation_error", f"kind must be recurring or template; got '{kind}'.")
            field = "recurring_config" if kind == "recurring" else "template"
            queryset = queryset.filter(**{f"{field}__isnull": False})
        return queryset


# The router generates the ``<uuid>`` paths; ``SimpleRouter`` adds no API root view, which would
# collide with the other apps' routes mounted at the same prefix.
router = SimpleRouter(use_regex_path=False)
router.register("recurring-configs", RecurringConfigViewSet, basename="recurring-config")
router.register("generation-runs", GenerationRunViewSet, basename="generation-run")

urlpatterns = [
    *router.urls,
    # The other template routes live in workflows/api.py; this one belongs to the scheduler.
    path("templates/<uuid:pk>/generate/", TemplateGenerateView.as_view(), name="template-generate"),
]
