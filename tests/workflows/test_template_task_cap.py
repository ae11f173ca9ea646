"""A template holds at most 500 task definitions: a bigger body is refused with a clear 400
before any task in it is read, and nothing is stored."""

from __future__ import annotations

import time

import pytest

from tests.conftest import refused
from tests.factories import spec
from workflows.models import MAX_TEMPLATE_TASKS, TemplateTask, WorkflowTemplate
from workflows.services import save_template

pytestmark = pytest.mark.django_db


def _tasks(count: int) -> list[dict]:
    return [{"ref": f"t{index}", "title": f"Task {index}"} for index in range(count)]


def test_the_api_refuses_more_tasks_than_the_cap_quickly_naming_the_limit(api):
    started = time.monotonic()
    response = api.post("/api/v1/templates/", {"name": "Huge", "tasks": _tasks(20_000)}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"] == "tasks: a template holds at most 500 tasks; got 20,000."
    assert time.monotonic() - started < 5
    assert not WorkflowTemplate.objects.exists() and not TemplateTask.objects.exists()


def test_the_domain_refuses_more_tasks_than_the_cap_and_accepts_the_cap():
    error = refused(
        lambda: save_template(data={"name": "Huge"}, tasks=_tasks(MAX_TEMPLATE_TASKS + 1)), "validation_error"
    )
    assert error.extra["field"] == "tasks" and error.extra["limit"] == MAX_TEMPLATE_TASKS
    assert not WorkflowTemplate.objects.exists()
    template = save_template(data={"name": "Big"}, tasks=[spec(f"t{index}") for index in range(MAX_TEMPLATE_TASKS)])
    assert template.tasks.count() == MAX_TEMPLATE_TASKS


def test_updating_a_template_past_the_cap_changes_nothing(api):
    template = save_template(data={"name": "Small"}, tasks=[spec("a")])
    response = api.patch(f"/api/v1/templates/{template.pk}/", {"tasks": _tasks(MAX_TEMPLATE_TASKS + 1)}, format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("tasks: a template holds at most")
    assert list(template.tasks.values_list("ref", flat=True)) == ["a"]


@pytest.mark.parametrize("count", ["999999", "9" * 40, "12a", "501x"])
@pytest.mark.parametrize("add_task", [False, True])
def test_the_editor_refuses_a_forged_task_form_count_without_building_the_forms(client, admin_user, count, add_task):
    template = save_template(data={"name": "Small", "stages": ["draft"]}, tasks=[spec("a", stage="draft")])
    client.force_login(admin_user)
    data = {"name": "Renamed", "stages": "draft", "tasks-TOTAL_FORMS": count, "tasks-INITIAL_FORMS": "1"}
    if add_task:
        data["add_task"] = "1"
    started = time.monotonic()
    response = client.post(f"/workflows/templates/{template.pk}/edit/", data)
    assert response.status_code == 400
    assert "A template holds at most 500 tasks" in response.content.decode()
    assert time.monotonic() - started < 5
    template.refresh_from_db()
    assert template.name == "Small" and list(template.tasks.values_list("ref", flat=True)) == ["a"]
