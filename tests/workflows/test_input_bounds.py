"""Dates stay on the calendar, numbers and text fit their columns: refused with a clear code
naming the field, through the API and the domain alike, and nothing changes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from portal.selectors import operations_home
from tests.conftest import refused
from tests.factories import (
    ANCHOR,
    TaskFactory,
    launch_result,
    make_template,
    spec,
    task_of,
)
from workflows.models import (
    Proof,
    Run,
    Task,
    TaskComment,
    TaskStatus,
    TemplateTask,
    WorkflowTemplate,
    add_proof,
)
from workflows.services import create_manual_task, instantiate_run, save_template

pytestmark = pytest.mark.django_db

MAX_TEXT_LENGTH = 20_000  # instructions, descriptions, notes, reasons, comments
MAX_ESTIMATE_MINUTES = 100_000
TOO_LONG = "x" * (MAX_TEXT_LENGTH + 1)


@pytest.mark.parametrize(("anchor", "offset"), [(dt.date(1, 1, 1), -2), (dt.date(9999, 12, 31), 1)])
def test_a_run_whose_due_dates_fall_off_the_calendar_is_refused(anchor, offset):
    template = make_template(spec("edge", offset_days=offset))
    error = refused(lambda: instantiate_run(template=template, anchor_date=anchor), "validation_error")
    assert "edge" in error.detail and error.extra["field"] == "anchor_date"
    assert not Run.objects.exists()
    assert not Task.objects.exists()


def test_launching_off_the_calendar_through_the_api_is_a_400(api):
    template = make_template(spec("draft", offset_days=-3))
    response = api.post(f"/api/v1/templates/{template.pk}/launch/", {"anchor_date": "0001-01-01"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not Run.objects.exists()


@pytest.mark.parametrize("offset", [3651, -3651, 10**12])
def test_offset_days_are_bounded_to_ten_years(offset):
    error = refused(lambda: make_template(spec("far", offset_days=offset)), "validation_error")
    assert "offset_days" in error.detail
    assert not WorkflowTemplate.objects.exists()


def test_ten_years_of_offset_is_accepted():
    template = make_template(spec("early", offset_days=-3650), spec("late", offset_days=3650))
    run = launch_result(template).run
    assert task_of(run, "early").due_date == ANCHOR - dt.timedelta(days=3650)


def test_the_api_bounds_offset_days_and_lead_days(api):
    response = api.post(
        "/api/v1/templates/",
        {"name": "Far", "tasks": [{"ref": "a", "title": "A", "offset_days": -4000}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and "offset_days" in response.json()["detail"]
    response = api.post(
        "/api/v1/templates/",
        {"name": "Far", "trigger_lead_days": 4000, "tasks": [{"ref": "a", "title": "A"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("trigger_lead_days:")
    assert not WorkflowTemplate.objects.exists()


def test_lead_days_are_bounded_in_the_domain():
    error = refused(
        lambda: save_template(data={"name": "Far", "trigger_lead_days": 3651}, tasks=[spec("a")]), "validation_error"
    )
    assert error.extra["field"] == "trigger_lead_days"


def test_home_refuses_a_date_outside_the_portals_calendar(api, operator):
    response = api.get("/api/v1/home/", {"date": "2101-01-01"})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"].startswith("date:")
    assert api.get("/api/v1/home/", {"date": "9999-12-24"}).status_code == 400
    assert api.get("/api/v1/home/", {"date": "2100-12-31"}).status_code == 200
    error = refused(lambda: operations_home(today=dt.date(2101, 1, 1), user=operator), "validation_error")
    assert "2100-12-31" in error.detail


def test_estimate_minutes_is_bounded_through_the_api(api):
    base = {"title": "Count the stock", "due_date": "2028-02-09"}
    response = api.post("/api/v1/tasks/", {**base, "estimate_minutes": MAX_ESTIMATE_MINUTES + 1}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("estimate_minutes:")
    assert not Task.objects.exists()
    created = api.post("/api/v1/tasks/", {**base, "estimate_minutes": MAX_ESTIMATE_MINUTES}, format="json")
    assert created.status_code == 201
    patched = api.patch(f"/api/v1/tasks/{created.json()['id']}/", {"estimate_minutes": 2**31}, format="json")
    assert patched.status_code == 400 and patched.json()["detail"].startswith("estimate_minutes:")
    template = api.post(
        "/api/v1/templates/",
        {"name": "Big", "tasks": [{"ref": "a", "title": "A", "estimate_minutes": 2**31}]},
        format="json",
    )
    assert template.status_code == 400 and "estimate_minutes" in template.json()["detail"]


def test_estimate_minutes_is_bounded_in_the_domain():
    error = refused(
        lambda: create_manual_task(title="T", due_date=ANCHOR, estimate_minutes=MAX_ESTIMATE_MINUTES + 1),
        "validation_error",
    )
    assert error.extra["field"] == "estimate_minutes"
    error = refused(lambda: make_template(spec("a", estimate_minutes=2**31)), "validation_error")
    assert "estimate_minutes" in error.detail
    assert not Task.objects.exists() and not TemplateTask.objects.exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("comments", {"body": TOO_LONG}, "body"),
        ("complete", {"note": TOO_LONG}, "note"),
        ("skip", {"reason": TOO_LONG}, "reason"),
        ("wait", {"waiting_for": "Sam", "follow_up_at": "2028-02-10", "note": TOO_LONG}, "note"),
        ("proofs", {"kind": "note", "note": TOO_LONG}, "note"),
    ],
)
def test_over_long_text_is_refused_by_the_api_naming_the_field(api, path, body, field):
    task = TaskFactory()
    response = api.post(f"/api/v1/tasks/{task.pk}/{path}/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"].startswith(f"{field}:")
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO and not Proof.objects.exists()
    assert not TaskComment.objects.filter(task=task).exists()


def test_over_long_instructions_and_descriptions_are_refused_by_the_api(api):
    response = api.post(
        "/api/v1/tasks/", {"title": "T", "due_date": "2028-02-09", "instructions": TOO_LONG}, format="json"
    )
    assert response.status_code == 400 and response.json()["detail"].startswith("instructions:")
    response = api.post("/api/v1/templates/", {"name": "Long", "description": TOO_LONG}, format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("description:")
    response = api.post(
        "/api/v1/templates/",
        {"name": "Long", "tasks": [{"ref": "a", "title": "A", "instructions": TOO_LONG}]},
        format="json",
    )
    assert response.status_code == 400 and "instructions" in response.json()["detail"]
    assert not Task.objects.exists() and not WorkflowTemplate.objects.exists()


def test_over_long_text_is_refused_by_the_domain_naming_the_field(operator):
    task = TaskFactory()
    calls = {
        "body": lambda: task.add_comment(by=operator, body=TOO_LONG),
        "reason": lambda: task.skip(by=operator, reason=TOO_LONG),
        "note": lambda: task.mark_waiting(by=operator, waiting_for="Sam", follow_up_at=ANCHOR, note=TOO_LONG),
        "waiting_for": lambda: task.mark_waiting(by=operator, waiting_for="S" * 301, follow_up_at=ANCHOR, note="n"),
        "instructions": lambda: create_manual_task(title="T", due_date=ANCHOR, instructions=TOO_LONG),
        "description": lambda: save_template(data={"name": "Long", "description": TOO_LONG}, tasks=[spec("a")]),
    }
    for field, call in calls.items():
        assert refused(call, "validation_error").extra["field"] == field
    error = refused(lambda: add_proof(task, kind="note", note=TOO_LONG), "validation_error")
    assert error.extra["field"] == "note"
    run = launch_result(make_template(spec("a"))).run
    assert refused(lambda: run.cancel(reason=TOO_LONG), "validation_error").extra["field"] == "reason"
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO and not Proof.objects.exists()


def test_text_at_the_limit_is_accepted(operator):
    task = TaskFactory()
    comment = task.add_comment(by=operator, body="y" * MAX_TEXT_LENGTH)
    assert len(comment.body) == MAX_TEXT_LENGTH


def test_model_forms_see_the_same_bounds():
    task = Task(title="T", due_date=ANCHOR, instructions=TOO_LONG, estimate_minutes=MAX_ESTIMATE_MINUTES + 1)
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert {"instructions", "estimate_minutes"} <= set(info.value.message_dict)
    template_task = TemplateTask(ref="a", title="A", offset_days=-3651, template=WorkflowTemplate(name="x"))
    with pytest.raises(ValidationError) as info:
        template_task.full_clean(exclude=["template"])
    assert "offset_days" in info.value.message_dict
