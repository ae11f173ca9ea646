"""API plumbing shared by every app: one error shape ``{"code", "detail", ...}`` for every error
(404, 409 and 500 included), the pagination of list endpoints, and the fallback route at the end
of ``/api/v1/`` (unknown paths answer 404 JSON; a path missing its trailing slash is served by
its slashed twin instead of being redirected, which a POST cannot follow)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.log import log_response
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from workflows.errors import DomainError

API_FALLBACK_NAME = "api-fallback"


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if key == "non_field_errors" else f"{key}: {message}"
    return str(detail)


def exception_handler(exc, context):
    """Every error of an API view as ``{"code", "detail", ...}``. An exception nobody expected
    is logged with its traceback and answered ``server_error`` (500), rolled back like any other
    error; the body never carries the exception's text."""
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        set_rollback()
        return Response({"code": "not_found", "detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, SuspiciousOperation):
        # Django's own body limits (too many form fields or files, a body over
        # DATA_UPLOAD_MAX_MEMORY_SIZE) met while a parser reads the request: the client's fault.
        set_rollback()
        return Response(_suspicious_body(exc), status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return _server_error(exc, context)
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"code": "validation_error", "detail": _first_message(exc.detail), "errors": exc.detail}
    else:
        code = getattr(exc, "default_code", "error")
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        if isinstance(codes, str):
            code = codes
        response.data = {"code": code, "detail": str(getattr(exc, "detail", exc))}
    return response


def _suspicious_body(exc: SuspiciousOperation) -> dict:
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return {"code": "request_too_large", "detail": f"The request body is larger than {limit:,} bytes."}
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return {"code": "bad_request", "detail": f"The request has more than {limit:,} fields."}
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return {"code": "bad_request", "detail": f"The request has more than {limit:,} files."}
    return {"code": "bad_request", "detail": "The request is malformed."}


def _server_error(exc: BaseException, context) -> Response:
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    set_rollback()
    response = Response(
        {"code": "server_error", "detail": "Something went wrong on our side; the error has been logged."},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
    # Logged as Django logs an uncaught exception (``django.request``, with the traceback), so
    # whatever reports server errors (mail to admins, log shipping) still sees it, once.
    log_response(
        "Internal Server Error: %s",
        getattr(django_request, "path", "?"),
        response=response,
        request=django_request,
        exception=exc,
    )
    return response


class UnknownEndpointView(APIView):
    """Any path under ``/api/v1/`` that names no endpoint: 404 ``not_found`` (after the usual
    login and membership checks, so it reveals nothing to strangers)."""

    schema = None  # not an endpoint of the public interface

    def _not_found(self, request: Request, *args, **kwargs) -> Response:
        raise exceptions.NotFound(f"There is no API endpoint at {request.path}.")

    get = post = put = patch = delete = head = options = _not_found


_unknown_endpoint = UnknownEndpointView.as_view()


def _slashed_twin(request: HttpRequest) -> ResolverMatch | None:
    if request.path_info.endswith("/"):
        return None
    try:
        match = resolve(request.path_info + "/", urlconf=getattr(request, "urlconf", None))
    except Resolver404:
        return None
    return None if match.url_name == API_FALLBACK_NAME else match


@csrf_exempt  # the view served below enforces CSRF itself (DRF session authentication)
def api_fallback(request: HttpRequest, path: str = "") -> HttpResponse:
    """The last route of ``/api/v1/``. ``/tasks`` is served exactly as ``/tasks/`` (Django's
    APPEND_SLASH would answer a redirect, which loses a POST body, or a 500 under DEBUG);
    everything else is a JSON 404."""
    match = _slashed_twin(request)
    if match is not None:
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)
    return _unknown_endpoint(request)
