"""REST API for tasks, workflow templates and runs (SPEC §9.1).

Views are thin: they validate the shape of the input, call the work engine (task transitions,
``add_proof``, ``services.save_template`` / ``clone_template`` / ``instantiate_run``, run
pause/resume/cancel/fill_link) and render the result. Every refusal is a ``DomainError`` that
``portal.api.exception_handler`` turns into ``{"code", "detail", ...}``. Schedule generation of
templates (``/templates/{id}/generate/``) lives with the scheduler in ``recurring/api.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from . import services
from .errors import DomainError
from .members import members
from .models import (
    MAX_ESTIMATE_MINUTES,
    MAX_OFFSET_DAYS,
    MAX_TEXT_LENGTH,
    Priority,
    Proof,
    ProofKind,
    Run,
    RunLink,
    RunStatus,
    Task,
    TaskComment,
    TaskSource,
    TaskStatus,
    TemplateTask,
    TriggerType,
    WorkflowTemplate,
    add_proof,
    portal_today,
)

User = get_user_model()

TASK_ACTIONS = ("start", "complete", "wait", "follow-up-sent", "response-received", "skip", "reopen")


# ---------------------------------------------------------------------------------------------
# Shared fields
# ---------------------------------------------------------------------------------------------


class PortalMemberField(serializers.SlugRelatedField):
    """A person named by username. Writing refuses anyone who is not an active portal member, so
    work is never assigned to someone who cannot see it."""

    default_error_messages = {
        "does_not_exist": "No portal member with username '{value}'.",
        "invalid": "Give a username as a string.",
    }

    def __init__(self, **kwargs: Any) -> None:
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", members())
        super().__init__(slug_field="username", **kwargs)


class UsernameFilterField(serializers.SlugRelatedField):
    """A username in a query filter: any existing account (former operators still own tasks)."""

    default_error_messages = {
        "does_not_exist": "No user with username '{value}'.",
        "invalid": "Give a username as a string.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="username", queryset=User.objects.all(), **kwargs)


@extend_schema_field(OpenApiTypes.STR)
class CommaSeparatedChoiceField(serializers.Field):
    """``?status=todo,waiting``: one or several choices; each one is checked."""

    def __init__(self, *, choices: list[str], **kwargs: Any) -> None:
        self.choices = list(choices)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        values = [v.strip() for v in str(data).split(",") if v.strip()]
        unknown = [v for v in values if v not in self.choices]
        if unknown or not values:
            raise serializers.ValidationError(
                f"Unknown value(s) {', '.join(repr(v) for v in unknown) or repr(data)}; "
                f"use one or more of {', '.join(self.choices)} separated by commas."
            )
        return values

    def to_representation(self, value: Any) -> str:
        return ",".join(value)


class StrictInputSerializer(serializers.Serializer):
    """Refuses keys it does not know: a misspelt field must not be silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            # Known read-only fields (id, created_at...) are ignored as usual, so a fetched
            # representation can be sent back; only names this endpoint does not know are refused.
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["This field is unknown or cannot be edited here."] for name in unknown}
                )
        return super().to_internal_value(data)


#: Query parameters every list endpoint understands besides its own filters.
COMMON_QUERY_PARAMS = frozenset({"page", "page_size", "format"})


class QueryFilterSerializer(serializers.Serializer):
    """The query-string filters of a list endpoint. A name it does not know (``?statuss=done``)
    is refused with ``validation_error`` naming it: a misspelt filter must not silently widen the
    answer to everything."""

    common_params = COMMON_QUERY_PARAMS

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            known = set(self.fields) | set(self.common_params)
            unknown = sorted(set(data.keys()) - known)
            if unknown:
                hint = "Unknown query parameter; known: " + ", ".join(sorted(known)) + "."
                raise serializers.ValidationError({name: [hint] for name in unknown})
        return super().to_internal_value(data)


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def query_date(request: Request) -> dt.date:
    """``?date=YYYY-MM-DD`` (the day risk is evaluated for), default today in the portal zone."""
    raw = request.query_params.get("date")
    if raw in (None, ""):
        return portal_today()
    return validated(DateQuerySerializer, {"date": raw})["date"]


class DateQuerySerializer(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="Evaluate for this day (default: today).")


def _empty_as_none(value: str) -> str | None:
    return value or None


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------


class ProofSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    file_url = serializers.SerializerMethodField(help_text="Download path of a file proof (login required).")

    class Meta:
        model = Proof
        fields = [
            "id",
            "kind",
            "label",
            "url",
            "note",
            "file_name",
            "file_size",
            "content_type",
            "sha256",
            "file_url",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_file_url(self, proof: Proof) -> str | None:
        if proof.kind != ProofKind.FILE:
            return None
        return proof.download_url


class HistoryEntrySerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TaskComment
        fields = ["id", "kind", "author", "body", "from_status", "to_status", "data", "created_at"]
        read_only_fields = fields


class TaskRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    status = serializers.CharField()


class RequirementSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="link, file, note or run_link")
    name = serializers.CharField()
    met = serializers.BooleanField()


class TaskRunLinkSerializer(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.CharField()
    filled = serializers.BooleanField()
    required = serializers.BooleanField(help_text="This task cannot be completed until it is filled.")


class ConfigRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()


class RunRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    status = serializers.CharField()


class TaskSerializer(serializers.ModelSerializer):
    """A task with its provenance, requirements checklist, proof and blockers. Expects the
    prefetches of :func:`task_queryset` so a page of tasks costs a constant number of queries."""

    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    completed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    source_label = serializers.CharField(read_only=True)
    recurring_config = ConfigRefSerializer(read_only=True, allow_null=True)
    run = RunRefSerializer(read_only=True, allow_null=True)
    requires_link = serializers.SerializerMethodField()
    requirements = serializers.SerializerMethodField()
    missing_requirements = serializers.SerializerMethodField()
    depends_on = serializers.SerializerMethodField()
    blocked_by = serializers.SerializerMethodField()
    skipped_prerequisites = serializers.SerializerMethodField()
    run_links = serializers.SerializerMethodField()
    proofs = ProofSerializer(many=True, read_only=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "instructions",
            "instructions_url",
            "status",
            "priority",
            "due_date",
            "due_time",
            "assignee",
            "area",
            "estimate_minutes",
            "source",
            "source_label",
            "recurring_config",
            "window_date",
            "run",
            "template_task_ref",
            "stage",
            "waiting_for",
            "follow_up_at",
            "requires_link",
            "requires_file",
            "requires_proof_note",
            "requirements",
            "missing_requirements",
            "depends_on",
            "blocked_by",
            "skipped_prerequisites",
            "run_links",
            "proofs",
            "started_at",
            "completed_at",
            "completed_by",
            "created_by",
            "created_at",
            "updated_at",
            "archived_at",
        ]
        read_only_fields = fields

    def get_requires_link(self, task: Task) -> str | None:
        return _empty_as_none(task.requires_link)

    @extend_schema_field(RequirementSerializer(many=True))
    def get_requirements(self, task: Task) -> list[dict]:
        return task.requirements()

    def get_missing_requirements(self, task: Task) -> list[str]:
        return task.missing_requirements()

    def get_depends_on(self, task: Task) -> list[str]:
        return [str(dep.pk) for dep in task.dependencies.all()]

    @extend_schema_field(TaskRefSerializer(many=True))
    def get_blocked_by(self, task: Task) -> list[dict]:
        return [{"id": t.pk, "title": t.title, "status": t.status} for t in task.open_prerequisites()]

    @extend_schema_field(TaskRefSerializer(many=True))
    def get_skipped_prerequisites(self, task: Task) -> list[dict]:
        return [{"id": t.pk, "title": t.title, "status": t.status} for t in task.skipped_prerequisites]

    @extend_schema_field(TaskRunLinkSerializer(many=True))
    def get_run_links(self, task: Task) -> list[dict]:
        if not task.run_id:
            return []
        required = {link.pk for link in task.required_run_links.all()}
        return [
            {"name": link.name, "url": link.url, "filled": link.is_filled, "required": link.pk in required}
            for link in task.run.links.all()
        ]


class TaskDetailSerializer(TaskSerializer):
    """A task with its full timestamped history (comments, status changes, follow-ups, proof)."""

    history = HistoryEntrySerializer(many=True, read_only=True)

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "history"]
        read_only_fields = fields


def task_queryset(*, with_history: bool = False) -> QuerySet:
    """Tasks with everything :class:`TaskSerializer` reads, fetched in a fixed number of queries."""
    queryset = Task.objects.select_related(
        "assignee", "completed_by", "created_by", "recurring_config", "run"
    ).prefetch_related(
        Prefetch("proofs", queryset=Proof.objects.select_related("created_by")),
        "required_run_links",
        "dependencies",
        "run__links",
    )
    if with_history:
        queryset = queryset.prefetch_related(Prefetch("history", queryset=TaskComment.objects.select_related("author")))
    return queryset


