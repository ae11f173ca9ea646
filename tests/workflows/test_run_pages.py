"""The Workflows page (runs as risk cards with filters), the run page grouped by stage, and
launching a run from a template with a preview."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from workflows.models import Run, RunStatus, Task, TaskStatus
from workflows.services import instantiate_run, save_template

HX = {"HX-Request": "true"}
TODAY = dt.date(2028, 2, 7)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(dt.datetime(2028, 2, 7, 10, 0, tzinfo=dt.UTC), tick=False):
        yield


def newsletter(name: str = "Newsletter", **extra):
    return save_template(
        data={
            "name": name,
            "category": "Community",
            "stages": ["Draft", "Review & send"],
            "run_links": ["Mailchimp newsletter"],
            **extra,
        },
        tasks=[
            {"ref": "draft", "title": "Draft issue", "stage": "Draft", "offset_days": -2},
            {
                "ref": "send",
                "title": "Send issue",
                "stage": "Review & send",
                "depends_on": ["draft"],
                "requires_run_links": ["Mailchimp newsletter"],
            },
        ],
    )


def launch(template, anchor: dt.date) -> Run:
    return instantiate_run(template=template, anchor_date=anchor).run


def many_runs(count: int, *, prefix: str = "T") -> list[Run]:
    runs = []
    for index in range(count):
        template = newsletter(f"{prefix} {index}")
        run = launch(template, TODAY + dt.timedelta(days=index - 3))
        runs.append(run)
    return runs


# ---------------------------------------------------------------------------------------------
# Doors: anonymous → login, outsider → 403, HTMX too
# ---------------------------------------------------------------------------------------------


def _run_page_urls(run: Run) -> list[tuple[str, str]]:
    template = run.template
    return [
        ("get", reverse("run-list")),
        ("get", reverse("run-detail", args=[run.pk])),
        ("get", reverse("run-launch", args=[template.pk])),
        ("get", reverse("run-launch", args=[template.pk]) + "?anchor_date=2028-03-01"),
        ("post", reverse("run-launch", args=[template.pk])),
    ]


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login_from_every_run_page_and_fragment(client):
    run = launch(newsletter(), TODAY)
    for method, url in _run_page_urls(run):
        response = getattr(client, method)(url, {"anchor_date": "2028-03-01"} if method == "post" else None)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
        hx = getattr(client, method)(url, headers=HX)
        assert hx.status_code == 401 and hx["HX-Redirect"] == "/accounts/login/", url
    assert Run.objects.count() == 1


@pytest.mark.django_db
def test_outsiders_are_refused_every_run_page_and_fragment(client, outsider):
    run = launch(newsletter(), TODAY)
    client.force_login(outsider)
    for method, url in _run_page_urls(run):
        assert getattr(client, method)(url).status_code == 403, url
        assert getattr(client, method)(url, headers=HX).status_code == 403, url
    response = client.post(reverse("run-launch", args=[run.template.pk]), {"anchor_date": "2028-03-01"})
    assert response.status_code == 403
    assert Run.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Workflows list
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_workflows_lists_at_risk_runs_first_with_their_cards(client, operator):
    calm = launch(newsletter("Calm"), TODAY + dt.timedelta(days=20))
    late = launch(newsletter("Late"), TODAY - dt.timedelta(days=5))
    client.force_login(operator)
    body = client.get(reverse("run-list")).content.decode()
    assert body.index(late.title) < body.index(calm.title)
    assert "At risk" in body
    assert "2 overdue" in body  # both tasks are past their due dates
    assert "Stage: Draft" in body
    assert "0 of 2 tasks resolved" in body


@pytest.mark.django_db
def test_workflows_filters_by_status_template_risk_and_title(client, operator):
    calm = launch(newsletter("Calm"), TODAY + dt.timedelta(days=20))
    late = launch(newsletter("Late"), TODAY - dt.timedelta(days=5))
    paused = launch(newsletter("Resting"), TODAY + dt.timedelta(days=30))
    paused.pause()
    client.force_login(operator)

    def titles(**query) -> set[str]:
        body = client.get(reverse("run-list"), query).content.decode()
        return {run.title for run in (calm, late, paused) if run.title in body}

    assert titles() == {calm.title, late.title, paused.title}
    assert titles(status="paused") == {paused.title}
    assert titles(template=str(calm.template_id)) == {calm.title}
    assert titles(at_risk="yes") == {late.title}
    assert titles(at_risk="no") == {calm.title, paused.title}
    assert titles(q="late") == {late.title}


@pytest.mark.django_db
def test_workflows_hides_runs_finished_long_ago_unless_asked_for(client, operator):
    old = launch(newsletter("Old"), TODAY - dt.timedelta(days=90))
    with time_machine.travel(dt.datetime(2027, 11, 1, tzinfo=dt.UTC), tick=False):
        old.cancel(reason="Postponed")
    client.force_login(operator)
    assert old.title not in client.get(reverse("run-list")).content.decode()
    assert old.title in client.get(reverse("run-list"), {"status": "cancelled"}).content.decode()
    assert old.title in client.get(reverse("run-list"), {"q": "Old"}).content.decode()


@pytest.mark.django_db
def test_workflows_refuses_an_unknown_filter_value_with_a_reason(client, operator):
    client.force_login(operator)
    response = client.get(reverse("run-list"), {"status": "sleeping"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.django_db
def test_workflows_htmx_request_gets_only_the_results_fragment(client, operator):
    run = launch(newsletter(), TODAY)
    client.force_login(operator)
    response = client.get(reverse("run-list"), {"q": "news"}, headers=HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="run-results"' in body and run.title in body
    assert "<html" not in body and "<form" not in body
    full = client.get(reverse("run-list")).content.decode()
    assert "<html" in full and 'id="run-results"' in full


@pytest.mark.django_db
@pytest.mark.parametrize("size", [2, 12])
def test_workflows_query_count_does_not_grow_with_runs(client, operator, django_assert_max_num_queries, size):
    many_runs(size)
    client.force_login(operator)
    client.get(reverse("run-list"))  # session and user cached like on any later visit
    with django_assert_max_num_queries(8):
        response = client.get(reverse("run-list"), {"at_risk": "yes"})
    assert response.status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(reverse("run-list")).content.decode().count('class="card risk-card') == size


# ---------------------------------------------------------------------------------------------
# Run page
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_run_page_groups_tasks_by_stage_in_template_order_with_progress(client, operator):
    run = launch(newsletter(), TODAY)
    draft = run.tasks.get(template_task_ref="draft")
    draft.complete()
    client.force_login(operator)
    body = client.get(reverse("run-detail", args=[run.pk])).content.decode()
    # Stage names as written, in the template's order.
    assert body.index('id="stage-1-h">Draft') < body.index('id="stage-2-h">Review &amp; send')
    assert "1 of 2 tasks resolved" in body
    assert "1 of 1 resolved" in body and "0 of 1 resolved" in body
    assert reverse("task-detail", args=[draft.pk]) in body
    assert "Unassigned" in body
    assert "due today" in body  # the send task, anchor + 0
    assert "Current stage" in body
    assert "Proof needed" in body  # the send task's run link is not filled yet


@pytest.mark.django_db
def test_run_page_offers_link_form_and_confirmed_pause_and_cancel(client, operator):
    run = launch(newsletter(), TODAY)
    client.force_login(operator)
    body = client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "Mailchimp newsletter" in body and 'type="url"' in body
    assert "<summary>Pause this run</summary>" in body
    assert "Confirm pause" in body
    assert 'name="reason"' in body and "required" in body


@pytest.mark.django_db
def test_run_page_htmx_gets_the_run_fragment(client, operator):
    run = launch(newsletter(), TODAY)
    client.force_login(operator)
    body = client.get(reverse("run-detail", args=[run.pk]), headers=HX).content.decode()
    assert 'id="run-page"' in body and "<html" not in body


@pytest.mark.django_db
def test_cancel_without_reason_is_refused_and_changes_nothing(client, operator):
    run = launch(newsletter(), TODAY)
    client.force_login(operator)
    response = client.post(reverse("run-action", args=[run.pk, "cancel"]), {"reason": "  "}, follow=True)
    assert "A reason is required to cancel a run." in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.ACTIVE


# ---------------------------------------------------------------------------------------------
# Launch
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_launch_preview_lists_each_task_with_stage_due_date_and_prerequisites(client, operator):
    template = newsletter()
    client.force_login(operator)
    response = client.get(reverse("run-launch", args=[template.pk]), {"anchor_date": "2028-03-01"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Draft issue" in body and "due Mon 28 Feb" in body  # anchor − 2 days
    assert "Send issue" in body and "due Wed 1 Mar" in body
    assert "After: Draft issue" in body
    assert "Launch run for Wed 1 Mar" in body
    assert Run.objects.count() == 0  # a preview writes nothing


@pytest.mark.django_db
def test_confirming_a_launch_creates_the_run_and_opens_it(client, operator):
    template = newsletter()
    client.force_login(operator)
    response = client.post(reverse("run-launch", args=[template.pk]), {"anchor_date": "2028-03-01"})
    run = Run.objects.get(template=template)
    assert response.status_code == 302 and response["Location"] == reverse("run-detail", args=[run.pk])
    assert run.anchor_date == dt.date(2028, 3, 1)
    assert run.created_by == operator
    assert Task.objects.filter(run=run).count() == 2


@pytest.mark.django_db
def test_launching_an_existing_anchor_date_opens_that_run_and_says_so(client, operator):
    template = newsletter()
    run = launch(template, dt.date(2028, 3, 1))
    client.force_login(operator)
    preview = client.get(reverse("run-launch", args=[template.pk]), {"anchor_date": "2028-03-01"})
    assert "already exists" in preview.content.decode()
    assert "Open the existing run" in preview.content.decode()
    response = client.post(reverse("run-launch", args=[template.pk]), {"anchor_date": "2028-03-01"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("run-detail", args=[run.pk])
    assert "already exists, so it was opened instead of adding another" in response.content.decode()
    assert Run.objects.filter(template=template).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("anchor", ["", "01/03/2028", "2028-02-30", "9999-12-31"])
def test_launch_refuses_a_bad_anchor_date_next_to_the_field(client, operator, anchor):
    template = newsletter()
    client.force_login(operator)
    response = client.post(reverse("run-launch", args=[template.pk]), {"anchor_date": anchor})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'aria-invalid="true"' in body
    assert Run.objects.count() == 0


@pytest.mark.django_db
def test_launch_of_a_template_without_tasks_is_refused_with_the_reason(client, operator):
    empty = save_template(data={"name": "Empty"}, tasks=[])
    client.force_login(operator)
    response = client.get(reverse("run-launch", args=[empty.pk]), {"anchor_date": "2028-03-01"})
    assert response.status_code == 400
    assert "has no tasks" in response.content.decode()


@pytest.mark.django_db
def test_launch_htmx_preview_is_the_launch_fragment(client, operator):
    template = newsletter()
    client.force_login(operator)
    response = client.get(reverse("run-launch", args=[template.pk]), {"anchor_date": "2028-03-01"}, headers=HX)
    body = response.content.decode()
    assert 'id="launch"' in body and "Draft issue" in body and "<html" not in body


@pytest.mark.django_db
def test_run_page_shows_a_resolved_task_with_its_due_date_not_as_overdue(client, operator):
    run = launch(newsletter(), TODAY - dt.timedelta(days=5))
    draft = run.tasks.get(template_task_ref="draft")
    draft.complete()
    client.force_login(operator)
    body = client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "was due Mon 31 Jan" in body
    assert Task.objects.get(pk=draft.pk).status == TaskStatus.DONE
