"""Editing a task (and a template's task definitions) in the admin keeps the rules the API keeps:
work goes only to active portal members, a done or skipped task's proof requirements are fixed,
and every edit leaves the same "Edited …" history entry an API edit leaves."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from tests.factories import OperatorFactory, TaskFactory, TemplateFactory, TemplateTaskFactory
from tests.workflows.test_admin import change_url, form_data, template_post
from workflows.errors import DomainError
from workflows.models import CommentKind, Task, TaskComment, TaskStatus, TemplateTask, WorkflowTemplate

pytestmark = pytest.mark.django_db

REQUIREMENTS = ("requires_link", "requires_file", "requires_proof_note")


@pytest.fixture
def former_operator(db):
    """Once an operator; the account is deactivated but still owns work."""
    return OperatorFactory(username="fiona", is_active=False)


def resolve(task: Task, status: str) -> Task:
    """A done or skipped task, as the transitions leave it."""
    task.status = status
    task.completed_at = timezone.now() if status == TaskStatus.DONE else None
    task.save()
    return task


def edit_in_admin(client, task: Task, **changes):
    """Post the task's change form as the browser renders it, with ``changes`` applied."""
    data = form_data(client.get(change_url(task)))
    data.update({name: value for name, value in changes.items() if value is not False})
    for name in [name for name, value in changes.items() if value is False]:
        data.pop(name, None)  # an unticked checkbox is simply absent
    data["_save"] = "Save"
    return client.post(change_url(task), data)


def edit_entries(task: Task) -> list[TaskComment]:
    return list(TaskComment.objects.filter(task=task, kind=CommentKind.EVENT))


def assignee_choices(form) -> set[str]:
    return set(form.fields["assignee"].queryset.values_list("username", flat=True))


# --------------------------------------------------------------------------------------------
# Assignee: active portal members only
# --------------------------------------------------------------------------------------------


def test_task_form_offers_only_active_portal_members_as_assignee(admin_client, admin_user, operator, outsider):
    OperatorFactory(username="ines", is_active=False)
    task = TaskFactory()

    change_form = admin_client.get(change_url(task)).context["adminform"].form
    add_form = admin_client.get(reverse("admin:workflows_task_add")).context["adminform"].form

    assert assignee_choices(change_form) == {"adam", "olivia"}
    assert assignee_choices(add_form) == {"adam", "olivia"}


@pytest.mark.parametrize("who", ["outsider", "former_operator"])
def test_assigning_a_task_to_someone_outside_the_portal_is_refused_and_changes_nothing(admin_client, request, who):
    person = request.getfixturevalue(who)
    task = TaskFactory(title="Back up the mailing list")

    response = edit_in_admin(admin_client, task, assignee=str(person.pk), title="Renamed")

    assert response.status_code == 200  # the form again, with the reason
    assert "Only active members of Operators or Admins can be assigned work" in response.content.decode()
    task.refresh_from_db()
    assert (task.assignee, task.title) == (None, "Back up the mailing list")
    assert not edit_entries(task)


def test_adding_a_task_for_an_outsider_is_refused(admin_client, outsider):
    response = admin_client.post(
        reverse("admin:workflows_task_add"),
        {"title": "Call the bank", "due_date": "2028-02-09", "priority": "normal", "assignee": outsider.pk},
    )

    assert response.status_code == 200
    assert "Only active members of Operators or Admins can be assigned work" in response.content.decode()
    assert not Task.objects.exists()


def test_a_task_keeps_its_former_operator_while_other_fields_are_edited(admin_client, former_operator):
    task = TaskFactory(title="Dump Slack", assignee=former_operator)

    form = admin_client.get(change_url(task)).context["adminform"].form
    response = edit_in_admin(admin_client, task, title="Dump Slack (January)")

    assert "fiona" in assignee_choices(form)  # shown as it is, not silently blanked
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.assignee) == ("Dump Slack (January)", former_operator)


def test_assigning_someone_who_left_after_the_form_was_validated_is_refused_on_save(admin_user, operator):
    task = TaskFactory()
    model_admin, request = admin.site._registry[Task], RequestFactory().post("/")
    request.user = admin_user
    form = model_admin.get_form(request, task, change=True)(
        data={"title": task.title, "due_date": "2028-02-02", "priority": "normal", "assignee": operator.pk},
        instance=task,
    )
    assert form.is_valid(), form.errors
    operator.is_active = False
    operator.save()

    with pytest.raises(DomainError, match="olivia"):
        model_admin.save_model(request, form.save(commit=False), form, change=True)

    task.refresh_from_db()
    assert task.assignee is None


# --------------------------------------------------------------------------------------------
# Proof requirements of a resolved task are fixed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [TaskStatus.DONE, TaskStatus.SKIPPED])
def test_requirement_fields_are_read_only_once_a_task_is_resolved(admin_client, status):
    task = resolve(TaskFactory(title="Post on LinkedIn"), status)

    page = admin_client.get(change_url(task))
    response = edit_in_admin(
        admin_client, task, requires_file="on", requires_proof_note="on", requires_link="Post URL", title="Posted"
    )

    assert not set(REQUIREMENTS) & set(page.context["adminform"].form.fields)
    assert "reopen it to change them" in page.content.decode()
    assert response.status_code == 302  # the rest of the edit is kept
    task.refresh_from_db()
    assert (task.title, task.requires_file, task.requires_proof_note, task.requires_link) == (
        "Posted",
        False,
        False,
        "",
    )
    assert task.missing_requirements() == []


