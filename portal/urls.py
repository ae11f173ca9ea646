from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import today_views, views

urlpatterns = [
    path("", views.index, name="index"),
    path("health/", views.health, name="health"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("today/", today_views.today_page, name="start-today"),
    path("today/<uuid:pk>/<slug:action>/", today_views.today_action, name="start-today-action"),
    path("insights/", today_views.insights_page, name="insights"),
    path("insights/configs/<uuid:pk>/", today_views.insights_config_page, name="insights-config"),
    path("notifications/", include("notifications.urls")),
    path("", include("workflows.urls")),
    path("", include("recurring.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api_urls")),
]

handler403 = "portal.errors.permission_denied"
handler404 = "portal.errors.page_not_found"
handler500 = "portal.errors.server_error"