class TaskFilterSerializer(QueryFilterSerializer):
    status = CommaSeparatedChoiceField(
        choices=TaskStatus.values, required=False, help_text="One or more statuses, comma-separated."
    )
    source = serializers.ChoiceField(choices=TaskSource.choices, required=False)
    due_date = serializers.DateField(required=False, help_text="Due on this day.")
    due_before = serializers.DateField(required=False, help_text="Due strictly before this day.")
    assignee = UsernameFilterField(required=False, help_text="Username of the assignee.")
    recurring_config = serializers.UUIDField(required=False)
    run = serializers.UUIDField(required=False)
    include_archived = serializers.BooleanField(required=False, default=False)


class TaskCreateSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=300)
    instructions = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")
    instructions_url = serializers.URLField(required=False, allow_blank=True, max_length=2000, default="")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, default=Priority.NORMAL)
    due_date = serializers.DateField()
    due_time = serializers.TimeField(required=False, allow_null=True, default=None)
    assignee = PortalMemberField(required=False, allow_null=True, default=None)
    area = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    estimate_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_ESTIMATE_MINUTES, default=None
    )
    requires_link = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=200, default="", help_text="Label or null."
    )
    requires_file = serializers.BooleanField(required=False, default=False)
    requires_proof_note = serializers.BooleanField(required=False, default=False)

    def validate_requires_link(self, value: str | None) -> str:
        return (value or "").strip()


class TaskUpdateSerializer(StrictInputSerializer):
    """Plain fields only; status changes go through the action endpoints."""

    title = serializers.CharField(max_length=300, required=False)
    instructions = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    instructions_url = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    due_date = serializers.DateField(required=False)
    due_time = serializers.TimeField(required=False, allow_null=True)
    assignee = PortalMemberField(required=False, allow_null=True)
    area = serializers.CharField(required=False, allow_blank=True, max_length=100)
    estimate_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_ESTIMATE_MINUTES
    )

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys") and "status" in data:
            raise DomainError(
                "invalid_transition",
                "status cannot be edited; use the action endpoints ("
                + ", ".join(f"/{name}/" for name in TASK_ACTIONS)
                + ").",
                field="status",
            )
        return super().to_internal_value(data)

    def validate_title(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("A task needs a title.")
        return value.strip()


class NoteInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")


class WaitInputSerializer(serializers.Serializer):
    waiting_for = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    follow_up_at = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")


class FollowUpSentInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")
    next_follow_up_at = serializers.DateField(required=False, allow_null=True, default=None)


class SkipInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")
    cascade = serializers.BooleanField(required=False, default=False)


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")


class CommentInputSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")


class ProofInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ProofKind.choices)
    label = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    url = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")
    file = serializers.FileField(required=False, allow_null=True, default=None, help_text="multipart/form-data only")


class SkipResultSerializer(TaskDetailSerializer):
    """The skipped task, plus the dependents skipped with it when ``cascade`` was asked."""

    cascaded = serializers.SerializerMethodField()

    class Meta(TaskDetailSerializer.Meta):
        fields = [*TaskDetailSerializer.Meta.fields, "cascaded"]
        read_only_fields = fields

    def get_cascaded(self, task: Task) -> list[str]:
        return [str(pk) for pk in self.context.get("cascaded", [])]


def _action_schema(request=None, summary: str = "", response=TaskDetailSerializer, description: str = ""):
    return extend_schema(
        request=request,
        responses={200: response, 400: OpenApiResponse(description="Refused: {code, detail, ...}")},
        summary=summary,
        description=description,
    )


