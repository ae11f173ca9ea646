"""Text holding NUL or another control character is refused at every door — page forms (plain
and HTMX), API bodies and query strings, the domain — naming the field, and nothing changes.
Tab, line feed and carriage return stay allowed in multi-line text."""

from __future__ import annotations

import pytest
from django.urls import reverse

from recurring.models import RecurringConfig
from tests.factories import TaskFactory, launch_result, make_template, spec
from workflows.errors import DomainError
from workflows.inputs import check_plain_text, control_character_message
from workflows.models import Proof, Run, RunStatus, Task, TaskComment, TaskStatus, WorkflowTemplate

pytestmark = pytest.mark.django_db

MESSAGE = "Control characters are not allowed"
BAD = ["a\x00b", "a\x07b", "a\x1bb", "a\x7fb", "a\x0bb"]


@pytest.mark.parametrize("value", BAD)
def test_the_one_check_refuses_control_characters_naming_them(value):
    assert control_character_message(value).startswith(MESSAGE + " (found U+")
    with pytest.raises(DomainError) as info:
        check_plain_text(value, "body")
    assert info.value.code == "validation_error" and info.value.detail.startswith("body: " + MESSAGE)


def test_tab_line_feed_and_carriage_return_are_plain_text(operator):
    assert control_character_message("one\ttwo\r\nthree\n") is None
    comment = TaskFactory().add_comment(by=operator, body="line one\r\n\tline two")
    assert comment.body == "line one\r\n\tline two"


def _snapshot(task: Task, run: Run | None = None) -> tuple:
    task.refresh_from_db()
    state = (task.status, task.waiting_for, task.title)
    if run is not None:
        run.refresh_from_db()
        state += (run.status, run.cancel_reason, tuple(run.links.values_list("url", flat=True)))
    return state + (TaskComment.objects.count(), Proof.objects.count())


#: (action, form, status without HTMX): a refused form answers 400 with the page and its error;
#: an action posted from Home (``home=1``) sends the plain request back to Home with the refusal
#: as its message. An HTMX request is always answered 400 in place.
TASK_FORMS = [
    ("comment", {"body": "x\x00y"}, 400),
    ("complete", {"note": "done\x00"}, 400),
    ("wait", {"waiting_for": "Sam\x00", "follow_up_at": "2028-02-10", "note": "n"}, 400),
    ("wait", {"waiting_for": "Sam", "follow_up_at": "2028-02-10", "note": "n\x01"}, 400),
    ("skip", {"reason": "no\x00"}, 400),
    ("proof", {"kind": "note", "note": "seen\x00"}, 400),
    ("proof", {"kind": "link", "label": "x", "url": "https://example.com/\x00"}, 400),
    ("comment", {"body": "ok", "home": "1", "home_date": "2028-02-0\x00", "home_scope": "all\x00"}, 302),
]


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(("action", "data", "plain_status"), TASK_FORMS)
def test_task_page_forms_refuse_control_characters_and_change_nothing(
    client, operator, htmx, action, data, plain_status
):
    task = TaskFactory(assignee=operator)
    client.force_login(operator)
    before = _snapshot(task)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(reverse("task-action", args=[task.pk, action]), data, **headers)
    assert response.status_code == (400 if htmx else plain_status)
    assert _snapshot(task) == before


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("links", {"name": "Doc\x00", "url": "https://example.com"}),
        ("links", {"name": "Doc", "url": "https://e.com/\x00"}),
        ("cancel", {"reason": "stop\x00"}),
    ],
)
def test_run_page_forms_refuse_control_characters_and_change_nothing(client, operator, htmx, action, data):
    run = launch_result(make_template(spec("a"), run_links=("Doc",))).run
    client.force_login(operator)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(reverse("run-action", args=[run.pk, action]), data, **headers)
    assert response.status_code == 302  # back to the run page, with the refusal as its message
    run.refresh_from_db()
    assert run.status == RunStatus.ACTIVE and run.cancel_reason == ""
    assert list(run.links.values_list("url", flat=True)) == [""]


