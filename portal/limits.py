"""Request bodies are bounded before anything parses them.

Every door that reads a body (DRF's parsers, Django's form parsing, the admin) sits behind
``RequestBodyLimitsMiddleware``, so a body that is too large is refused from its declared
``Content-Length`` without being read, and a JSON body nested deeper than ``PORTAL_MAX_JSON_DEPTH``
is refused before a JSON parser recurses into it (Python's parser raises ``RecursionError`` on
``[`` × 100,000). Refusals are 400 with the API's error shape ``{"code", "detail"}``:

* ``request_too_large``: the body is larger than ``PORTAL_MAX_BODY_BYTES`` (multipart bodies may
  carry one proof file on top, ``PORTAL_PROOF_MAX_BYTES``);
* ``json_too_deep``: JSON nested more than ``PORTAL_MAX_JSON_DEPTH`` levels.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

# A JSON string (escapes included): its brackets are text, not nesting.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]+")
_OPENING = frozenset(b"[{")


def json_nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether the arrays and objects in a JSON ``body`` nest more than ``limit`` levels deep.

    Reads the bytes once without building anything, so it is safe on any input: malformed JSON
    is left for the parser to refuse with its own message.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _NOT_A_BRACKET.sub(b"", _JSON_STRING.sub(b"", body)):
        if byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def body_limit(content_type: str) -> int:
    """The most bytes a request body of ``content_type`` may have."""
    if content_type.startswith("multipart/"):
        return settings.PORTAL_MAX_BODY_BYTES + settings.PORTAL_PROOF_MAX_BYTES
    return settings.PORTAL_MAX_BODY_BYTES


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _refuse(request: HttpRequest, code: str, detail: str) -> HttpResponse:
    if request.path.startswith("/api/") or is_json(request.content_type or ""):
        return JsonResponse({"code": code, "detail": detail}, status=400)
    return HttpResponse(detail, status=400, content_type="text/plain; charset=utf-8")


class RequestBodyLimitsMiddleware:
    """Refuses oversized bodies and over-nested JSON with 400 before any view or parser runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        content_type = request.META.get("CONTENT_TYPE", "")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refuse(request, "bad_request", "The Content-Length header is not a number.")
        limit = body_limit(content_type)
        if length > limit:
            return _refuse(
                request,
                "request_too_large",
                f"The request body is {length:,} bytes; the limit is {limit:,} bytes.",
            )
        if length and is_json(content_type):
            depth = settings.PORTAL_MAX_JSON_DEPTH
            if json_nesting_exceeds(request.body, depth):
                return _refuse(request, "json_too_deep", f"The JSON body is nested more than {depth} levels deep.")
        return self.get_response(request)
