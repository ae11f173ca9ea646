"""REST API of recurring duties and the automation's history (``docs/api.md``).

Thin views over ``recurring.services`` and the models' rules: everything a request triggers (saving, pausing,
generating, backfilling) runs synchronously inside the request, so the tasks, runs, generation
runs and notifications exist when the response returns. Lists annotate their derived columns
(generated count, last run) in SQL, so their cost in queries never depends on their length.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
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
from workflows.inputs import StrictDateField, parse_bool, parse_date
from workflows.models import WorkflowTemplate

from . import cron, services
from .filters import GenerationRunFilter, RecurringConfigFilter
from .models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig

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


class RecurringConfigSerializer(serializers.ModelSerializer):
    """A config as ``docs/api.md`` describes it. Writes go through ``services.save_config``."""

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
        return config.schedule_description

    @extend_schema_field(serializers.ListField(child=serializers.DateTimeField()))
    def get_next_fire_times(self, config: RecurringConfig) -> list[str]:
        now = self.context.get("now") or timezone.now()
        return [fire.isoformat() for fire in config.upcoming_fire_times(after=now)]

    @extend_schema_field(OpenApiTypes.INT)
    def get_generated_count(self, config: RecurringConfig) -> int:
        count = getattr(config, "generated_count", None)
        return count if count is not None else config.tasks.count()

    @extend_schema_field(LastRunSerializer(allow_null=True))
    def get_last_run(self, config: RecurringConfig) -> dict | None:
        run = config.last_run
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
        queryset = RecurringConfig.objects.with_history()
        if self.action == "list":
            queryset = RecurringConfigFilter(self.request.query_params, queryset=queryset).qs
        return queryset.order_by("title", "id")

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "now": timezone.now()}

    def _answer(self, config: RecurringConfig, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = RecurringConfig.objects.with_history().get(pk=config.pk)
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
    triggered_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
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
        return run.needs_attention

    def to_representation(self, instance: GenerationRun) -> dict:
        data = super().to_representation(instance)
        data["error"] = instance.error or None  # null for "no error", as in a config's last_run
        return data


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
        return GenerationRunFilter(self.request.query_params, queryset=queryset).qs


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