def test_form_validation_refuses_a_requirement_change_on_a_resolved_task(admin_user):
    task = TaskFactory()
    model_admin, request = admin.site._registry[Task], RequestFactory().get("/")
    request.user = admin_user
    form_class = model_admin.get_form(request, task, change=True)  # built while the task was open
    resolve(task, TaskStatus.DONE)

    form = form_class(
        data={"title": task.title, "due_date": "2028-02-02", "priority": "normal", "requires_file": "on"},
        instance=Task.objects.get(pk=task.pk),
    )

    assert not form.is_valid()
    assert "reopen it first" in str(form.errors["requires_file"])


def test_a_task_completed_while_its_form_was_open_keeps_its_requirements(admin_user):
    task = TaskFactory()
    model_admin, request = admin.site._registry[Task], RequestFactory().post("/")
    request.user = admin_user
    form = model_admin.get_form(request, task, change=True)(
        data={"title": task.title, "due_date": "2028-02-02", "priority": "normal", "requires_proof_note": "on"},
        instance=task,
    )
    assert form.is_valid(), form.errors
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.DONE, completed_at=timezone.now())

    with pytest.raises(DomainError, match="reopen it first"):
        model_admin.save_model(request, form.save(commit=False), form, change=True)

    task.refresh_from_db()
    assert task.requires_proof_note is False
    assert not edit_entries(task)


def test_requirements_of_an_open_task_stay_editable(admin_client):
    task = TaskFactory(status=TaskStatus.IN_PROGRESS)

    response = edit_in_admin(admin_client, task, requires_file="on", requires_link="Report URL")

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.requires_file, task.requires_link) == (True, "Report URL")
    assert task.missing_requirements() == ["Report URL", "file"]


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


def test_admin_edit_writes_the_same_history_entry_as_an_api_edit(admin_client, admin_user, api, operator):
    edited_in_admin = TaskFactory(due_date=dt.date(2028, 2, 2), priority="normal")
    edited_by_api = TaskFactory(due_date=dt.date(2028, 2, 2), priority="normal")

    response = edit_in_admin(
        admin_client, edited_in_admin, due_date="2028-02-10", priority="high", assignee=str(operator.pk)
    )
    api.patch(
        f"/api/v1/tasks/{edited_by_api.pk}/",
        {"due_date": "2028-02-10", "priority": "high", "assignee": "olivia"},
        format="json",
    )

    assert response.status_code == 302
    [admin_entry] = edit_entries(edited_in_admin)
    [api_entry] = edit_entries(edited_by_api)
    assert admin_entry.author == admin_user
    assert admin_entry.body.startswith("Edited ")
    assert (admin_entry.body, admin_entry.data) == (api_entry.body, api_entry.data)
    assert admin_entry.data["changes"] == {
        "priority": ["normal", "high"],
        "due_date": ["2028-02-02", "2028-02-10"],
        "assignee": [None, "olivia"],
    }


def test_admin_history_shows_each_edited_field_with_its_old_and_new_value(admin_client):
    task = TaskFactory(title="Check invoices", due_date=dt.date(2028, 2, 2))
    edit_in_admin(admin_client, task, title="Check receipts", due_date="2028-02-10")

    content = admin_client.get(change_url(task)).content.decode()

    assert "title: Check invoices → Check receipts" in content
    assert "due date: 2028-02-02 → 2028-02-10" in content


def test_saving_the_task_form_unchanged_writes_no_history(admin_client):
    task = TaskFactory()

    response = edit_in_admin(admin_client, task)

    assert response.status_code == 302
    assert not TaskComment.objects.filter(task=task).exists()


# --------------------------------------------------------------------------------------------
# Template task definitions
# --------------------------------------------------------------------------------------------


def test_template_task_assignee_choices_are_active_portal_members(admin_client, outsider, former_operator, operator):
    page = admin_client.get(reverse("admin:workflows_workflowtemplate_add"))

    [inline] = page.context["inline_admin_formsets"]
    assert assignee_choices(inline.formset.forms[0]) == {"adam", "olivia"}


@pytest.mark.parametrize("who", ["outsider", "former_operator"])
def test_template_task_assigned_outside_the_portal_is_refused(admin_client, request, who):
    person = request.getfixturevalue(who)
    data = template_post("Weekly newsletter", [{"ref": "draft", "assignee": str(person.pk)}])

    response = admin_client.post(reverse("admin:workflows_workflowtemplate_add"), data)

    assert response.status_code == 200
    assert "Only active members of Operators or Admins can be assigned work" in response.content.decode()
    assert not WorkflowTemplate.objects.exists()


def test_template_keeps_a_former_operator_on_an_untouched_definition(admin_client, former_operator):
    template = TemplateFactory(name="Tax report")
    TemplateTaskFactory(template=template, ref="collect", assignee=former_operator)
    data = form_data(admin_client.get(change_url(template)))
    data.update(description="Monthly", _save="Save")

    response = admin_client.post(change_url(template), data)

    assert response.status_code == 302
    assert TemplateTask.objects.get(template=template, ref="collect").assignee == former_operator
