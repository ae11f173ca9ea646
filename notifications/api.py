"""REST API for the signed-in person's notifications (see ``docs/api.md``).

Each person only ever sees their own notifications: anyone else's answers 404. Reading or
dismissing changes nothing but the notification; acknowledging (with a note) closes an
automation failure for every recipient of it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from workflows.api import filter_parameters, filtered, validated
from workflows.models import MAX_TEXT_LENGTH

from .filters import NotificationFilterSet
from .models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    task = serializers.UUIDField(source="task_id", read_only=True, allow_null=True)
    run = serializers.UUIDField(source="run_id", read_only=True, allow_null=True)
    template = serializers.UUIDField(source="template_id", read_only=True, allow_null=True)
    recurring_config = serializers.UUIDField(source="recurring_config_id", read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "type",
            "title",
            "body",
            "link",
            "task",
            "run",
            "template",
            "recurring_config",
            "window_date",
            "data",
            "created_at",
            "read_at",
            "dismissed_at",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledgement_note",
            "resolved_at",
        ]
        read_only_fields = fields


class AcknowledgeInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT_LENGTH)


_REFUSED = OpenApiResponse(description="Refused: {code, detail, ...}")


@extend_schema_view(
    list=extend_schema(parameters=filter_parameters(NotificationFilterSet), summary="My notifications, newest first"),
    retrieve=extend_schema(summary="One of my notifications"),
)
class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no signed-in person
            return Notification.objects.none()
        queryset = Notification.objects.for_user(self.request.user).select_related("acknowledged_by")
        if self.action != "list":
            return queryset
        return filtered(NotificationFilterSet, self.request, queryset)

    def _answer(self, notification: Notification) -> Response:
        notification = self.get_queryset().get(pk=notification.pk)
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses={200: NotificationSerializer}, summary="Mark as read")
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: Any = None) -> Response:
        notification = self.get_object()
        notification.mark_read()
        return self._answer(notification)

    @extend_schema(
        request=None,
        responses={200: NotificationSerializer},
        summary="Dismiss (the underlying task, run or failure is unchanged)",
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: Any = None) -> Response:
        notification = self.get_object()
        notification.dismiss()
        return self._answer(notification)

    @extend_schema(
        request=AcknowledgeInputSerializer,
        responses={200: NotificationSerializer, 400: _REFUSED},
        summary="Acknowledge an automation failure or missed windows (note required)",
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: Any = None) -> Response:
        notification = self.get_object()
        data = validated(AcknowledgeInputSerializer, request.data)
        notification.acknowledge(by=request.user, note=data["note"])
        return self._answer(notification)


router = SimpleRouter(trailing_slash=True)
router.register("notifications", NotificationViewSet, basename="api-notification")

urlpatterns = router.urls
