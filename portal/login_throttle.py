"""Login throttling: failed sign-ins are counted per username and client address.

django-axes counts failures on the login page, the admin login and HTTP Basic on the API (all of
them go through ``django.contrib.auth.authenticate``). After ``AXES_FAILURE_LIMIT`` failures for
one username from one address, that pair is refused for ``AXES_COOLOFF_TIME`` (every further
failure restarts the wait). The same username from another address is not affected, so an
attacker slows only themselves and cannot lock a person out of their account. A successful
sign-in clears the count.

Token authentication has no username: failed token attempts are counted per address (under
the name ``TOKEN_USERNAME``), with the same limit and wait.

Refusals say what happened and for how long: the login pages answer 429 with a page, the API
answers 429 ``{"code": "throttled", "detail": ...}`` with ``Retry-After``.
"""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.authentication import BasicScheme
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication, TokenAuthentication, get_authorization_header


def client_ip(request: HttpRequest) -> str:
    """The address a request came from: ``REMOTE_ADDR``, or behind the TLS proxy
    (``BEHIND_TLS_PROXY=1``) the address that proxy appended to ``X-Forwarded-For``."""
    meta = getattr(request, "META", {})
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return meta.get("REMOTE_ADDR") or "unknown"


def cool_off_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_message() -> str:
    minutes = max(1, cool_off_seconds() // 60)
    return (
        f"Too many failed sign-ins for this account from your address. Wait {minutes} minutes and try again; "
        "signing in from another device or network works now."
    )


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What a throttled sign-in gets (django-axes ``AXES_LOCKOUT_CALLABLE``)."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"code": "throttled", "detail": lockout_message()}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": lockout_message()}, status=429)
    response["Retry-After"] = str(cool_off_seconds())
    return response


def _throttled() -> exceptions.Throttled:
    error = exceptions.Throttled(detail=lockout_message())
    error.wait = cool_off_seconds()  # sent as Retry-After
    return error


class ThrottledBasicAuthentication(BasicAuthentication):
    """HTTP Basic whose failures count towards the username+address limit (django-axes)."""

    def authenticate_credentials(self, userid, password, request=None):
        # Django's authenticate() turns the lockout into a plain failure (401): ask first.
        if request is not None and not AxesProxyHandler.is_allowed(
            getattr(request, "_request", request), {"username": userid}
        ):
            raise _throttled()
        return super().authenticate_credentials(userid, password, request)


# Failed token attempts are recorded by django-axes under this name, which no username can have
# (usernames allow letters, digits and @.+-_ only): counted per address like any other failure.
TOKEN_USERNAME = "(api token)"


class ThrottledTokenAuthentication(TokenAuthentication):
    """Token authentication whose failures are counted per address (a token has no username)."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        django_request = getattr(request, "_request", request)
        credentials = {"username": TOKEN_USERNAME}
        if not AxesProxyHandler.is_allowed(django_request, credentials):
            raise _throttled()
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            user_login_failed.send(sender=type(self), credentials=credentials, request=django_request)
            raise


class ThrottledBasicScheme(BasicScheme):
    """The OpenAPI schema documents the throttled Basic authentication as plain HTTP Basic."""

    target_class = "portal.login_throttle.ThrottledBasicAuthentication"
