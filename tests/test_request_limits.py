"""Request bodies are bounded before anything parses them: a body over the size cap is refused
from its Content-Length, JSON nested past the depth cap is refused before a parser recurses into
it, and Django's own body limits met inside an API parser are a 400, never a 500."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.parsers import JSONParser

from portal.limits import json_nesting_exceeds
from tests.factories import TaskFactory, upload
from workflows.models import Task, WorkflowTemplate

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100_000
UNKNOWN_ID = "5a1d0c3e-1f7b-4c55-9a61-2b7f3c9d8e01"


def _operations_with_a_body() -> list[tuple[str, str]]:
    """Every (method, path) of the API that takes a body, its path parameters filled with an id
    that names nothing: the refusal comes before any lookup."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        for method in ("post", "put", "patch"):
            if method in operations:
                found.append((method, re.sub(r"\{[^}]+\}", UNKNOWN_ID, path)))
    return sorted(found)


OPERATIONS = _operations_with_a_body()


def test_the_operation_list_covers_the_api():
    assert len(OPERATIONS) >= 21
    assert ("post", "/api/v1/tasks/") in OPERATIONS and ("post", "/api/v1/templates/") in OPERATIONS


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_deeply_nested_json_is_refused_on_every_operation_with_a_body(api, method, path):
    response = getattr(api, method)(path, DEEP, content_type="application/json")

    assert response.status_code == 400, response.content[:200]
    assert response.json() == {"code": "json_too_deep", "detail": "The JSON body is nested more than 32 levels deep."}


def test_deep_nesting_inside_an_object_is_refused_too(api):
    body = b'{"title": "Deep", "due_date": "2028-02-09", "tags": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    response = api.post("/api/v1/tasks/", body, content_type="application/json; charset=utf-8")

    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"
    assert not Task.objects.exists()


def test_nesting_within_the_limit_reaches_the_endpoint_and_its_own_validation(api):
    body = {"title": "Shallow", "due_date": "2028-02-09", "instructions": [[[[["x"]]]]]}

    response = api.post("/api/v1/tasks/", json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_brackets_inside_strings_are_text_not_nesting(api):
    body = {"title": "[" * 5000 + '\\"{' * 100, "due_date": "2028-02-09"}

    response = api.post("/api/v1/tasks/", json.dumps(body), content_type="application/json")

    assert response.status_code == 400  # the title is too long, which the endpoint itself says
    assert response.json()["code"] == "validation_error"
    assert "title" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "deeper"),
    [
        (b"[]", False),
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b'{"a": "' + b"[" * 100 + b'"}', False),
        (b'{"a": "\\\\"}' + b"[" * 40, True),
        (b"[" * 40, True),  # unbalanced: still too deep before any parser sees it
        (b'{"a": {"b": {"c": [1, 2, {"d": []}]}}}', False),
    ],
)
def test_json_nesting_is_measured_on_the_raw_bytes(body, deeper):
    assert json_nesting_exceeds(body, 32) is deeper


def test_a_ten_megabyte_template_is_refused_before_it_is_read(api, monkeypatch):
    tasks = [{"ref": f"t{i}", "title": f"Task {i}"} for i in range(200_000)]
    body = json.dumps({"name": "Huge", "stages": ["draft"], "tasks": tasks}).encode()
    assert len(body) > 8_000_000

    def never(*args, **kwargs):
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(JSONParser, "parse", never)  # it used to cost 19 s before its 400
    started = time.perf_counter()
    response = api.post("/api/v1/templates/", body, content_type="application/json")
    elapsed = time.perf_counter() - started

    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"
    assert response.json()["detail"] == f"The request body is {len(body):,} bytes; the limit is 2,097,152 bytes."
    assert elapsed < 10
    assert not WorkflowTemplate.objects.filter(name="Huge").exists()


def test_the_size_cap_follows_the_setting(api, settings):
    settings.PORTAL_MAX_BODY_BYTES = 1024
    body = json.dumps({"title": "x" * 2000, "due_date": "2028-02-09"})

    response = api.post("/api/v1/tasks/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"
    assert not Task.objects.exists()


def test_a_page_post_over_the_cap_is_a_plain_400(operator):
    client = Client()
    client.force_login(operator)

    response = client.post("/accounts/login/", "x=" + "y" * 3_000_000, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "the limit is 2,097,152 bytes" in response.content.decode()


def test_a_malformed_content_length_is_refused():
    response = Client().post("/api/v1/tasks/", b"{}", content_type="application/json", CONTENT_LENGTH="lots")

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_too_many_form_fields_in_an_api_body_is_a_400_not_a_500(api):
    body = "&".join(f"f{i}=x" for i in range(1_500))

    response = api.post("/api/v1/tasks/", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert response.json()["detail"] == "The request has more than 1,000 fields."
    assert not Task.objects.exists()


def test_a_proof_upload_may_carry_a_file_larger_than_the_body_cap(api, operator, settings):
    settings.PORTAL_MAX_BODY_BYTES = 1024
    task = TaskFactory(assignee=operator)

    response = api.post(
        f"/api/v1/tasks/{task.pk}/proofs/",
        {"kind": "file", "label": "Log", "file": upload("log.txt", b"a" * 4096, "text/plain")},
        format="multipart",
    )

    assert response.status_code == 201, response.content
