from django.urls import path, register_converter

from . import views


class ScheduleKindConverter:
    """``configs`` (recurring configs) or ``templates`` (automatic workflow templates)."""

    regex = "configs|templates"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ScheduleKindConverter, "schedule_kind")

urlpatterns = [
    path("recurring/", views.schedule_list, name="recurring-list"),
    path("recurring/new/", views.config_create, name="recurring-config-create"),
    path("recurring/preview/", views.schedule_preview, name="recurring-preview"),
    path("recurring/configs/<uuid:pk>/edit/", views.config_edit, name="recurring-config-edit"),
    path(
        "recurring/<schedule_kind:kind>/<uuid:pk>/pause/",
        views.schedule_action,
        {"action": "pause"},
        name="recurring-pause",
    ),
    path(
        "recurring/<schedule_kind:kind>/<uuid:pk>/resume/",
        views.schedule_action,
        {"action": "resume"},
        name="recurring-resume",
    ),
    path(
        "recurring/<schedule_kind:kind>/<uuid:pk>/generate/",
        views.schedule_action,
        {"action": "generate"},
        name="recurring-generate",
    ),
    path("recurring/<schedule_kind:kind>/<uuid:pk>/backfill/", views.schedule_backfill, name="recurring-backfill"),
]
