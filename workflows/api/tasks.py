"""Task endpoints: list, create, edit, the transitions, comments and proof."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
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
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..errors import DomainError
from ..filters import TaskFilterSet
from ..inputs import StrictDateField
from ..keyset import KeysetPagination
from ..models import (
    MAX_ESTIMATE_MINUTES,
    MAX_TEXT_LENGTH,
    Priority,
    Proof,
    ProofKind,
    Task,
    TaskComment,
    add_proof,
)
from .common import (
    TASK_ACTIONS,
    OptionalURLField,
    PortalMemberField,
    StrictInputSerializer,
    _empty_as_none,
    filter_parameters,
    filtered,
    validated,
)


class ProofSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    url = OptionalURLField(help_text="The link of a link proof; empty for other kinds.")
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
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

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

    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    completed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    instructions_url = OptionalURLField()
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


class TaskCreateSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=300)
    instructions = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")
    instructions_url = serializers.URLField(required=False, allow_blank=True, max_length=2000, default="")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, default=Priority.NORMAL)
    due_date = StrictDateField()
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
    due_date = StrictDateField(required=False)
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
    follow_up_at = StrictDateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")


class FollowUpSentInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, default="")
    next_follow_up_at = StrictDateField(required=False, allow_null=True, default=None)


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
    list=extend_schema(parameters=filter_parameters(TaskFilterSet), summary="List tasks"),
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
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet:
        if self.action == "list":
            return filtered(TaskFilterSet, self.request, task_queryset())
        if self.action == "retrieve":
            return task_queryset(with_history=True)
        # Actions load the task afresh (locked) in the domain method and re-read it for the answer.
        return Task.objects.all()

    def get_serializer_class(self):
        return TaskSerializer if self.action == "list" else TaskDetailSerializer

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
        responses={
            (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file, with its own content type.")
        },
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
