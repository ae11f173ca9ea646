"""``/api/v1/tasks/``: listing, creating, editing, every transition rule of
``docs/task-states.md``, comments and proof."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from tests.conftest import refused
from tests.factories import (
    DAY,
    OperatorFactory,
    TaskFactory,
    UserFactory,
    launch,
    make_config,
    make_template,
    recurring_task,
    spec,
    task_in,
    task_of,
    upload,
)
from workflows.models import Proof, Task, TaskComment

pytestmark = pytest.mark.django_db

TASKS = "/api/v1/tasks/"
ALL_STATUSES = ("todo", "in_progress", "waiting", "done", "skipped")


def url(task: Task, action: str = "") -> str:
    return f"{TASKS}{task.pk}/" + (f"{action}/" if action else "")


# ---- reading ----------------------------------------------------------------------------------


def test_detail_shows_provenance_requirements_proofs_and_history(api, operator):
    template = make_template(
        spec("draft", requires_link="Newsletter link", requires_run_links=["Mailchimp"]),
        spec("send", depends_on=["draft"]),
        run_links=["Mailchimp"],
    )
    run = launch(template)
    draft, send = task_of(run, "draft"), task_of(run, "send")
    api.post(url(draft, "comments"), {"body": "Started the outline."}, format="json")

    body = api.get(url(draft)).json()

    assert body["id"] == str(draft.pk)
    assert body["source"] == "template"
    assert body["source_label"] == f"Workflow · {run.title}"
    assert body["run"] == {"id": str(run.pk), "title": run.title, "status": "active"}
    assert body["template_task_ref"] == "draft"
    assert body["recurring_config"] is None and body["window_date"] is None
    assert body["due_date"] == DAY.isoformat()
    assert body["requirements"] == [
        {"kind": "link", "name": "Newsletter link", "met": False},
        {"kind": "run_link", "name": "run link 'Mailchimp'", "met": False},
    ]
    assert body["missing_requirements"] == ["Newsletter link", "run link 'Mailchimp'"]
    assert body["run_links"] == [{"name": "Mailchimp", "url": "", "filled": False, "required": True}]
    assert [entry["body"] for entry in body["history"]] == ["Started the outline."]
    assert body["history"][0]["author"] == operator.username
    assert body["created_at"].endswith("Z") or "+" in body["created_at"]
    send_body = api.get(url(send)).json()
    assert send_body["blocked_by"] == [{"id": str(draft.pk), "title": draft.title, "status": "todo"}]
    assert send_body["depends_on"] == [str(draft.pk)]


def test_recurring_task_names_its_config_and_window(api):
    config = make_config("Handle Slack invites")
    task = recurring_task(config, DAY)

    body = api.get(url(task)).json()

    assert body["source"] == "recurring"
    assert body["recurring_config"] == {"id": str(config.pk), "title": "Handle Slack invites"}
    assert body["window_date"] == "2028-02-09"
    assert body["source_label"] == "Recurring · Handle Slack invites"


@pytest.mark.parametrize("task_id", ["3f2b8c1e-0000-4000-8000-000000000000", "not-a-uuid"])
def test_unknown_task_is_404_with_the_error_shape(api, task_id):
    response = api.get(f"{TASKS}{task_id}/")
    refused(response, "not_found", status=404)


# ---- listing and filters ----------------------------------------------------------------------


def test_list_is_paginated_with_a_results_list(api):
    TaskFactory.create_batch(3)
    body = api.get(TASKS, {"page_size": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


def test_list_filters(api, operator):
    config = make_config()
    from_config = recurring_task(config, DAY)
    run = launch(make_template(spec("a")))
    from_run = task_of(run, "a")
    mine = TaskFactory(title="mine", assignee=operator, due_date=DAY - dt.timedelta(days=2))
    waiting = task_in("waiting", due_date=DAY + dt.timedelta(days=5))
    TaskFactory(title="archived", due_date=DAY, archived_at=dt.datetime(2028, 1, 1, tzinfo=dt.UTC))

    def ids(**query) -> set[str]:
        response = api.get(TASKS, query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="waiting") == {str(waiting.pk)}
    assert ids(status="todo,waiting") == {str(t.pk) for t in (from_config, from_run, mine, waiting)}
    assert ids(source="recurring") == {str(from_config.pk)}
    assert ids(due_date=DAY.isoformat()) == {str(from_config.pk), str(from_run.pk)}
    assert ids(due_before=DAY.isoformat()) == {str(mine.pk)}
    assert ids(assignee=operator.username) == {str(mine.pk)}
    assert ids(recurring_config=str(config.pk)) == {str(from_config.pk)}
    assert ids(run=str(run.pk)) == {str(from_run.pk)}
    assert len(ids(include_archived="true")) == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "finished"}, "status"),
        ({"source": "email"}, "source"),
        ({"due_date": "09/02/2028"}, "due_date"),
        ({"due_before": "2028-13-01"}, "due_before"),
        ({"assignee": "nobody-here"}, "assignee"),
        ({"recurring_config": "42"}, "recurring_config"),
        ({"run": "x"}, "run"),
    ],
)
def test_bad_filters_are_refused_naming_the_filter(api, query, field):
    body = refused(api.get(TASKS, query), "validation_error")
    assert body["detail"].startswith(f"{field}:")


@pytest.mark.parametrize("size", [3, 30])
def test_list_uses_a_constant_number_of_queries(api, operator, django_assert_max_num_queries, size):
    template = make_template(
        spec("a", requires_link="Post URL", requires_run_links=["Doc"]),
        spec("b", depends_on=["a"], requires_file=True),
        run_links=["Doc"],
    )
    config = make_config()
    for index in range(size):
        run = launch(template, DAY + dt.timedelta(days=index))
        task = task_of(run, "a")
        api.post(url(task, "proofs"), {"kind": "note", "note": "n"}, format="json")
        recurring_task(config, DAY + dt.timedelta(days=index), assignee=operator)
    # groups of the user + count + page + proofs + required run links + dependencies + links of runs
    with django_assert_max_num_queries(7):
        response = api.get(TASKS, {"page_size": 500})
    assert response.status_code == 200
    assert len(response.json()["results"]) == size * 3


# ---- creating and editing ---------------------------------------------------------------------


def test_create_manual_task(api, operator):
    response = api.post(
        TASKS,
        {
            "title": "Renew the domain",
            "due_date": "2028-02-10",
            "due_time": "09:30",
            "assignee": operator.username,
            "priority": "high",
            "requires_link": "Invoice URL",
            "estimate_minutes": 15,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    task = Task.objects.get(pk=body["id"])
    assert task.source == "manual" and task.created_by == operator
    assert body["assignee"] == operator.username
    assert body["due_time"] == "09:30:00"
    assert body["missing_requirements"] == ["Invoice URL"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"due_date": "2028-02-10"}, "title"),
        ({"title": "x"}, "due_date"),
        ({"title": "x", "due_date": "tomorrow"}, "due_date"),
        ({"title": "x", "due_date": "2028-02-10", "assignee": "ghost"}, "assignee"),
        ({"title": "x", "due_date": "2028-02-10", "estimate_minutes": "lots"}, "estimate_minutes"),
        ({"title": "x", "due_date": "2028-02-10", "priority": "whenever"}, "priority"),
        ({"title": "x", "due_date": "2028-02-10", "status": "done"}, "status"),
        ({"title": "x", "due_date": "2028-02-10", "instructions_url": "not a url"}, "instructions_url"),
    ],
)
def test_create_refuses_bad_input_and_creates_nothing(api, payload, field):
    body = refused(api.post(TASKS, payload, format="json"), "validation_error")
    assert body["detail"].startswith(f"{field}:")
    assert not Task.objects.exists()


def test_create_refuses_assigning_to_someone_outside_the_portal(api):
    UserFactory(username="visitor")
    body = refused(
        api.post(TASKS, {"title": "x", "due_date": "2028-02-10", "assignee": "visitor"}, format="json"),
        "validation_error",
    )
    assert "visitor" in body["detail"]


def test_patch_edits_plain_fields_and_records_the_change(api, operator):
    task = TaskFactory(title="Old", due_date=DAY)
    other = OperatorFactory(username="paula")

    response = api.patch(
        url(task),
        {"title": "New", "due_date": "2028-02-12", "assignee": other.username, "area": "Finance"},
        format="json",
    )

    assert response.status_code == 200, response.content
    task.refresh_from_db()
    assert (task.title, task.due_date, task.assignee, task.area) == ("New", dt.date(2028, 2, 12), other, "Finance")
    entry = TaskComment.objects.get(task=task)
    assert entry.author == operator
    assert entry.data["changes"]["due_date"] == ["2028-02-09", "2028-02-12"]
    assert entry.data["changes"]["assignee"] == [None, "paula"]


def test_patch_refuses_status_changes(api):
    task = task_in("todo")
    body = refused(api.patch(url(task), {"status": "done", "title": "x"}, format="json"), "invalid_transition")
    assert "/complete/" in body["detail"]
    task.refresh_from_db()
    assert (task.status, task.title) != ("done", "x")
    assert task.status == "todo"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"source": "recurring"}, "source"),
        ({"due_date": "2028-02-31"}, "due_date"),
        ({"assignee": "ghost"}, "assignee"),
        ({"title": ""}, "title"),
        ({"estimate_minutes": -5}, "estimate_minutes"),
    ],
)
def test_patch_refuses_bad_input_and_changes_nothing(api, payload, field):
    task = TaskFactory(title="Keep", due_date=DAY)
    body = refused(api.patch(url(task), {**payload, "area": "Changed"}, format="json"), "validation_error")
    assert body["detail"].startswith(f"{field}:")
    task.refresh_from_db()
    assert task.area == "" and task.title == "Keep"


def test_put_is_not_offered(api):
    task = TaskFactory()
    response = api.put(url(task), {"title": "x", "due_date": "2028-02-10"}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# ---- transitions: what is allowed ---------------------------------------------------------------

VALID_BODIES = {
    "start": {},
    "complete": {"note": "All good."},
    "wait": {"waiting_for": "Sponsor", "follow_up_at": "2028-02-12", "note": "Asked for the logo."},
    "follow-up-sent": {"note": "Pinged again.", "next_follow_up_at": "2028-02-15"},
    "response-received": {"note": "They answered."},
    "skip": {"reason": "Not needed this week."},
    "reopen": {"reason": "Needs another pass."},
}
ALLOWED = {
    "start": ({"todo"}, "in_progress"),
    "complete": ({"todo", "in_progress"}, "done"),
    "wait": ({"todo", "in_progress"}, "waiting"),
    "follow-up-sent": ({"waiting"}, "waiting"),
    "response-received": ({"waiting"}, "todo"),
    "skip": ({"todo", "in_progress", "waiting"}, "skipped"),
    "reopen": ({"done", "skipped"}, "todo"),
}
ALLOWED_CASES = [(action, status) for action, (froms, _) in ALLOWED.items() for status in sorted(froms)]
REFUSED_CASES = [
    (action, status) for action, (froms, _) in ALLOWED.items() for status in ALL_STATUSES if status not in froms
]


@pytest.mark.parametrize(("action", "status"), ALLOWED_CASES)
def test_allowed_transition_moves_the_task_and_writes_history(api, operator, action, status):
    task = task_in(status)

    response = api.post(url(task, action), VALID_BODIES[action], format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == ALLOWED[action][1]
    last = body["history"][-1]
    assert last["author"] == operator.username
    if action == "follow-up-sent":
        assert last["kind"] == "follow_up" and body["follow_up_at"] == "2028-02-15"
    else:
        assert (last["from_status"], last["to_status"]) == (status, ALLOWED[action][1])
    note = next((v for k, v in VALID_BODIES[action].items() if k in ("note", "reason")), "")
    assert last["body"] == note


@pytest.mark.parametrize(("action", "status"), REFUSED_CASES)
def test_refused_transition_answers_invalid_transition_and_changes_nothing(api, action, status):
    task = task_in(status)
    before = TaskComment.objects.filter(task=task).count()

    body = refused(api.post(url(task, action), VALID_BODIES[action], format="json"), "invalid_transition")

    assert body["task_status"] == status
    task.refresh_from_db()
    assert task.status == status
    assert TaskComment.objects.filter(task=task).count() == before


def test_reopen_clears_completion(api):
    task = task_in("done")
    body = api.post(url(task, "reopen"), {"reason": "Wrong file"}, format="json").json()
    assert body["status"] == "todo" and body["completed_at"] is None and body["completed_by"] is None


# ---- transitions: required fields -------------------------------------------------------------


@pytest.mark.parametrize("missing", ["waiting_for", "follow_up_at", "note"])
def test_wait_names_each_missing_field(api, missing):
    task = task_in("todo")
    payload = {k: v for k, v in VALID_BODIES["wait"].items() if k != missing}

    body = refused(api.post(url(task, "wait"), payload, format="json"), "waiting_fields_required")

    assert body["missing"] == [missing]
    assert missing in body["detail"]
    task.refresh_from_db()
    assert task.status == "todo"


def test_wait_with_nothing_names_all_three(api):
    body = refused(api.post(url(task_in("in_progress"), "wait"), {}, format="json"), "waiting_fields_required")
    assert body["missing"] == ["waiting_for", "follow_up_at", "note"]


def test_wait_refuses_a_malformed_date(api):
    task = task_in("todo")
    payload = {**VALID_BODIES["wait"], "follow_up_at": "next week"}
    body = refused(api.post(url(task, "wait"), payload, format="json"), "validation_error")
    assert body["detail"].startswith("follow_up_at:")
    task.refresh_from_db()
    assert task.status == "todo"


@pytest.mark.parametrize("missing", ["note", "next_follow_up_at"])
def test_follow_up_sent_needs_a_note_and_the_next_date(api, missing):
    task = task_in("waiting")
    payload = {k: v for k, v in VALID_BODIES["follow-up-sent"].items() if k != missing}
    body = refused(api.post(url(task, "follow-up-sent"), payload, format="json"), "follow_up_fields_required")
    assert body["missing"] == [missing]
    task.refresh_from_db()
    assert task.follow_up_at == DAY + dt.timedelta(days=3)


def test_response_received_needs_a_note(api):
    task = task_in("waiting")
    body = refused(api.post(url(task, "response-received"), {}, format="json"), "note_required")
    assert body["missing"] == ["note"]


@pytest.mark.parametrize(("action", "status"), [("skip", "todo"), ("reopen", "done")])
def test_skip_and_reopen_need_a_reason(api, action, status):
    task = task_in(status)
    body = refused(api.post(url(task, action), {"reason": "  "}, format="json"), "reason_required")
    assert body["missing"] == ["reason"]
    task.refresh_from_db()
    assert task.status == status


# ---- dependencies -----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["start", "complete"])
def test_blocked_task_cannot_start_or_complete(api, action):
    run = launch(make_template(spec("draft"), spec("send", depends_on=["draft"])))
    draft, send = task_of(run, "draft"), task_of(run, "send")

    body = refused(api.post(url(send, action), {}, format="json"), "blocked_by_dependencies")

    assert body["blocked_by"] == [{"id": str(draft.pk), "title": draft.title, "status": "todo"}]
    send.refresh_from_db()
    assert send.status == "todo"


def test_dependencies_are_checked_before_evidence(api):
    run = launch(make_template(spec("draft"), spec("send", depends_on=["draft"], requires_proof_note=True)))
    refused(api.post(url(task_of(run, "send"), "complete"), {}, format="json"), "blocked_by_dependencies")


def test_done_or_skipped_prerequisite_unblocks(api):
    run = launch(make_template(spec("draft"), spec("review"), spec("send", depends_on=["draft", "review"])))
    api.post(url(task_of(run, "draft"), "complete"), {}, format="json")
    api.post(url(task_of(run, "review"), "skip"), {"reason": "No reviewer"}, format="json")

    body = api.post(url(task_of(run, "send"), "start"), {}, format="json").json()

    assert body["status"] == "in_progress"
    assert body["skipped_prerequisites"][0]["title"] == task_of(run, "review").title


def test_skip_with_cascade_skips_dependents_transitively(api):
    run = launch(
        make_template(spec("draft"), spec("review", depends_on=["draft"]), spec("send", depends_on=["review"]))
    )
    draft = task_of(run, "draft")

    body = api.post(url(draft, "skip"), {"reason": "Cancelled issue", "cascade": True}, format="json").json()

    assert body["status"] == "skipped"
    review, send = task_of(run, "review"), task_of(run, "send")
    assert set(body["cascaded"]) == {str(review.pk), str(send.pk)}
    assert review.status == send.status == "skipped"


def test_skip_without_cascade_leaves_dependents_actionable(api):
    run = launch(make_template(spec("draft"), spec("send", depends_on=["draft"])))
    body = api.post(url(task_of(run, "draft"), "skip"), {"reason": "Reused last week's"}, format="json").json()
    assert body["cascaded"] == []
    send = api.get(url(task_of(run, "send"))).json()
    assert send["status"] == "todo" and send["blocked_by"] == []
    assert send["skipped_prerequisites"][0]["status"] == "skipped"


# ---- evidence ---------------------------------------------------------------------------------


def test_complete_names_every_missing_item_then_passes_once_proof_is_added(api):
    template = make_template(
        spec(
            "post",
            requires_link="LinkedIn post URL",
            requires_file=True,
            requires_proof_note=True,
            requires_run_links=["Mailchimp newsletter"],
        ),
        run_links=["Mailchimp newsletter"],
    )
    run = launch(template)
    task = task_of(run, "post")

    body = refused(api.post(url(task, "complete"), {}, format="json"), "missing_evidence")
    assert body["missing"] == ["LinkedIn post URL", "file", "proof note", "run link 'Mailchimp newsletter'"]
    for name in body["missing"]:
        assert name in body["detail"]

    steps = [
        ({"kind": "link", "label": "LinkedIn post URL", "url": "https://linkedin.com/p/1"}, "json"),
        ({"kind": "file", "file": upload()}, "multipart"),
        ({"kind": "note", "note": "Checked the numbers."}, "json"),
    ]
    for index, (payload, fmt) in enumerate(steps, start=1):
        assert api.post(url(task, "proofs"), payload, format=fmt).status_code == 201
        still = refused(api.post(url(task, "complete"), {}, format="json"), "missing_evidence")
        assert still["missing"] == body["missing"][index:]
    assert still["detail"] == "Required run link 'Mailchimp newsletter' is not filled."

    filled = api.post(f"/api/v1/runs/{run.pk}/links/", {"name": "Mailchimp newsletter", "url": "https://mc.example/x"})
    assert filled.status_code == 200, filled.content

    done = api.post(url(task, "complete"), {}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "done"
    assert all(item["met"] for item in done.json()["requirements"])


def test_link_with_another_label_does_not_meet_a_link_requirement(api):
    task = TaskFactory(requires_link="LinkedIn post URL")
    api.post(url(task, "proofs"), {"kind": "link", "label": "Tweet", "url": "https://x.example/1"}, format="json")
    body = refused(api.post(url(task, "complete"), {}, format="json"), "missing_evidence")
    assert body["missing"] == ["LinkedIn post URL"]


# ---- comments and proof -----------------------------------------------------------------------


def test_comment_is_added_to_history(api, operator):
    task = TaskFactory()
    response = api.post(url(task, "comments"), {"body": "Called the bank."}, format="json")
    assert response.status_code == 201
    assert response.json()["author"] == operator.username
    assert TaskComment.objects.get(task=task).body == "Called the bank."


def test_empty_comment_is_refused(api):
    task = TaskFactory()
    refused(api.post(url(task, "comments"), {"body": "  "}, format="json"), "validation_error")
    assert not TaskComment.objects.filter(task=task).exists()


def test_file_proof_records_sha256_and_is_streamed_to_members_only(api, outsider, anon_api):
    task = TaskFactory(requires_file=True)
    content = b"%PDF-1.4 tax report 2028"

    response = api.post(url(task, "proofs"), {"kind": "file", "file": upload("tax.pdf", content)}, format="multipart")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert (body["file_name"], body["file_size"], body["content_type"]) == ("tax.pdf", len(content), "application/pdf")
    assert body["file_url"] == f"{url(task)}proofs/{body['id']}/file/"

    download = api.get(body["file_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content
    assert "attachment" in download["Content-Disposition"]

    anon_api.force_authenticate(None)
    assert anon_api.get(body["file_url"]).status_code in (401, 403)
    anon_api.force_authenticate(outsider)
    assert anon_api.get(body["file_url"]).status_code == 403


def test_file_of_another_task_or_a_note_proof_is_404(api):
    task, other = TaskFactory(), TaskFactory()
    file_proof = api.post(url(task, "proofs"), {"kind": "file", "file": upload()}, format="multipart").json()
    note_proof = api.post(url(task, "proofs"), {"kind": "note", "note": "n"}, format="json").json()

    refused(api.get(f"{url(other)}proofs/{file_proof['id']}/file/"), "not_found", 404)
    refused(api.get(f"{url(task)}proofs/{note_proof['id']}/file/"), "not_found", 404)
    refused(api.get(f"{url(task)}proofs/nope/file/"), "not_found", 404)


def test_too_large_file_is_refused(api, settings):
    settings.PORTAL_PROOF_MAX_BYTES = 10
    task = TaskFactory()
    body = refused(
        api.post(url(task, "proofs"), {"kind": "file", "file": upload(content=b"x" * 11)}, format="multipart"),
        "file_too_large",
    )
    assert body["limit"] == 10
    assert not Proof.objects.exists()


def test_file_type_outside_the_allow_list_is_refused(api):
    task = TaskFactory()
    payload = {"kind": "file", "file": upload("run.exe", b"MZ...", "application/x-msdownload")}
    body = refused(api.post(url(task, "proofs"), payload, format="multipart"), "file_type_not_allowed")
    assert "application/x-msdownload" in body["detail"]
    assert not Proof.objects.exists()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"kind": "photo"}, "validation_error"),
        ({"kind": "link", "url": "javascript:alert(1)"}, "validation_error"),
        ({"kind": "link"}, "validation_error"),
        ({"kind": "note", "note": ""}, "validation_error"),
        ({"kind": "file"}, "validation_error"),
    ],
)
def test_bad_proof_is_refused(api, payload, code):
    task = TaskFactory()
    refused(api.post(url(task, "proofs"), payload, format="json"), code)
    assert not Proof.objects.exists()
