"""``/api/v1/``: each app contributes its routes (``<app>/api.py`` exposes ``urlpatterns``)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("workflows.api")),
    path("", include("notifications.api")),
    path("", include("recurring.api")),
    path("", include("portal.home_api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