TASK_API = [
    ("comments", {"body": "x\x07y"}, "body"),
    ("complete", {"note": "done\x1b"}, "note"),
    ("wait", {"waiting_for": "Sam\x07", "follow_up_at": "2028-02-10", "note": "n"}, "waiting_for"),
    ("skip", {"reason": "no\x07"}, "reason"),
    ("proofs", {"kind": "note", "note": "seen\x07"}, "note"),
]


@pytest.mark.parametrize(("path", "body", "field"), TASK_API)
@pytest.mark.parametrize("char", ["\x00", "\x07"])
def test_task_api_bodies_refuse_control_characters_naming_the_field(api, path, body, field, char):
    task = TaskFactory()
    body = {name: value.replace("\x07", char).replace("\x1b", char) for name, value in body.items()}
    response = api.post(f"/api/v1/tasks/{task.pk}/{path}/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["detail"]
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO and not Proof.objects.exists()
    assert not TaskComment.objects.filter(task=task).exists()


@pytest.mark.parametrize("char", ["\x00", "\x07"])
def test_task_template_and_config_bodies_refuse_control_characters(api, operator, char):
    base = {"title": "T", "due_date": "2028-02-09"}
    for body in (
        {**base, "title": f"T{char}"},
        {**base, "instructions": f"i{char}"},
        {**base, "assignee": f"olivia{char}"},
    ):
        response = api.post("/api/v1/tasks/", body, format="json")
        assert response.status_code == 400, (body, response.content)
    task = TaskFactory()
    for body in ({"title": f"T{char}"}, {"assignee": f"o{char}"}, {"instructions": f"x{char}"}):
        assert api.patch(f"/api/v1/tasks/{task.pk}/", body, format="json").status_code == 400, body
    for body in (
        {"name": f"N{char}", "tasks": [{"ref": "a", "title": "A"}]},
        {"name": "N", "tasks": [{"ref": "a", "title": f"A{char}"}]},
        {"name": "N", "tasks": [{"ref": "a", "title": "A", "assignee": f"olivia{char}"}]},
        {"name": "N", "tasks": [{"ref": "a", "title": "A", "instructions": f"do{char}"}]},
    ):
        assert api.post("/api/v1/templates/", body, format="json").status_code == 400, body
    config = {"title": "Daily", "cron_expression": "0 9 * * *", "timezone": "UTC"}
    for body in (
        {**config, "title": f"D{char}"},
        {**config, "instructions": f"i{char}"},
        {**config, "assignee": f"o{char}"},
    ):
        assert api.post("/api/v1/recurring-configs/", body, format="json").status_code == 400, body
    assert Task.objects.count() == 1 and not WorkflowTemplate.objects.exists() and not RecurringConfig.objects.exists()


@pytest.mark.parametrize("char", ["%00", "%07"])
@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/tasks/?assignee=o{c}",
        "/api/v1/tasks/?status=todo{c}",
        "/api/v1/runs/?template=x{c}",
        "/api/v1/recurring-configs/?enabled=true{c}",
        "/api/v1/notifications/?type=x{c}",
        "/api/v1/home/?scope=all{c}",
    ],
)
def test_query_string_filters_refuse_control_characters(api, query, char):
    response = api.get(query.format(c=char))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"


def test_run_link_and_cancel_reason_through_the_api(api):
    run = launch_result(make_template(spec("a"), run_links=("Doc",))).run
    assert (
        api.post(
            f"/api/v1/runs/{run.pk}/links/", {"name": "Doc\x00", "url": "https://e.com"}, format="json"
        ).status_code
        == 400
    )
    assert (
        api.post(
            f"/api/v1/runs/{run.pk}/links/", {"name": "Doc", "url": "https://e.com/\x07"}, format="json"
        ).status_code
        == 400
    )
    assert api.post(f"/api/v1/runs/{run.pk}/cancel/", {"reason": "x\x07"}, format="json").status_code == 400
    run.refresh_from_db()
    assert run.status == RunStatus.ACTIVE
