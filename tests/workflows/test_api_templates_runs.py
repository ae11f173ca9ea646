"""``/api/v1/templates/`` and ``/api/v1/runs/``: template definitions, launch, clone, run risk and
run actions."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.conftest import refused
from tests.factories import DAY, OperatorFactory, launch, make_template, spec, task_of
from workflows.models import Run, RunStatus, Task, TemplateTask, WorkflowTemplate

pytestmark = pytest.mark.django_db

TEMPLATES = "/api/v1/templates/"
RUNS = "/api/v1/runs/"

NEWSLETTER = {
    "name": "Weekly newsletter",
    "description": "Draft, review and schedule the newsletter.",
    "category": "Community",
    "stages": ["draft", "review", "scheduled"],
    "run_links": ["Mailchimp newsletter"],
    "trigger_type": "manual",
    "tasks": [
        {"ref": "draft", "title": "Draft the newsletter", "stage": "draft", "offset_days": -3},
        {
            "ref": "review",
            "title": "Review the draft",
            "stage": "review",
            "offset_days": -2,
            "depends_on": ["draft"],
            "assignee": "olivia",
        },
        {
            "ref": "schedule",
            "title": "Schedule in Mailchimp",
            "stage": "scheduled",
            "offset_days": -1,
            "depends_on": ["review"],
            "requires_link": "newsletter link",
            "requires_run_links": ["Mailchimp newsletter"],
            "estimate_minutes": 20,
        },
    ],
}


# ---- templates --------------------------------------------------------------------------------


def test_create_template_with_tasks(api, operator):
    response = api.post(TEMPLATES, NEWSLETTER, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    template = WorkflowTemplate.objects.get(pk=body["id"])
    assert template.name == "Weekly newsletter"
    assert [t["ref"] for t in body["tasks"]] == ["draft", "review", "schedule"]
    review = body["tasks"][1]
    assert review["assignee"] == "olivia" and review["depends_on"] == ["draft"]
    schedule = body["tasks"][2]
    assert schedule["requires_link"] == "newsletter link"
    assert schedule["requires_run_links"] == ["Mailchimp newsletter"]
    assert body["tasks"][0]["requires_link"] is None
    assert body["schedule_description"] is None and body["next_fire_times"] == []


def test_task_without_stage_goes_to_the_first_stage(api):
    payload = {"name": "Tax", "stages": ["collect", "submit"], "tasks": [{"ref": "a", "title": "Collect"}]}
    body = api.post(TEMPLATES, payload, format="json").json()
    assert body["tasks"][0]["stage"] == "collect"


def test_automatic_template_shows_its_schedule(api):
    payload = {**NEWSLETTER, "trigger_type": "automatic", "trigger_schedule": "0 9 * * TUE", "trigger_lead_days": 7}
    with time_machine.travel(dt.datetime(2029, 1, 1, 12, tzinfo=dt.UTC)):
        body = api.post(TEMPLATES, payload, format="json").json()
    assert body["trigger_type"] == "automatic" and body["trigger_lead_days"] == 7
    assert "Tuesday" in body["schedule_description"]
    assert body["next_fire_times"][0].startswith("2029-01-02T09:00:00")
    assert len(body["next_fire_times"]) == 5


def test_dependency_cycle_is_refused_naming_the_cycle(api):
    tasks = [
        {"ref": "a", "title": "A", "depends_on": ["c"]},
        {"ref": "b", "title": "B", "depends_on": ["a"]},
        {"ref": "c", "title": "C", "depends_on": ["b"]},
    ]
    body = refused(api.post(TEMPLATES, {"name": "Loop", "tasks": tasks}, format="json"), "dependency_cycle")
    assert set(body["cycle"]) == {"a", "b", "c"}
    assert "→" in body["detail"]
    assert not WorkflowTemplate.objects.exists()


def test_patch_with_a_cycle_changes_nothing(api):
    template = make_template(spec("a"), spec("b", depends_on=["a"]), name="Stable")
    tasks = [{"ref": "a", "title": "A", "depends_on": ["b"]}, {"ref": "b", "title": "B", "depends_on": ["a"]}]
    refused(
        api.patch(f"{TEMPLATES}{template.pk}/", {"name": "Renamed", "tasks": tasks}, format="json"), "dependency_cycle"
    )
    template.refresh_from_db()
    assert template.name == "Stable"
    assert TemplateTask.objects.get(template=template, ref="a").depends_on == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "X", "trigger_lead_days": -1}, "trigger_lead_days"),
        ({"name": "X", "trigger_lead_days": "soon"}, "trigger_lead_days"),
        ({"name": "X", "trigger_type": "sometimes"}, "trigger_type"),
        ({"name": "X", "stages": "draft"}, "stages"),
        ({"name": "X", "tasks": [{"ref": "a", "title": "A", "assignee": "ghost"}]}, "tasks"),
        ({"name": "X", "tasks": [{"ref": "a", "title": "A", "offset_days": "x"}]}, "tasks"),
        ({"name": "X", "tasks": [{"ref": "a", "title": "A", "colour": "red"}]}, "tasks"),
        ({"name": "X", "colour": "red"}, "colour"),
    ],
)
def test_template_bad_input_is_refused(api, payload, field):
    body = refused(api.post(TEMPLATES, payload, format="json"), "validation_error")
    assert body["detail"].startswith(f"{field}:")
    assert not WorkflowTemplate.objects.exists()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"name": "X", "trigger_type": "automatic"}, "validation_error"),
        ({"name": "X", "trigger_type": "automatic", "trigger_schedule": "@daily"}, "invalid_schedule"),
        ({"name": "X", "trigger_timezone": "Mars/Olympus"}, "invalid_schedule"),
        ({"name": "X", "tasks": [{"ref": "a", "title": "A", "depends_on": ["zz"]}]}, "validation_error"),
        ({"name": "X", "stages": ["s"], "tasks": [{"ref": "a", "title": "A", "stage": "other"}]}, "validation_error"),
        ({"name": "X", "tasks": [{"ref": "a", "title": "A", "requires_run_links": ["Nope"]}]}, "validation_error"),
        ({"name": "X", "tasks": [{"ref": "a", "title": "A"}, {"ref": "a", "title": "B"}]}, "validation_error"),
    ],
)
def test_inconsistent_template_is_refused_by_the_domain(api, payload, code):
    refused(api.post(TEMPLATES, payload, format="json"), code)
    assert not WorkflowTemplate.objects.exists()


def test_patch_without_tasks_leaves_tasks_alone(api):
    template = make_template(spec("a", title="Keep me"), spec("b", depends_on=["a"]))
    response = api.patch(f"{TEMPLATES}{template.pk}/", {"description": "Updated"}, format="json")
    assert response.status_code == 200, response.content
    assert [t["title"] for t in response.json()["tasks"]] == ["Keep me", "Task b"]
    template.refresh_from_db()
    assert template.description == "Updated"


def test_patch_with_tasks_replaces_them_without_touching_existing_runs(api):
    template = make_template(spec("a"), spec("b"))
    run = launch(template)
    response = api.patch(
        f"{TEMPLATES}{template.pk}/", {"tasks": [{"ref": "a", "title": "Renamed", "offset_days": -1}]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [(t["ref"], t["title"]) for t in response.json()["tasks"]] == [("a", "Renamed")]
    assert sorted(run.tasks.values_list("template_task_ref", flat=True)) == ["a", "b"]


def test_list_templates_hides_archived_and_filters_by_category(api, django_assert_max_num_queries):
    make_template(spec("a"), name="Newsletter", category="Community")
    make_template(spec("a"), name="Tax", category="Finance")
    make_template(name="Old", archived_at=dt.datetime(2028, 1, 1, tzinfo=dt.UTC))
    with django_assert_max_num_queries(4):
        names = [t["name"] for t in api.get(TEMPLATES).json()["results"]]
    assert names == ["Newsletter", "Tax"]
    assert [t["name"] for t in api.get(TEMPLATES, {"category": "finance"}).json()["results"]] == ["Tax"]
    assert len(api.get(TEMPLATES, {"include_archived": "true"}).json()["results"]) == 3


def test_unknown_template_is_404(api):
    refused(api.get(f"{TEMPLATES}00000000-0000-0000-0000-000000000000/"), "not_found", 404)


# ---- launch and clone -------------------------------------------------------------------------


def test_launch_creates_the_run_then_returns_it(api, operator):
    template = make_template(
        spec("draft", offset_days=-2), spec("send", depends_on=["draft"], stage="review"), run_links=["Doc"]
    )
    first = api.post(f"{TEMPLATES}{template.pk}/launch/", {"anchor_date": "2029-01-09"}, format="json")

    assert first.status_code == 201, first.content
    body = first.json()
    assert body["anchor_date"] == "2029-01-09"
    assert body["template"] == {"id": str(template.pk), "name": template.name}
    assert body["current_stage"] == "draft"
    assert {t["ref"]: t["due_date"] for t in body["tasks"]} == {"draft": "2029-01-07", "send": "2029-01-09"}
    assert body["links"][0]["name"] == "Doc" and body["links"][0]["filled"] is False

    again = api.post(f"{TEMPLATES}{template.pk}/launch/", {"anchor_date": "2029-01-09"}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert Run.objects.count() == 1 and Task.objects.count() == 2


def test_launch_again_tops_up_a_missing_task(api):
    template = make_template(spec("a"), spec("b"))
    run = launch(template)
    task_of(run, "b").delete()
    response = api.post(f"{TEMPLATES}{template.pk}/launch/", {"anchor_date": DAY.isoformat()}, format="json")
    assert response.status_code == 200
    assert sorted(t["ref"] for t in response.json()["tasks"]) == ["a", "b"]


@pytest.mark.parametrize("payload", [{}, {"anchor_date": "09.01.2029"}, {"anchor_date": 20290109}])
def test_launch_needs_a_valid_anchor_date(api, payload):
    template = make_template(spec("a"))
    body = refused(api.post(f"{TEMPLATES}{template.pk}/launch/", payload, format="json"), "validation_error")
    assert body["detail"].startswith("anchor_date:")
    assert not Run.objects.exists()


def test_launch_of_an_archived_template_is_a_conflict(api):
    template = make_template(spec("a"), archived_at=dt.datetime(2028, 1, 1, tzinfo=dt.UTC))
    refused(
        api.post(f"{TEMPLATES}{template.pk}/launch/", {"anchor_date": "2029-01-09"}, format="json"),
        "template_archived",
        409,
    )


def test_clone_copies_tasks_under_a_new_name(api):
    template = make_template(spec("a"), spec("b", depends_on=["a"]), name="Newsletter")
    response = api.post(f"{TEMPLATES}{template.pk}/clone/", {"name": "Newsletter (FR)"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Newsletter (FR)" and body["id"] != str(template.pk)
    assert [(t["ref"], t["depends_on"]) for t in body["tasks"]] == [("a", []), ("b", ["a"])]


def test_clone_needs_a_free_name(api):
    template = make_template(spec("a"), name="Newsletter")
    refused(api.post(f"{TEMPLATES}{template.pk}/clone/", {}, format="json"), "validation_error")
    refused(api.post(f"{TEMPLATES}{template.pk}/clone/", {"name": "newsletter"}, format="json"), "validation_error")
    assert WorkflowTemplate.objects.count() == 1


# ---- runs -------------------------------------------------------------------------------------


def _risky_run():
    """A run on 2028-02-09 with one overdue task, one waiting with a follow-up due, one due today
    missing its proof, and one blocked task."""
    template = make_template(
        spec("late", offset_days=-2),
        spec("chase", offset_days=0),
        spec("proof", offset_days=0, requires_proof_note=True),
        spec("after", offset_days=1, depends_on=["late"]),
        spec("done", offset_days=-5),
    )
    run = launch(template)
    chase = task_of(run, "chase")
    chase.mark_waiting(waiting_for="Sponsor", follow_up_at=DAY, note="Asked")
    done = task_of(run, "done")
    done.complete()
    return run


def test_run_detail_has_tasks_and_risk(api):
    run = _risky_run()

    body = api.get(f"{RUNS}{run.pk}/", {"date": DAY.isoformat()}).json()

    risk = body["risk"]
    assert risk["overdue"] == 1
    assert risk["waiting"] == 1
    assert risk["follow_ups_due"] == 1
    assert risk["missing_evidence"] == 1
    assert risk["blocked"] == 1
    assert risk["at_risk"] is True
    assert risk["progress"] == {"resolved": 1, "total": 5}
    late = task_of(run, "late")
    assert risk["next_due_task"] == {
        "id": str(late.pk),
        "title": late.title,
        "due_date": "2028-02-07",
        "status": "todo",
    }
    assert {t["ref"] for t in body["tasks"]} == {"late", "chase", "proof", "after", "done"}
    after = next(t for t in body["tasks"] if t["ref"] == "after")
    assert after["is_blocked"] is True


def test_risk_uses_today_by_default(api):
    run = launch(make_template(spec("a", offset_days=0)))
    with time_machine.travel(dt.datetime(2028, 2, 8, 12, tzinfo=dt.UTC)):
        assert api.get(f"{RUNS}{run.pk}/").json()["risk"]["overdue"] == 0
    with time_machine.travel(dt.datetime(2028, 2, 10, 12, tzinfo=dt.UTC)):
        assert api.get(f"{RUNS}{run.pk}/").json()["risk"]["overdue"] == 1


def test_bad_risk_date_is_refused(api):
    run = launch(make_template(spec("a")))
    refused(api.get(f"{RUNS}{run.pk}/", {"date": "yesterday"}), "validation_error")
    refused(api.get(RUNS, {"date": "2028-02-30"}), "validation_error")


def test_runs_filter_by_status(api):
    template = make_template(spec("a"))
    active = launch(template, DAY)
    paused = launch(template, DAY + dt.timedelta(days=7))
    paused.pause()

    def ids(**query):
        response = api.get(RUNS, query)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids(status="paused") == [str(paused.pk)]
    assert ids(status="active") == [str(active.pk)]
    assert ids() == [str(paused.pk), str(active.pk)]
    refused(api.get(RUNS, {"status": "sleeping"}), "validation_error")


@pytest.mark.parametrize("size", [3, 20])
def test_runs_list_uses_a_constant_number_of_queries(api, django_assert_max_num_queries, size):
    template = make_template(spec("a", requires_run_links=["Doc"]), spec("b", depends_on=["a"]), run_links=["Doc"])
    for index in range(size):
        launch(template, DAY + dt.timedelta(days=index))
    # groups of the user + count + runs (risk as subqueries) + links + tasks
    with django_assert_max_num_queries(5):
        response = api.get(RUNS, {"page_size": 100})
    assert len(response.json()["results"]) == size


def test_fill_run_link(api, operator):
    run = launch(make_template(spec("a"), run_links=["Mailchimp newsletter"]))
    response = api.post(
        f"{RUNS}{run.pk}/links/", {"name": "Mailchimp newsletter", "url": "https://mc.example/c/1"}, format="json"
    )
    assert response.status_code == 200, response.content
    link = response.json()["links"][0]
    assert link == {
        "name": "Mailchimp newsletter",
        "url": "https://mc.example/c/1",
        "filled": True,
        "updated_by": operator.username,
        "updated_at": link["updated_at"],
    }


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"name": "LinkedIn", "url": "https://x.example"}, "unknown_run_link"),
        ({"name": "Mailchimp newsletter", "url": "ftp://x"}, "validation_error"),
        ({"name": "Mailchimp newsletter", "url": ""}, "validation_error"),
        ({"url": "https://x.example"}, "validation_error"),
    ],
)
def test_fill_run_link_refuses_bad_input(api, payload, code):
    run = launch(make_template(spec("a"), run_links=["Mailchimp newsletter"]))
    refused(api.post(f"{RUNS}{run.pk}/links/", payload, format="json"), code)
    assert run.links.get().url == ""


def test_pause_resume_cancel(api):
    run = launch(make_template(spec("a")))

    assert api.post(f"{RUNS}{run.pk}/pause/").json()["status"] == "paused"
    refused(api.post(f"{RUNS}{run.pk}/pause/"), "invalid_transition")
    assert api.post(f"{RUNS}{run.pk}/resume/").json()["status"] == "active"
    refused(api.post(f"{RUNS}{run.pk}/resume/"), "invalid_transition")
    refused(api.post(f"{RUNS}{run.pk}/cancel/", {}, format="json"), "reason_required")
    body = api.post(f"{RUNS}{run.pk}/cancel/", {"reason": "Issue skipped"}, format="json").json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "Issue skipped"
    refused(api.post(f"{RUNS}{run.pk}/resume/"), "invalid_transition")
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert task_of(run, "a").status == "todo"  # history kept: tasks are left as they were


def test_run_actions_on_unknown_run_are_404(api):
    OperatorFactory()
    refused(api.post(f"{RUNS}00000000-0000-0000-0000-000000000000/pause/"), "not_found", 404)
