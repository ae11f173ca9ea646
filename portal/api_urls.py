"""``/api/v1/``: each app contributes its routes (``<app>/api.py`` exposes ``urlpatterns``).

The fallback stays last: it serves a path given without its trailing slash by its slashed twin
and answers every unknown path with a JSON 404 (``{"code": "not_found", ...}``)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .api import API_FALLBACK_NAME, api_fallback

urlpatterns = [
    path("", include("workflows.api")),
    path("", include("notifications.api")),
    path("", include("recurring.api")),
    path("", include("portal.home_api")),
    path("", include("portal.today_api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^(?P<path>.*)$", api_fallback, name=API_FALLBACK_NAME),
]