@extend_schema_view(
    list=extend_schema(parameters=[TaskFilterSerializer], summary="List tasks"),
    retrieve=extend_schema(summary="One task with its history"),
    create=extend_schema(request=TaskCreateSerializer, responses={201: TaskDetailSerializer}, summary="Create a task"),
    partial_update=extend_schema(
        request=TaskUpdateSerializer,
        responses={200: TaskDetailSerializer},
        summary="Edit plain fields (status only through actions)",
    ),
)
class TaskViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    http_method_names = ["get", "post", "patch", "head", "options"]
    serializer_class = TaskSerializer

    def get_queryset(self) -> QuerySet:
        if self.action == "list":
            return self._filtered(task_queryset())
        if self.action == "retrieve":
            return task_queryset(with_history=True)
        # Actions load the task afresh (locked) in the domain method and re-read it for the answer.
        return Task.objects.all()

    def get_serializer_class(self):
        return TaskSerializer if self.action == "list" else TaskDetailSerializer

    def _filtered(self, queryset: QuerySet) -> QuerySet:
        filters = validated(TaskFilterSerializer, self.request.query_params)
        if not filters.get("include_archived"):
            queryset = queryset.filter(archived_at__isnull=True)
        if "status" in filters:
            queryset = queryset.filter(status__in=filters["status"])
        lookups = {
            "source": "source",
            "due_date": "due_date",
            "due_before": "due_date__lt",
            "assignee": "assignee",
            "recurring_config": "recurring_config_id",
            "run": "run_id",
        }
        for name, lookup in lookups.items():
            if name in filters:
                queryset = queryset.filter(**{lookup: filters[name]})
        return queryset.order_by("due_date", "due_time", "title", "id")

    def _detail(self, pk, *, status_code: int = status.HTTP_200_OK, serializer_class=None, **context) -> Response:
        task = task_queryset(with_history=True).get(pk=pk)
        serializer = (serializer_class or TaskDetailSerializer)(
            task, context={**self.get_serializer_context(), **context}
        )
        return Response(serializer.data, status=status_code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = validated(TaskCreateSerializer, request.data)
        task = services.create_manual_task(by=request.user, **data)
        return self._detail(task.pk, status_code=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        task = self.get_object()
        changes = validated(TaskUpdateSerializer, request.data, partial=True)
        task.edit(dict(changes), by=request.user)
        return self._detail(task.pk)

    # ---- transitions ------------------------------------------------------------------------
    @_action_schema(None, "todo → in_progress (refused while a prerequisite is open)")
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk=None) -> Response:
        task = self.get_object()
        task.start(by=request.user)
        return self._detail(task.pk)

    @_action_schema(
        NoteInputSerializer,
        "todo/in_progress → done",
        description="Refused with blocked_by_dependencies (+ blocked_by) or missing_evidence (+ missing).",
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk=None) -> Response:
        task = self.get_object()
        data = validated(NoteInputSerializer, request.data)
        task.complete(by=request.user, note=data["note"])
        return self._detail(task.pk)

    @_action_schema(
        WaitInputSerializer,
        "→ waiting",
        description="Needs waiting_for, follow_up_at and note (waiting_fields_required + missing).",
    )
    @action(detail=True, methods=["post"])
    def wait(self, request: Request, pk=None) -> Response:
        task = self.get_object()
        data = validated(WaitInputSerializer, request.data)
        task.mark_waiting(by=request.user, **data)
        return self._detail(task.pk)

    @_action_schema(FollowUpSentInputSerializer, "Record a follow-up on a waiting task")
    @action(detail=True, methods=["post"], url_path="follow-up-sent")
    def follow_up_sent(self, request: Request, pk=None) -> Response:
        task = self.get_object()
        data = validated(FollowUpSentInputSerializer, request.data)
        task.follow_up_sent(by=request.user, **data)
        return self._detail(task.pk)

    @_action_schema(NoteInputSerializer, "Response received: waiting → todo")
    @action(detail=True, methods=["post"], url_path="response-received")
    def response_received(self, request: Request, pk=None) -> Response:
        task = self.get_object()
        data = validated(NoteInputSerializer, request.data)
        task.response_received(by=request.user, note=data["note"])
        return self._detail(task.pk)

    @_action_schema(
        SkipInputSerializer,
        "→ skipped (reason required)",
        response=SkipResultSerializer,
        description="With cascade, every open task depending on it (transitively) is skipped too.",
    )
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk=None) -> Response:
        task = self.get_object()
        data = validated(SkipInputSerializer, request.data)
        cascaded = task.skip(by=request.user, reason=data["reason"], cascade=data["cascade"])
        return self._detail(task.pk, serializer_class=SkipResultSerializer, cascaded=[t.pk for t in cascaded])

    @_action_schema(ReasonInputSerializer, "done/skipped → todo (reason required)")
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk=None) -> Response:
        task = self.get_object()
        data = validated(ReasonInputSerializer, request.data)
        task.reopen(by=request.user, reason=data["reason"])
        return self._detail(task.pk)

    # ---- comments and proof -----------------------------------------------------------------
    @extend_schema(request=CommentInputSerializer, responses={201: HistoryEntrySerializer}, summary="Comment")
    @action(detail=True, methods=["post"])
    def comments(self, request: Request, pk=None) -> Response:
        task = self.get_object()
        data = validated(CommentInputSerializer, request.data)
        comment = task.add_comment(by=request.user, body=data["body"])
        comment = TaskComment.objects.select_related("author").get(pk=comment.pk)
        return Response(HistoryEntrySerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": ProofInputSerializer, "application/json": ProofInputSerializer},
        responses={201: ProofSerializer},
        summary="Attach proof (link, file or note)",
        description="Files: size limit and content-type allow-list; stored privately; sha256 recorded.",
    )
    @action(detail=True, methods=["post"])
    def proofs(self, request: Request, pk=None) -> Response:
        task = self.get_object()
        data = validated(ProofInputSerializer, request.data)
        proof = add_proof(task, by=request.user, **data)
        proof = Proof.objects.select_related("created_by").get(pk=proof.pk)
        return Response(ProofSerializer(proof).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        summary="Download a file proof",
        parameters=[OpenApiParameter("proof_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"proofs/(?P<proof_id>[^/.]+)/file",
        url_name="proof-file",
    )
    def proof_file(self, request: Request, pk=None, proof_id=None) -> FileResponse:
        task = self.get_object()
        proof = get_object_or_404(task.proofs.filter(kind=ProofKind.FILE), pk=proof_id)
        try:
            handle = proof.file.open("rb")
        except FileNotFoundError as exc:
            raise NotFound("The stored file of this proof is missing.") from exc
        response = FileResponse(handle, as_attachment=True, filename=proof.file_name, content_type=proof.content_type)
        # Uploaded content is never rendered by the browser as a page of ours.
        response["Content-Security-Policy"] = "sandbox"
        response["Cache-Control"] = "private, no-store"
        return response


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------

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
    trigger_starts_on = serializers.DateField(required=False, allow_null=True)
    catch_up = serializers.ChoiceField(choices=["latest", "all"], required=False)
    tasks = TemplateTaskSerializer(many=True, required=False)
    schedule_description = serializers.SerializerMethodField()
    next_fire_times = serializers.SerializerMethodField()
    archived_at = serializers.DateTimeField(read_only=True)
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


class TemplateFilterSerializer(QueryFilterSerializer):
    category = serializers.CharField(required=False)
    trigger_type = serializers.ChoiceField(choices=TriggerType.choices, required=False)
    include_archived = serializers.BooleanField(required=False, default=False)


class LaunchInputSerializer(serializers.Serializer):
    anchor_date = serializers.DateField()


class CloneInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------


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
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

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
        return RiskSerializer(run_risk(run, by_id.get(run.risk_next_due_task_id))).data

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


class RunFilterSerializer(QueryFilterSerializer):
    status = CommaSeparatedChoiceField(choices=RunStatus.values, required=False)
    template = serializers.UUIDField(required=False)
    date = serializers.DateField(required=False, help_text="Evaluate risk for this day (default: today).")


class RunLinkInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    url = serializers.CharField(max_length=2000, allow_blank=True)


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")


_DATE_PARAM = OpenApiParameter("date", OpenApiTypes.DATE, description="Evaluate risk for this day (default: today).")


@extend_schema_view(
    list=extend_schema(parameters=[RunFilterSerializer], summary="List runs with risk"),
    retrieve=extend_schema(parameters=[_DATE_PARAM], summary="One run with tasks and risk"),
)
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RunSerializer

    def get_queryset(self) -> QuerySet:
        if self.action == "list":
            filters = validated(RunFilterSerializer, self.request.query_params)
            queryset = run_queryset(filters.get("date") or portal_today())
            if "status" in filters:
                queryset = queryset.filter(status__in=filters["status"])
            if "template" in filters:
                queryset = queryset.filter(template_id=filters["template"])
            return queryset.order_by("-anchor_date", "title", "id")
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


@extend_schema_view(
    list=extend_schema(parameters=[TemplateFilterSerializer], summary="List templates"),
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
            filters = validated(TemplateFilterSerializer, self.request.query_params)
            if not filters.get("include_archived"):
                queryset = queryset.filter(archived_at__isnull=True)
            if filters.get("category"):
                queryset = queryset.filter(category__iexact=filters["category"])
            if filters.get("trigger_type"):
                queryset = queryset.filter(trigger_type=filters["trigger_type"])
            queryset = queryset.order_by("name", "id")
        return queryset

    def _template(self, pk, *, status_code: int = status.HTTP_200_OK) -> Response:
        template = template_queryset().get(pk=pk)
        return Response(TemplateSerializer(template, context=self.get_serializer_context()).data, status=status_code)

    def _save(self, request: Request, template: WorkflowTemplate | None, *, partial: bool) -> WorkflowTemplate:
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


router = SimpleRouter(trailing_slash=True)
router.register("tasks", TaskViewSet, basename="api-task")
router.register("templates", TemplateViewSet, basename="api-template")
router.register("runs", RunViewSet, basename="api-run")

urlpatterns = router.urls
