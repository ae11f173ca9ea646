"""The admin of the work engine: Admins only, every model listed with a constant number
of queries, saves and status changes through the domain code, history never deleted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    AdminFactory,
    OperatorFactory,
    ProofFactory,
    TaskFactory,
    TemplateFactory,
    TemplateTaskFactory,
    UserFactory,
)
from workflows.models import (
    Proof,
    ProofKind,
    Run,
    RunStatus,
    Task,
    TaskComment,
    TaskStatus,
    TemplateTask,
    WorkflowTemplate,
)
from workflows.services import instantiate_run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Users are created in every test; the production hasher is deliberately slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


ANCHOR = dt.date(2028, 2, 9)


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def run_action(client, model, action: str, objects, **data):
    """Post an admin action on ``objects``; ``data`` fills its intermediate form (then applied)."""
    payload = {"action": action, "_selected_action": [str(o.pk) for o in objects]}
    if data:
        payload.update(data, apply="1")
    return client.post(changelist(model), payload, follow=True)


def form_data(response) -> dict:
    """The POST data a browser would send back for an admin change form as rendered."""
    data: dict = {}

    def put(form, prefix=""):
        for name, field in form.fields.items():
            key = f"{prefix}{name}"
            value = form[name].value()
            if isinstance(value, bool):
                if value:
                    data[key] = "on"
                continue
            if value is None:
                value = ""
            if hasattr(field, "prepare_value") and not isinstance(value, str | list):
                value = field.prepare_value(value)
            if isinstance(value, list) and not hasattr(field, "choices"):
                value = field.prepare_value(value)
            data[key] = "" if value is None else value

    put(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        put(formset.management_form, f"{formset.prefix}-")
        for form in formset.forms:
            put(form, f"{form.prefix}-")
    return data


# --------------------------------------------------------------------------------------------
# Who may enter
# --------------------------------------------------------------------------------------------


def test_operator_is_refused_on_the_admin_index_and_model_pages(client, operator):
    client.force_login(operator)
    assert client.get("/admin/").status_code == 403
    assert client.get(changelist(Task)).status_code == 403


def test_admin_site_lets_in_only_admins_and_superusers():
    factory = RequestFactory()

    def allowed(user) -> bool:
        request = factory.get("/admin/")
        request.user = user
        return admin.site.has_permission(request)

    staff_operator = OperatorFactory(is_staff=True, password=None)
    staff_outsider = UserFactory(is_staff=True, password=None)
    superuser = UserFactory(is_staff=True, is_superuser=True, password=None)
    assert allowed(AdminFactory(password=None))
    assert allowed(superuser)
    assert not allowed(staff_operator)
    assert not allowed(staff_outsider)


def test_admin_reaches_the_index(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert b"Operations portal admin" in response.content


def test_celery_beat_periodic_task_admin_stays_available(admin_client):
    response = admin_client.get("/admin/django_celery_beat/periodictask/")
    assert response.status_code == 200


# --------------------------------------------------------------------------------------------
# Change lists: every model, constant queries
# --------------------------------------------------------------------------------------------


def populate(count: int, *, assignee) -> None:
    """``count`` runs (two tasks each, one with history and proof) and ``count`` manual tasks."""
    template = TemplateFactory(run_links=["LinkedIn"])
    TemplateTaskFactory(template=template, ref="draft", assignee=assignee, requires_run_links=["LinkedIn"])
    TemplateTaskFactory(template=template, ref="review", depends_on=["draft"], stage="review")
    for index in range(count):
        result = instantiate_run(template=template, anchor_date=ANCHOR + dt.timedelta(days=index))
        first = result.run.tasks.get(template_task_ref="draft")
        first.start(by=assignee)
        ProofFactory(task=first, created_by=assignee)
        TaskFactory(assignee=UserFactory(password=None), area=f"Area {index}")


MODELS = [Task, TaskComment, Proof, WorkflowTemplate, TemplateTask, Run]


def test_change_lists_render_with_the_same_number_of_queries_for_more_rows(
    admin_client, admin_user, django_assert_max_num_queries
):
    populate(2, assignee=admin_user)
    small = {}
    for model in MODELS:
        url = changelist(model)
        admin_client.get(url)  # warm per-process caches (content types, templates)
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(url)
        assert response.status_code == 200, url
        small[model] = (len(queries), response.context["cl"].result_count)

    populate(8, assignee=admin_user)
    for model in MODELS:
        query_count, row_count = small[model]
        with django_assert_max_num_queries(query_count):
            response = admin_client.get(changelist(model))
        assert response.status_code == 200
        assert response.context["cl"].result_count > row_count, model


def test_task_change_page_shows_requirements_history_prerequisites_and_proof_download(admin_client, admin_user):
    template = TemplateFactory(run_links=["LinkedIn"])
    TemplateTaskFactory(template=template, ref="draft", title="Draft")
    TemplateTaskFactory(template=template, ref="post", title="Post", depends_on=["draft"], requires_link="Post URL")
    run = instantiate_run(template=template, anchor_date=ANCHOR).run
    post = run.tasks.get(template_task_ref="post")
    post.add_comment(by=admin_user, body="Looking into it")
    proof = Proof.objects.create(
        task=post, kind=ProofKind.FILE, file="x/y/report.pdf", file_name="report.pdf", sha256="ab" * 32
    )

    response = admin_client.get(change_url(post))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Looking into it" in content
    assert "missing: Post URL" in content
    assert "Draft" in content  # the open prerequisite
    assert f"/api/v1/tasks/{post.pk}/proofs/{proof.pk}/file/" in content


def test_run_and_template_change_pages_render(admin_client):
    template = TemplateFactory(
        trigger_type="automatic", trigger_schedule="0 9 * * MON", trigger_timezone="Europe/Berlin"
    )
    TemplateTaskFactory(template=template, ref="draft")
    run = instantiate_run(template=template, anchor_date=ANCHOR).run

    template_page = admin_client.get(change_url(template))
    run_page = admin_client.get(change_url(run))

    assert template_page.status_code == 200
    assert "Monday" in template_page.content.decode()  # the schedule in plain words
    assert run_page.status_code == 200
    assert "0/1 resolved" in run_page.content.decode()


# --------------------------------------------------------------------------------------------
# Templates are saved by save_template
# --------------------------------------------------------------------------------------------


def template_post(name: str, tasks: list[dict], **fields) -> dict:
    data = {
        "name": name,
        "description": "",
        "category": "Newsletter",
        "stages": "draft, review",
        "run_links": "",
        "trigger_type": "manual",
        "trigger_schedule": "",
        "trigger_timezone": "UTC",
        "trigger_lead_days": "0",
        "trigger_starts_on": "",
        "catch_up": "latest",
        "tasks-TOTAL_FORMS": str(len(tasks)),
        "tasks-INITIAL_FORMS": "0",
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "1000",
        "_save": "Save",
        **fields,
    }
    for index, task in enumerate(tasks):
        row = {
            "position": "0",
            "title": task["ref"].title(),
            "stage": "draft",
            "offset_days": "0",
            "priority": "normal",
            "depends_on": "",
            "requires_run_links": "",
            **task,
        }
        data.update({f"tasks-{index}-{key}": value for key, value in row.items()})
    return data


def test_template_whose_dependencies_form_a_cycle_is_refused_naming_the_cycle(admin_client):
    data = template_post(
        "Weekly newsletter",
        [{"ref": "a", "depends_on": "b"}, {"ref": "b", "depends_on": "a"}],
    )

    response = admin_client.post(reverse("admin:workflows_workflowtemplate_add"), data)

    assert response.status_code == 200  # the form again, with the error
    assert "Task dependencies form a cycle: a → b → a." in response.content.decode()
    assert not WorkflowTemplate.objects.exists()
    assert not TemplateTask.objects.exists()


@pytest.mark.parametrize(
    ("tasks", "fields", "error"),
    [
        (
            [{"ref": "a", "depends_on": "ghost"}],
            {},
            "Task &#x27;a&#x27; depends on unknown task ref &#x27;ghost&#x27;.",
        ),
        ([{"ref": "a", "stage": "publish"}], {}, "stage &#x27;publish&#x27; is not one of the template&#x27;s stages"),
        ([{"ref": "a", "requires_run_links": "LinkedIn"}], {}, "requires run link &#x27;LinkedIn&#x27;"),
        ([], {"trigger_type": "automatic", "trigger_schedule": "0 9 * * * *"}, "must have exactly 5 fields"),
        ([], {"trigger_type": "automatic", "trigger_schedule": ""}, "An automatic template needs a trigger_schedule."),
    ],
    ids=["unknown-dependency", "unknown-stage", "unknown-run-link", "six-field-cron", "automatic-without-cron"],
)
def test_template_definition_errors_show_on_the_form_and_save_nothing(admin_client, tasks, fields, error):
    response = admin_client.post(reverse("admin:workflows_workflowtemplate_add"), template_post("T", tasks, **fields))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not WorkflowTemplate.objects.exists()


def test_template_with_tasks_is_created_through_the_domain_code(admin_client, admin_user):
    data = template_post(
        "Weekly newsletter",
        [
            {
                "ref": "review",
                "stage": "review",
                "depends_on": "draft, pick",
                "position": "2",
                "assignee": admin_user.pk,
            },
            {"ref": "draft", "offset_days": "-2", "position": "1", "requires_run_links": "Mailchimp"},
            {"ref": "pick", "offset_days": "-3", "position": "1"},
        ],
        run_links="Mailchimp",
    )

    response = admin_client.post(reverse("admin:workflows_workflowtemplate_add"), data)

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    template = WorkflowTemplate.objects.get()
    assert template.stages == ["draft", "review"]
    assert template.run_links == ["Mailchimp"]
    assert list(template.tasks.values_list("ref", "position")) == [("draft", 0), ("pick", 1), ("review", 2)]
    review = template.tasks.get(ref="review")
    assert review.depends_on == ["draft", "pick"]
    assert review.assignee == admin_user
    assert template.tasks.get(ref="draft").requires_run_links == ["Mailchimp"]


def test_editing_a_template_in_the_admin_replaces_its_definitions_but_not_existing_runs(admin_client):
    template = TemplateFactory(name="Tax report")
    TemplateTaskFactory(template=template, ref="collect", title="Collect")
    TemplateTaskFactory(template=template, ref="submit", title="Submit", depends_on=["collect"])
    run = instantiate_run(template=template, anchor_date=ANCHOR).run
    page = admin_client.get(change_url(template))
    data = form_data(page)
    submit_index = next(i for i in range(2) if data[f"tasks-{i}-ref"] == "submit")
    collect_index = 1 - submit_index
    data[f"tasks-{submit_index}-DELETE"] = "on"
    data[f"tasks-{collect_index}-title"] = "Collect receipts"
    data["_save"] = "Save"

    response = admin_client.post(change_url(template), data)

    assert response.status_code == 302
    assert list(template.tasks.values_list("ref", "title")) == [("collect", "Collect receipts")]
    assert set(run.tasks.values_list("template_task_ref", flat=True)) == {"collect", "submit"}


def test_editing_a_template_into_a_cycle_is_refused_and_keeps_the_old_definitions(admin_client):
    template = TemplateFactory(name="Tax report")
    TemplateTaskFactory(template=template, ref="collect")
    TemplateTaskFactory(template=template, ref="submit", depends_on=["collect"])
    data = form_data(admin_client.get(change_url(template)))
    collect_index = next(i for i in range(2) if data[f"tasks-{i}-ref"] == "collect")
    data[f"tasks-{collect_index}-depends_on"] = "submit"
    data["_save"] = "Save"

    response = admin_client.post(change_url(template), data)

    assert "Task dependencies form a cycle: collect → submit → collect." in response.content.decode()
    assert template.tasks.get(ref="collect").depends_on == []


# --------------------------------------------------------------------------------------------
# Template actions
# --------------------------------------------------------------------------------------------


def test_launch_action_asks_for_the_anchor_date_first(admin_client):
    template = TemplateFactory()

    response = run_action(admin_client, WorkflowTemplate, "launch_run", [template])

    assert response.status_code == 200
    assert "anchor_date" in response.context["form"].fields
    assert not Run.objects.exists()


def test_launch_action_creates_the_run_once_and_then_reports_it_exists(admin_client):
    template = TemplateFactory(name="Newsletter")
    TemplateTaskFactory(template=template, ref="draft")
    TemplateTaskFactory(template=template, ref="send", depends_on=["draft"])

    first = run_action(admin_client, WorkflowTemplate, "launch_run", [template], anchor_date="2028-02-09")
    second = run_action(admin_client, WorkflowTemplate, "launch_run", [template], anchor_date="2028-02-09")

    run = Run.objects.get()
    assert run.anchor_date == ANCHOR
    assert run.tasks.count() == 2
    assert any("Created run" in m and "with 2 task(s)" in m for m in messages_of(first))
    assert any("already exists; no task was missing" in m for m in messages_of(second))


def test_launch_action_reports_recovered_tasks(admin_client):
    template = TemplateFactory()
    TemplateTaskFactory(template=template, ref="draft")
    TemplateTaskFactory(template=template, ref="send")
    run = instantiate_run(template=template, anchor_date=ANCHOR).run
    run.tasks.get(template_task_ref="send").delete()

    response = run_action(admin_client, WorkflowTemplate, "launch_run", [template], anchor_date="2028-02-09")

    assert any("recovered 1 missing task(s)" in m for m in messages_of(response))
    assert run.tasks.count() == 2


def test_launch_action_on_an_archived_template_is_refused_with_the_reason(admin_client):
    template = TemplateFactory(archived_at=dt.datetime(2028, 1, 1, tzinfo=dt.UTC))

    response = run_action(admin_client, WorkflowTemplate, "launch_run", [template], anchor_date="2028-02-09")

    assert any("archived" in m for m in messages_of(response))
    assert not Run.objects.exists()


def test_clone_action_copies_the_template_under_the_new_name(admin_client):
    template = TemplateFactory(name="Newsletter", trigger_type="automatic", trigger_schedule="0 9 * * MON")
    TemplateTaskFactory(template=template, ref="draft")

    run_action(admin_client, WorkflowTemplate, "clone", [template], name="Newsletter (summer)")

    clone = WorkflowTemplate.objects.get(name="Newsletter (summer)")
    assert clone.trigger_type == "manual"
    assert list(clone.tasks.values_list("ref", flat=True)) == ["draft"]


def test_archive_action_hides_the_template_from_launching(admin_client):
    template = TemplateFactory()

    run_action(admin_client, WorkflowTemplate, "archive_templates", [template])

    template.refresh_from_db()
    assert template.archived_at is not None


# --------------------------------------------------------------------------------------------
# Tasks: created and changed through the domain code
# --------------------------------------------------------------------------------------------


def test_manual_task_added_in_the_admin_is_a_manual_task_by_its_creator(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:workflows_task_add"),
        {"title": "  Call the bank ", "due_date": "2028-02-09", "priority": "high", "_save": "Save"},
    )

    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.title, task.source, task.created_by, task.status) == ("Call the bank", "manual", admin_user, "todo")
    assert response.url == reverse("admin:workflows_task_changelist")


def test_status_cannot_be_edited_in_the_task_form(admin_client):
    task = TaskFactory(title="Old title")
    data = form_data(admin_client.get(change_url(task)))
    data.update(title="New title", status="done", _save="Save")

    response = admin_client.post(change_url(task), data)

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.status) == ("New title", TaskStatus.TODO)


def test_complete_action_is_refused_naming_the_missing_evidence(admin_client):
    task = TaskFactory(title="Post on LinkedIn", requires_link="LinkedIn post URL", requires_proof_note=True)

    response = run_action(admin_client, Task, "complete_tasks", [task])

    assert "Post on LinkedIn: Cannot complete: missing LinkedIn post URL, proof note." in messages_of(response)
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO


def test_start_and_complete_actions_move_tasks_and_write_history(admin_client, admin_user):
    tasks = [TaskFactory(), TaskFactory()]

    started = run_action(admin_client, Task, "start_tasks", tasks)
    completed = run_action(admin_client, Task, "complete_tasks", tasks)

    assert "Started 2 tasks." in messages_of(started)
    assert "Completed 2 tasks." in messages_of(completed)
    assert set(Task.objects.values_list("status", flat=True)) == {TaskStatus.DONE}
    assert TaskComment.objects.filter(to_status=TaskStatus.DONE, author=admin_user).count() == 2


def test_start_action_reports_each_blocked_task_and_starts_the_rest(admin_client):
    template = TemplateFactory()
    TemplateTaskFactory(template=template, ref="draft", title="Draft")
    TemplateTaskFactory(template=template, ref="send", title="Send", depends_on=["draft"])
    run = instantiate_run(template=template, anchor_date=ANCHOR).run

    response = run_action(admin_client, Task, "start_tasks", run.tasks.all())

    assert "Started 1 task." in messages_of(response)
    assert "Send: Cannot start: waiting on prerequisite task(s) 'Draft'." in messages_of(response)


def test_skip_action_needs_a_reason_from_its_form(admin_client):
    task = TaskFactory()

    without_reason = run_action(admin_client, Task, "skip_tasks", [task], reason="")
    with_reason = run_action(admin_client, Task, "skip_tasks", [task], reason="Holiday week")

    assert without_reason.context["form"].errors == {"reason": ["This field is required."]}
    assert "Skipped 1 task." in messages_of(with_reason)
    task.refresh_from_db()
    assert task.status == TaskStatus.SKIPPED
    assert task.history.get(to_status=TaskStatus.SKIPPED).body == "Holiday week"


def test_skip_with_cascade_skips_dependents(admin_client):
    template = TemplateFactory()
    TemplateTaskFactory(template=template, ref="draft")
    TemplateTaskFactory(template=template, ref="send", depends_on=["draft"])
    run = instantiate_run(template=template, anchor_date=ANCHOR).run

    response = run_action(
        admin_client, Task, "skip_tasks", [run.tasks.get(template_task_ref="draft")], reason="No issue", cascade="on"
    )

    assert any(m.startswith("Also skipped 1 dependent task(s)") for m in messages_of(response))
    assert set(run.tasks.values_list("status", flat=True)) == {TaskStatus.SKIPPED}


def test_reopen_action_refuses_an_open_task_and_reopens_a_done_one(admin_client, admin_user):
    open_task = TaskFactory(title="Open one")
    done_task = TaskFactory(title="Done one")
    done_task.complete(by=admin_user)

    response = run_action(admin_client, Task, "reopen_tasks", [open_task, done_task], reason="Numbers were wrong")

    assert "Reopened 1 task." in messages_of(response)
    assert any(m.startswith("Open one: Cannot reopen a task that is to do") for m in messages_of(response))
    done_task.refresh_from_db()
    assert done_task.status == TaskStatus.TODO


def test_waiting_follow_up_and_response_actions_drive_a_waiting_task(admin_client):
    task = TaskFactory()

    run_action(admin_client, Task, "wait_tasks", [task], waiting_for="Sponsor", follow_up_at="2028-02-12", note="Asked")
    task.refresh_from_db()
    assert (task.status, task.waiting_for, task.follow_up_at) == ("waiting", "Sponsor", dt.date(2028, 2, 12))

    run_action(admin_client, Task, "follow_up_sent", [task], note="Pinged again", next_follow_up_at="2028-02-15")
    task.refresh_from_db()
    assert (task.status, task.follow_up_at) == ("waiting", dt.date(2028, 2, 15))

    run_action(admin_client, Task, "response_received", [task], note="They answered")
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO


def test_add_proof_action_lets_a_task_with_a_link_requirement_complete(admin_client):
    task = TaskFactory(requires_link="LinkedIn post URL")

    run_action(
        admin_client,
        Task,
        "add_task_proof",
        [task],
        kind="link",
        label="LinkedIn post URL",
        url="https://linkedin.example/p/1",
        note="",
    )
    response = run_action(admin_client, Task, "complete_tasks", [task])

    assert "Completed 1 task." in messages_of(response)
    assert task.proofs.get().url == "https://linkedin.example/p/1"


def test_add_proof_action_shows_the_domain_refusal(admin_client):
    task = TaskFactory()

    response = run_action(admin_client, Task, "add_task_proof", [task], kind="link", label="", url="not a url", note="")

    assert any("is not a valid http(s) URL" in m for m in messages_of(response))
    assert not task.proofs.exists()


def test_archive_action_keeps_the_task_and_records_it(admin_client):
    task = TaskFactory()

    run_action(admin_client, Task, "archive_tasks", [task])

    task.refresh_from_db()
    assert task.archived_at is not None
    assert task.history.filter(body="Archived.").exists()


# --------------------------------------------------------------------------------------------
# History is never deleted
# --------------------------------------------------------------------------------------------


def test_deleting_a_task_with_history_is_refused_with_an_explanation(admin_client, admin_user):
    task = TaskFactory(title="Bookkeeping")
    task.start(by=admin_user)
    delete_url = reverse("admin:workflows_task_delete", args=[task.pk])

    page = admin_client.post(delete_url, {"post": "yes"}, follow=True)
    bulk = admin_client.post(
        changelist(Task), {"action": "delete_selected", "_selected_action": [str(task.pk)], "post": "yes"}, follow=True
    )

    assert Task.objects.filter(pk=task.pk).exists()
    expected = "Task 'Bookkeeping' has 1 history entry and 0 proof items; deleting it would lose them."
    assert any(m.startswith(expected) and "Archive it instead" in m for m in messages_of(page))
    assert any(m.startswith(expected) for m in messages_of(bulk))


def test_a_task_without_history_can_still_be_deleted(admin_client):
    task = TaskFactory()

    response = admin_client.post(
        changelist(Task), {"action": "delete_selected", "_selected_action": [str(task.pk)], "post": "yes"}, follow=True
    )

    assert response.status_code == 200
    assert not Task.objects.filter(pk=task.pk).exists()


def test_deleting_a_run_with_tasks_or_a_template_with_runs_is_refused(admin_client):
    template = TemplateFactory(name="Newsletter")
    TemplateTaskFactory(template=template, ref="draft")
    run = instantiate_run(template=template, anchor_date=ANCHOR).run

    run_response = admin_client.post(reverse("admin:workflows_run_delete", args=[run.pk]), {"post": "yes"}, follow=True)
    template_response = admin_client.post(
        changelist(WorkflowTemplate),
        {"action": "delete_selected", "_selected_action": [str(template.pk)], "post": "yes"},
        follow=True,
    )

    assert Run.objects.filter(pk=run.pk).exists()
    assert WorkflowTemplate.objects.filter(pk=template.pk).exists()
    assert any("has 1 task; deleting it would lose their history. Cancel it" in m for m in messages_of(run_response))
    assert any("Template 'Newsletter' has 1 run;" in m for m in messages_of(template_response))


def test_proof_and_history_are_read_only_and_never_deleted(admin_client):
    proof = ProofFactory()
    entry = proof.task.add_comment(by=None, body="Note")

    proof_response = admin_client.post(reverse("admin:workflows_proof_delete", args=[proof.pk]), follow=True)
    entry_response = admin_client.post(reverse("admin:workflows_taskcomment_delete", args=[entry.pk]), follow=True)

    assert Proof.objects.filter(pk=proof.pk).exists()
    assert TaskComment.objects.filter(pk=entry.pk).exists()
    assert any("is evidence and is never deleted" in m for m in messages_of(proof_response))
    assert any("never deleted" in m for m in messages_of(entry_response))
    assert admin_client.get(change_url(proof)).context["has_change_permission"] is False


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


def test_run_pause_resume_and_cancel_actions_go_through_the_run(admin_client):
    template = TemplateFactory()
    TemplateTaskFactory(template=template, ref="draft")
    run = instantiate_run(template=template, anchor_date=ANCHOR).run

    run_action(admin_client, Run, "pause_runs", [run])
    run.refresh_from_db()
    assert run.status == RunStatus.PAUSED
    refused = run_action(admin_client, Run, "pause_runs", [run])
    assert any("Only an active run can be paused" in m for m in messages_of(refused))

    run_action(admin_client, Run, "resume_runs", [run])
    run.refresh_from_db()
    assert run.status == RunStatus.ACTIVE

    run_action(admin_client, Run, "cancel_runs", [run], reason="Issue dropped")
    run.refresh_from_db()
    assert (run.status, run.cancel_reason) == (RunStatus.CANCELLED, "Issue dropped")


def test_run_link_is_filled_from_the_run_page_and_a_bad_url_is_refused(admin_client, admin_user):
    template = TemplateFactory(run_links=["Mailchimp newsletter"])
    TemplateTaskFactory(template=template, ref="draft")
    run = instantiate_run(template=template, anchor_date=ANCHOR).run
    data = form_data(admin_client.get(change_url(run)))
    data.update({"links-0-url": "ftp://example.com/x", "_save": "Save"})

    refused = admin_client.post(change_url(run), data)
    data["links-0-url"] = "https://mailchimp.example/c/1"
    accepted = admin_client.post(change_url(run), data)

    assert refused.status_code == 200
    assert "is not a valid http(s) URL" in refused.content.decode()
    assert accepted.status_code == 302
    link = run.links.get()
    assert (link.url, link.updated_by) == ("https://mailchimp.example/c/1", admin_user)


def test_runs_are_launched_from_templates_not_added_by_hand(admin_client):
    assert admin_client.get(reverse("admin:workflows_run_add")).status_code == 403
