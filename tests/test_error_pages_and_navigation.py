"""The page shell: the header's navigation and user menu, and the error pages in the portal's look
(JSON under /api/)."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from portal import errors
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def test_header_links_home_notifications_and_the_user_menu(client, operator):
    client.force_login(operator)
    body = client.get("/notifications/preferences/").content.decode()
    assert '<nav aria-label="Main"' in body
    assert 'href="/"' in body and 'href="/notifications/"' in body
    assert 'href="/notifications/preferences/"' in body and 'href="/api/v1/docs/"' in body
    assert "Log out olivia" in body
    assert 'rel="icon" href="/static/portal/favicon.svg"' in body


def test_admin_link_only_for_admins(client, operator, admin_user):
    client.force_login(operator)
    assert 'href="/admin/"' not in client.get("/").content.decode()
    client.force_login(admin_user)
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_current_section_is_marked(client, operator):
    client.force_login(operator)
    task = TaskFactory(assignee=operator)
    body = client.get(f"/tasks/{task.pk}/").content.decode()
    assert '<a href="/" aria-current="page">Home</a>' in body


def test_unknown_page_answers_the_styled_404(client, operator):
    client.force_login(operator)
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "This page doesn't exist" in body and "portal.css" in body and "Back to Home" in body


def test_unknown_api_path_stays_json(client, operator):
    client.force_login(operator)
    response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


def test_outsider_gets_the_styled_403_with_the_reason(client, outsider):
    client.force_login(outsider)
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 403
    assert "not a member of Operators or Admins" in body and "portal.css" in body
    # No navigation into pages the person may not open, but a way out.
    assert '<nav aria-label="Main"' not in body and "Log out oscar" in body


def test_operator_in_the_admin_gets_the_styled_403(client, operator):
    client.force_login(operator)
    response = client.get("/admin/")
    assert response.status_code == 403 and "The admin is for Admins only." in response.content.decode()


def test_500_page_renders_without_request_context_or_database(django_assert_num_queries):
    request = RequestFactory().get("/tasks/")
    with django_assert_num_queries(0):
        response = errors.server_error(request)
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in body and "portal.css" in body


def test_error_handlers_answer_json_under_the_api():
    factory = RequestFactory()
    server = errors.server_error(factory.get("/api/v1/tasks/"))
    assert server.status_code == 500 and json.loads(server.content)["code"] == "server_error"
    missing = errors.page_not_found(factory.get("/api/v1/tasks/x/"), Exception())
    assert missing.status_code == 404 and json.loads(missing.content)["code"] == "not_found"
    denied = errors.permission_denied(factory.get("/api/v1/tasks/"), Exception())
    assert denied.status_code == 403 and json.loads(denied.content)["code"] == "permission_denied"


def test_error_handlers_are_installed():
    from portal import urls

    assert urls.handler403 == "portal.errors.permission_denied"
    assert urls.handler404 == "portal.errors.page_not_found"
    assert urls.handler500 == "portal.errors.server_error"
