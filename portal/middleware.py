"""Login is required for every page; only the login page, the health check and static files are open.

The API and the admin answer for themselves (DRF returns 401/403 JSON, token and basic auth work
there), so this middleware leaves them to their own checks, except that a signed-in operator who is
not an Admin gets a plain 403 on the admin instead of its login form.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from workflows.members import is_admin, is_member

from .errors import forbidden_page

OPEN_PREFIXES = ("/accounts/login/", "/health/", settings.STATIC_URL)


class LoginRequiredEverywhereMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith(OPEN_PREFIXES) or path.startswith("/api/"):
            return self.get_response(request)
        if path.startswith("/admin/"):
            if request.user.is_authenticated and not is_admin(request.user):
                return forbidden_page(request, "The admin is for Admins only.")
            return self.get_response(request)
        if not request.user.is_authenticated:
            if request.htmx:
                response = HttpResponse(status=401)
                response["HX-Redirect"] = reverse("login")
                return response
            return redirect_to_login(request.get_full_path())
        if not is_member(request.user) and path != "/accounts/logout/":
            return forbidden_page(
                request, "Your account is not a member of Operators or Admins. Ask an admin for access."
            )
        return self.get_response(request)
