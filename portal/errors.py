"""Error pages: the portal's look for people, JSON for the API.

Django calls these for an exception no view handled (``handler403`` / ``handler404`` /
``handler500`` in ``portal.urls``). Under ``/api/`` the answer keeps the API's error shape
(``{"code", "detail"}``, see ``docs/api.md``); everywhere else it is a page in the portal's look.
The 500 page is rendered without the request and without the database: whatever broke may be
the database itself.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"code": "permission_denied", "detail": "You do not have permission to perform this action."},
            status=403,
        )
    return forbidden_page(request)


def forbidden_page(request: HttpRequest, reason: str = "") -> HttpResponse:
    """The styled 403 page, with ``reason`` saying what the person may do about it."""
    return render(request, "403.html", {"reason": reason}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return render(request, "404.html", {"request_path": request.path}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"code": "server_error", "detail": "Something went wrong on our side; the error has been logged."},
            status=500,
        )
    # No request context: no context processor, no session, no database.
    return HttpResponseServerError(loader.get_template("500.html").render())
