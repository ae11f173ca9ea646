"""The admin site of the portal: the settings surface, for Admins and superusers only.

The middleware already answers a signed-in operator with 403 on ``/admin/``; the site's own
``has_permission`` refuses them too, so the rule holds whatever the middleware does. The shared
admin conventions (domain errors as messages, refusing to delete history, actions with an
intermediate form) live in ``workflows.admin``, the core every other app may import.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
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


def _install_portal_site() -> None:
    # Every app (django-celery-beat included) registers on the one default site instance, so we
    # give that instance our behaviour instead of replacing it and losing registrations.
    site = admin.site
    if site._wrapped is empty:
        site._setup()
    if not isinstance(site._wrapped, PortalAdminSite):
        site._wrapped.__class__ = PortalAdminSite


_install_portal_site()
