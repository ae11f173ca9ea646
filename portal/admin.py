"""The admin site of the portal: the settings surface, for Admins and superusers only.

The middleware already answers a signed-in operator with 403 on ``/admin/``; the site's own
``has_permission`` refuses them too, so the rule holds whatever the middleware does. The shared
admin conventions (domain errors as messages, refusing to delete history, actions with an
intermediate form) live in ``workflows.admin``, the core every other app may import.
"""

from __future__ import annotations

from functools import partial

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import empty

from workflows.members import is_admin


class PortalAdminSite(admin.AdminSite):
    """The settings surface of the portal: Admins and superusers only."""

    site_header = "Operations portal admin"
    site_title = "Operations portal admin"
    index_title = "Settings and records"
    site_url = "/"

    def has_permission(self, request: HttpRequest) -> bool:
        """Active staff who are Admins or superusers; an operator never, even one flagged staff."""
        user = request.user
        return bool(user.is_active and user.is_staff and is_admin(user))

    def get_urls(self):
        from django.urls import path

        from portal.exchange.download import export_page

        view = self.admin_view(partial(export_page, site=self))
        return [path("export/", view, name="portal_export"), *super().get_urls()]

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The apps, plus a "Backup" section leading to the export page."""
        app_list = super().get_app_list(request, app_label)
        if app_label is None:
            url = reverse("admin:portal_export", current_app=self.name)
            app_list.append(
                {
                    "name": "Backup",
                    "app_label": "backup",
                    "app_url": url,
                    "has_module_perms": True,
                    "models": [
                        {
                            "name": "Export all data",
                            "object_name": "Export",
                            "admin_url": url,
                            "add_url": None,
                            "view_only": True,
                            "perms": {"view": True},
                        }
                    ],
                }
            )
        return app_list


def _install_portal_site() -> None:
    # Every app (django-celery-beat included) registers on the one default site instance, so we
    # give that instance our behaviour instead of replacing it and losing registrations.
    site = admin.site
    if site._wrapped is empty:
        site._setup()
    if not isinstance(site._wrapped, PortalAdminSite):
        site._wrapped.__class__ = PortalAdminSite


_install_portal_site()
