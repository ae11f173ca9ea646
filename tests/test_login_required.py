"""Every page and endpoint refuses anonymous requests, except the login page and the health
check. The list of URLs is walked from the URL configuration itself, so a new view cannot be
added without this test covering it."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

OPEN = {"accounts/login/", "admin/login/", "admin/logout/", "health/"}
SAMPLE = {"uuid": "5a1d0c3e-1f7b-4c55-9a61-2b7f3c9d8e01", "slug": "start", "int": "1", "str": "x", "path": "x"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def _concrete(route: str) -> str | None:
    if route.startswith("admin/") and ("^" in route or "(?P" in route):
        return None  # the admin's own regex routes all sit behind its login (covered by /admin/)
    if "(?P<format>" in route:
        return None  # DRF's format-suffix twins of routes that are covered anyway
    route = re.sub(r"\(\?P<\w+>[^)]*\)", SAMPLE["uuid"], route)  # router groups: ids
    route = route.replace("^", "").replace("$", "")

    def fill(match):
        converter = match.group(1) or "str"
        return SAMPLE.get(converter, "x")

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", fill, route)


def portal_urls() -> list[str]:
    urls = {_concrete(r) for r in _walk(get_resolver().url_patterns)}
    return sorted(u for u in urls if u and u.lstrip("/") not in OPEN)


def test_the_walk_finds_the_pages_and_the_api():
    urls = portal_urls()
    assert "/" in urls
    assert any(u.startswith("/api/v1/tasks/") for u in urls)
    assert any(u.startswith("/notifications/") for u in urls)
    assert len(urls) > 30


@pytest.mark.django_db
@pytest.mark.parametrize("url", portal_urls())
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_request_is_refused(client, url, method):
    response = getattr(client, method)(url)
    if response.status_code in (301, 302):
        location = response["Location"]
        assert "/accounts/login/" in location or "/admin/login/" in location, location
    else:
        assert response.status_code in (401, 403, 405), (url, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("url", [u for u in portal_urls() if not u.startswith("/admin/")])
def test_outsider_is_refused(client, outsider, url):
    """Signed in but in neither Operators nor Admins: nothing beyond the login page."""
    client.force_login(outsider)
    response = client.get(url)
    assert response.status_code in (403, 405), (url, response.status_code)


@pytest.mark.django_db
def test_login_and_health_are_open(client):
    assert client.get("/accounts/login/").status_code == 200
    health = client.get("/health/")
    assert health.status_code == 200 and health.json() == {"status": "ok"}


@pytest.mark.django_db
def test_operator_is_forbidden_in_the_admin(client, operator):
    client.force_login(operator)
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/workflows/task/").status_code == 403
