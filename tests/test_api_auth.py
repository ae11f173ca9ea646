"""Who may use the REST API: every endpoint refuses anonymous people and outsiders and changes
nothing for them; session, token and basic auth work for members; ``create_api_token``; the
OpenAPI schema and its offline docs."""

from __future__ import annotations

import base64
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notifications.models import Notification, NotificationType
from notifications.services import notify
from tests.factories import UserFactory, launch, make_template, spec, task_of, upload
from workflows.models import Proof, Run, Task, TaskComment, WorkflowTemplate, add_proof

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "tasks/"),
    ("post", "tasks/"),
    ("get", "tasks/{task}/"),
    ("patch", "tasks/{task}/"),
    ("post", "tasks/{task}/start/"),
    ("post", "tasks/{task}/complete/"),
    ("post", "tasks/{task}/wait/"),
    ("post", "tasks/{task}/follow-up-sent/"),
    ("post", "tasks/{task}/response-received/"),
    ("post", "tasks/{task}/skip/"),
    ("post", "tasks/{task}/reopen/"),
    ("post", "tasks/{task}/comments/"),
    ("post", "tasks/{task}/proofs/"),
    ("get", "tasks/{task}/proofs/{proof}/file/"),
    ("get", "templates/"),
    ("post", "templates/"),
    ("get", "templates/{template}/"),
    ("patch", "templates/{template}/"),
    ("post", "templates/{template}/launch/"),
    ("post", "templates/{template}/clone/"),
    ("get", "runs/"),
    ("get", "runs/{run}/"),
    ("post", "runs/{run}/links/"),
    ("post", "runs/{run}/pause/"),
    ("post", "runs/{run}/resume/"),
    ("post", "runs/{run}/cancel/"),
    ("get", "notifications/"),
    ("get", "notifications/{notification}/"),
    ("post", "notifications/{notification}/read/"),
    ("post", "notifications/{notification}/dismiss/"),
    ("post", "notifications/{notification}/acknowledge/"),
    ("get", "home/"),
    ("get", "schema/"),
    ("get", "docs/"),
]
# A body that would succeed for a member, so a refusal can only come from authentication.
BODIES = {
    "tasks/": {"title": "Sneaky", "due_date": "2028-02-09"},
    "tasks/{task}/": {"title": "Changed"},
    "tasks/{task}/complete/": {"note": "done"},
    "tasks/{task}/wait/": {"waiting_for": "x", "follow_up_at": "2028-02-12", "note": "n"},
    "tasks/{task}/skip/": {"reason": "r"},
    "tasks/{task}/comments/": {"body": "hello"},
    "tasks/{task}/proofs/": {"kind": "note", "note": "n"},
    "templates/": {"name": "Sneaky template"},
    "templates/{template}/": {"description": "Changed"},
    "templates/{template}/launch/": {"anchor_date": "2029-01-09"},
    "templates/{template}/clone/": {"name": "Copy"},
    "runs/{run}/links/": {"name": "Doc", "url": "https://x.example"},
    "runs/{run}/cancel/": {"reason": "r"},
    "notifications/{notification}/acknowledge/": {"note": "n"},
}


@pytest.fixture
def world(operator):
    template = make_template(spec("a"), run_links=["Doc"], name="Newsletter")
    run = launch(template)
    task = task_of(run, "a")
    proof = add_proof(task, kind="file", file=upload())
    (notification,) = notify(
        NotificationType.AUTOMATION_FAILURE, recipients=[operator], dedup_key="automation-failure:x", title="Failed"
    )
    return {"task": task.pk, "proof": proof.pk, "template": template.pk, "run": run.pk, "notification": notification.pk}


def snapshot(world: dict) -> tuple:
    notification = Notification.objects.get(pk=world["notification"])
    return (
        Notification.objects.count(),
        Task.objects.count(),
        list(Task.objects.values_list("status", "title")),
        TaskComment.objects.count(),
        Proof.objects.count(),
        WorkflowTemplate.objects.count(),
        list(WorkflowTemplate.objects.values_list("description", flat=True)),
        list(Run.objects.values_list("status", flat=True)),
        (notification.read_at, notification.dismissed_at, notification.acknowledged_at),
    )


