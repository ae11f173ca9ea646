"""Every API error is JSON ``{"code", "detail"}`` (``docs/api.md``): unknown paths, a path given
without its trailing slash (served, not redirected — a redirect loses a POST), and exceptions
nobody expected. Pages keep their HTML errors."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import TaskFactory
from workflows.models import Task, TaskStatus

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/tasks/x/y/z/", "/api/v1/nope"])
def test_an_unknown_api_path_answers_a_json_404(api, method, path):
    response = getattr(api, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"
    assert "/api/v1/" in response.json()["detail"]


def test_an_unknown_api_path_still_asks_for_login_first(anon_api):
    response = anon_api.get("/api/v1/nope/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("debug", [False, True])
def test_a_path_without_its_trailing_slash_is_served_like_the_slashed_one(api, settings, debug):
    settings.DEBUG = debug  # APPEND_SLASH used to answer a POST here with a 500 under DEBUG
    created = api.post("/api/v1/tasks", {"title": "Back up the list", "due_date": "2028-02-09"}, format="json")
    assert created.status_code == 201, created.content
    task_id = created.json()["id"]
    assert api.get("/api/v1/tasks").json()["count"] == 1
    started = api.post(f"/api/v1/tasks/{task_id}/start", format="json")
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    assert Task.objects.get(pk=task_id).status == TaskStatus.IN_PROGRESS


@pytest.mark.parametrize("path", ["/api/v1/home", "/api/v1/notifications", "/api/v1/runs", "/api/v1/schema"])
def test_every_app_answers_without_the_trailing_slash(api, path):
    response = api.get(path)
    assert response.status_code == 200, (path, response.content[:200])


def test_a_path_without_its_slash_keeps_the_endpoints_own_checks(anon_api, outsider):
    assert anon_api.post("/api/v1/tasks", {"title": "x", "due_date": "2028-02-09"}).status_code == 401
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get("/api/v1/tasks").status_code == 403
    assert not Task.objects.exists()


def test_csrf_still_guards_session_posts_without_the_slash(operator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post("/api/v1/tasks", {"title": "x", "due_date": "2028-02-09"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Task.objects.exists()


def test_an_unexpected_error_in_an_api_view_answers_json_500_and_is_logged(api, monkeypatch, caplog):
    def broken(**values):
        raise RuntimeError("secret connection string")

    monkeypatch.setattr("workflows.services.create_manual_task", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = api.post("/api/v1/tasks/", {"title": "x", "due_date": "2028-02-09"}, format="json")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error" and body["detail"]
    assert "secret" not in response.content.decode()
    (record,) = [r for r in caplog.records if r.name == "django.request" and r.levelno == logging.ERROR]
    assert "/api/v1/tasks/" in record.getMessage()
    assert record.exc_info[0] is RuntimeError


def test_an_unexpected_error_in_a_page_still_answers_the_html_500(operator, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("portal.views.render", broken)
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    response = client.get("/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_known_errors_keep_their_codes(api):
    task = TaskFactory(status=TaskStatus.DONE, completed_at="2028-02-01T09:00:00Z")
    response = api.post(f"/api/v1/tasks/{task.pk}/start/", format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_transition"
    response = api.get("/api/v1/tasks/5a1d0c3e-1f7b-4c55-9a61-2b7f3c9d8e01/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_notification_filters_refuse_unknown_names(api):
    response = api.get("/api/v1/notifications/?unred=true")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "unred" in response.json()["detail"]


@pytest.mark.django_db
def test_template_create_refuses_a_form_encoded_body_that_would_drop_its_tasks(api):
    response = api.post("/api/v1/templates/", {"name": "Form template", "tasks": "[]"}, format="multipart")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    from workflows.models import WorkflowTemplate

    assert not WorkflowTemplate.objects.filter(name="Form template").exists()
