"""The operator's task and run pages: every action goes through the model methods, refusals show
their reason, HTMX gets the panel fragment, plain posts redirect."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import TaskFactory
from workflows.models import Run, Task
from workflows.services import instantiate_run, save_template

HX = {"HX-Request": "true"}


@pytest.fixture
def run(operator):
    template = save_template(
        data={"name": "Newsletter", "stages": ["draft", "review"], "run_links": ["Mailchimp newsletter"]},
        tasks=[
            {"ref": "draft", "title": "Draft issue", "stage": "draft", "requires_link": "newsletter link"},
            {
                "ref": "review",
                "title": "Review issue",
                "stage": "review",
                "depends_on": ["draft"],
                "requires_run_links": ["Mailchimp newsletter"],
            },
        ],
    )
    return instantiate_run(template=template, anchor_date=dt.date(2028, 2, 9)).run


def _task(run, ref):
    return run.tasks.get(template_task_ref=ref)


@pytest.mark.django_db
def test_task_page_requires_login(client, run):
    response = client.get(f"/tasks/{_task(run, 'draft').pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_outsider_cannot_open_or_act_on_a_task(client, outsider, run):
    client.force_login(outsider)
    task = _task(run, "draft")
    assert client.get(f"/tasks/{task.pk}/").status_code == 403
    assert client.post(f"/tasks/{task.pk}/start/").status_code == 403
    task.refresh_from_db()
    assert task.status == "todo"


@pytest.mark.django_db
def test_task_page_shows_provenance_requirements_and_history(client, operator, run):
    client.force_login(operator)
    body = client.get(f"/tasks/{_task(run, 'review').pk}/").content.decode()
    assert "Workflow · Newsletter — 2028-02-09" in body
    assert "run link &#x27;Mailchimp newsletter&#x27;" in body
    assert "Draft issue" in body  # dependency list
    assert "blocked" in body


@pytest.mark.django_db
def test_unknown_task_is_404(client, operator):
    client.force_login(operator)
    assert client.get("/tasks/00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.django_db
def test_complete_refused_names_missing_proof_then_passes(client, operator, run):
    client.force_login(operator)
    task = _task(run, "draft")
    refused = client.post(f"/tasks/{task.pk}/complete/", headers=HX)
    assert refused.status_code == 400
    assert "newsletter link" in refused.content.decode()
    assert "<html" not in refused.content.decode()
    task.refresh_from_db()
    assert task.status == "todo"
    added = client.post(
        f"/tasks/{task.pk}/proof/", {"kind": "link", "url": "https://example.com/issue-1", "label": ""}, headers=HX
    )
    assert added.status_code == 200
    done = client.post(f"/tasks/{task.pk}/complete/")
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.status == "done" and task.completed_by == operator


@pytest.mark.django_db
def test_blocked_task_cannot_start_from_the_page(client, operator, run):
    client.force_login(operator)
    task = _task(run, "review")
    response = client.post(f"/tasks/{task.pk}/start/")
    assert response.status_code == 400
    assert "Draft issue" in response.content.decode()
    task.refresh_from_db()
    assert task.status == "todo"


@pytest.mark.django_db
def test_waiting_follow_up_and_response_from_the_page(client, operator):
    task = TaskFactory(assignee=operator)
    client.force_login(operator)
    missing = client.post(f"/tasks/{task.pk}/wait/", {"waiting_for": "Sponsor", "note": ""})
    assert missing.status_code == 400
    assert "follow_up_at" in missing.content.decode() and "note" in missing.content.decode()
    ok = client.post(
        f"/tasks/{task.pk}/wait/", {"waiting_for": "Sponsor", "follow_up_at": "2028-02-05", "note": "Asked"}
    )
    assert ok.status_code == 302
    client.post(f"/tasks/{task.pk}/follow-up-sent/", {"note": "Pinged again", "next_follow_up_at": "2028-02-08"})
    task.refresh_from_db()
    assert task.status == "waiting" and task.follow_up_at == dt.date(2028, 2, 8)
    client.post(f"/tasks/{task.pk}/response-received/", {"note": "They said yes"})
    task.refresh_from_db()
    assert task.status == "todo"
    kinds = list(task.history.values_list("kind", flat=True))
    assert kinds == ["status", "follow_up", "response"]


@pytest.mark.django_db
def test_malformed_date_is_a_clear_error(client, operator):
    task = TaskFactory()
    client.force_login(operator)
    response = client.post(f"/tasks/{task.pk}/wait/", {"waiting_for": "X", "follow_up_at": "next week", "note": "n"})
    assert response.status_code == 400
    assert "is not a date" in response.content.decode()


@pytest.mark.django_db
def test_skip_with_cascade_and_reopen(client, operator, run):
    client.force_login(operator)
    draft = _task(run, "draft")
    client.post(f"/tasks/{draft.pk}/skip/", {"reason": "No issue this week", "cascade": "on"})
    assert set(run.tasks.values_list("status", flat=True)) == {"skipped"}
    refused = client.post(f"/tasks/{draft.pk}/reopen/", {"reason": ""})
    assert refused.status_code == 400
    client.post(f"/tasks/{draft.pk}/reopen/", {"reason": "Issue after all"})
    draft.refresh_from_db()
    assert draft.status == "todo"


@pytest.mark.django_db
def test_file_proof_upload_and_type_refusal(client, operator):
    task = TaskFactory(requires_file=True)
    client.force_login(operator)
    bad = SimpleUploadedFile("x.exe", b"MZ...", content_type="application/x-msdownload")
    refused = client.post(f"/tasks/{task.pk}/proof/", {"kind": "file", "file": bad})
    assert refused.status_code == 400 and "not accepted" in refused.content.decode()
    good = SimpleUploadedFile("report.pdf", b"%PDF-1.4 report", content_type="application/pdf")
    assert client.post(f"/tasks/{task.pk}/proof/", {"kind": "file", "file": good}).status_code == 302
    proof = task.proofs.get()
    assert len(proof.sha256) == 64 and proof.file_name == "report.pdf"


@pytest.mark.django_db
def test_comment_needs_text(client, operator):
    task = TaskFactory()
    client.force_login(operator)
    assert client.post(f"/tasks/{task.pk}/comment/", {"body": " "}).status_code == 400
    assert client.post(f"/tasks/{task.pk}/comment/", {"body": "Looks good"}).status_code == 302
    assert task.history.get().body == "Looks good"


@pytest.mark.django_db
def test_task_page_query_count_does_not_grow_with_history(client, operator, django_assert_max_num_queries):
    task = TaskFactory()
    client.force_login(operator)
    for size in (1, 30):
        for i in range(size):
            task.add_comment(by=operator, body=f"note {i}")
        with django_assert_max_num_queries(16):
            assert client.get(f"/tasks/{task.pk}/").status_code == 200


@pytest.mark.django_db
def test_run_page_fill_link_pause_resume_cancel(client, operator, run):
    client.force_login(operator)
    page = client.get(f"/runs/{run.pk}/")
    assert page.status_code == 200 and "Draft issue" in page.content.decode()
    client.post(f"/runs/{run.pk}/links/", {"name": "Mailchimp newsletter", "url": "https://mc.example.com/c/1"})
    assert run.links.get().url == "https://mc.example.com/c/1"
    client.post(f"/runs/{run.pk}/pause/")
    assert Run.objects.get(pk=run.pk).status == "paused"
    client.post(f"/runs/{run.pk}/resume/")
    response = client.post(f"/runs/{run.pk}/cancel/", {"reason": ""}, follow=True)
    assert "reason is required" in response.content.decode()
    client.post(f"/runs/{run.pk}/cancel/", {"reason": "Event cancelled"})
    assert Run.objects.get(pk=run.pk).status == "cancelled"
    assert Task.objects.filter(run=run).count() == 2  # history kept


@pytest.mark.django_db
def test_run_page_refuses_bad_link(client, operator, run):
    client.force_login(operator)
    response = client.post(f"/runs/{run.pk}/links/", {"name": "Mailchimp newsletter", "url": "not a url"}, follow=True)
    assert "not a valid" in response.content.decode()
    assert run.links.get().url == ""


@pytest.mark.django_db
def test_waiting_task_page_shows_follow_up_not_overdue(client, operator):
    import time_machine

    task = TaskFactory(due_date=dt.date(2028, 2, 1))
    task.mark_waiting(by=operator, waiting_for="Sponsor", follow_up_at=dt.date(2028, 2, 9), note="Asked")
    with time_machine.travel(dt.datetime(2028, 2, 10, 12, tzinfo=dt.UTC), tick=False):
        client.force_login(operator)
        body = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "overdue by" not in body
    assert "follow-up due" in body


@pytest.mark.django_db
def test_a_malformed_flag_is_refused_naming_it_and_changes_nothing(client, operator):
    task = TaskFactory()
    client.force_login(operator)
    response = client.post(f"/tasks/{task.pk}/skip/", {"reason": "Not needed", "cascade": "perhaps"})
    assert response.status_code == 400
    assert "cascade must be true or false" in response.content.decode()
    task.refresh_from_db()
    assert task.status == "todo"


@pytest.mark.django_db
def test_a_follow_up_date_is_read_strictly_like_every_other_door(client, operator):
    task = TaskFactory()
    client.force_login(operator)
    response = client.post(f"/tasks/{task.pk}/wait/", {"waiting_for": "X", "follow_up_at": "20280209", "note": "n"})
    assert response.status_code == 400
    assert "follow_up_at: &#x27;20280209&#x27; is not a date in YYYY-MM-DD form." in response.content.decode()
    task.refresh_from_db()
    assert task.status == "todo"