def call(client: APIClient, method: str, path: str, world: dict, **extra):
    url = "/api/v1/" + path.format(**world)
    # A GET sends no body: the client would turn it into query parameters, which list endpoints
    # refuse when they are not filters.
    body = None if method == "get" else BODIES.get(path, {})
    return getattr(client, method)(url, body, format="json", **extra)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_requests_are_refused_and_change_nothing(anon_api, world, method, path):
    before = snapshot(world)
    response = call(anon_api, method, path, world)
    assert response.status_code in (401, 403)
    if path not in ("schema/", "docs/"):
        assert response.json()["code"] in ("not_authenticated", "authentication_failed")
    assert snapshot(world) == before


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_outsiders_are_refused_and_change_nothing(world, outsider, method, path):
    client = APIClient()
    client.force_authenticate(outsider)
    before = snapshot(world)
    response = call(client, method, path, world)
    assert response.status_code == 403
    if path not in ("schema/", "docs/"):
        assert response.json()["code"] == "permission_denied"
    assert snapshot(world) == before


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_members_reach_every_endpoint(api, world, method, path):
    response = call(api, method, path, world)
    if response.status_code == 400:
        # Past authentication: the work engine itself answered (e.g. resuming an active run).
        assert response.json()["code"] == "invalid_transition", response.content
    else:
        assert response.status_code in (200, 201), (path, response.content[:300])


def test_a_wrong_token_is_refused(anon_api, world):
    response = anon_api.get("/api/v1/tasks/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "authentication_failed"


def test_token_printed_by_the_command_authenticates(operator):
    out = StringIO()
    call_command("create_api_token", operator.username, stdout=out, stderr=StringIO())
    key = out.getvalue().strip().splitlines()[-1]
    assert key == Token.objects.get(user=operator).key

    client = APIClient()
    assert client.get("/api/v1/tasks/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_command_returns_the_existing_token(operator):
    first, second = StringIO(), StringIO()
    call_command("create_api_token", operator.username, stdout=first, stderr=StringIO())
    call_command("create_api_token", operator.username, stdout=second, stderr=StringIO())
    assert first.getvalue() == second.getvalue()
    assert Token.objects.filter(user=operator).count() == 1


@pytest.mark.parametrize(("username", "reason"), [("ghost", "No user named 'ghost'."), ("sleepy", "inactive")])
def test_command_refuses_unknown_or_inactive_users(username, reason):
    UserFactory(username="sleepy", is_active=False)
    with pytest.raises(CommandError, match=reason) as raised:
        call_command("create_api_token", username, stdout=StringIO(), stderr=StringIO())
    assert "\n" not in str(raised.value)
    assert not Token.objects.exists()


def test_command_warns_when_the_user_cannot_use_the_api(outsider):
    err = StringIO()
    call_command("create_api_token", outsider.username, stdout=StringIO(), stderr=err)
    assert "not in Operators or Admins" in err.getvalue()


def test_basic_auth_works(operator):
    credentials = base64.b64encode(f"{operator.username}:pass-word-123".encode()).decode()
    client = APIClient()
    assert client.get("/api/v1/home/", HTTP_AUTHORIZATION=f"Basic {credentials}").status_code == 200
    wrong = base64.b64encode(f"{operator.username}:nope".encode()).decode()
    refused = client.get("/api/v1/home/", HTTP_AUTHORIZATION=f"Basic {wrong}")
    assert refused.status_code in (401, 403) and refused.json()["code"] == "authentication_failed"


def test_session_auth_works_and_enforces_csrf(operator):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=operator.username, password="pass-word-123")
    assert client.get("/api/v1/tasks/").status_code == 200
    response = client.post("/api/v1/tasks/", {"title": "x", "due_date": "2028-02-09"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Task.objects.exists()


def test_schema_lists_the_paths_and_docs_are_served_offline(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/tasks/",
        "/api/v1/tasks/{id}/",
        "/api/v1/tasks/{id}/follow-up-sent/",
        "/api/v1/tasks/{id}/proofs/{proof_id}/file/",
        "/api/v1/templates/{id}/launch/",
        "/api/v1/templates/{id}/clone/",
        "/api/v1/runs/{id}/links/",
        "/api/v1/runs/{id}/cancel/",
        "/api/v1/notifications/{id}/acknowledge/",
        "/api/v1/home/",
    ):
        assert path in paths, path
    docs = api.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower()


def test_schema_of_these_endpoints_generates_without_warnings():
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    ours = ("workflows/api/", "notifications/api.py", "portal/home_api.py")
    assert [m for m in messages if any(name in m for name in ours)] == []
