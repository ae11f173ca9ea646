"""Operations Home as an HTML page (``docs/home.md``): the six groups in order with counts and empty
states, risk cards, automation failures, in-place actions (HTMX and plain posts) and a constant
number of queries."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.templatetags.portal_format import human_date
from tests.factories import (
    DAY,
    failed_generation,
    launch,
    make_config,
    make_template,
    recurring_task,
    spec,
    task_in,
    task_of,
)
from workflows.models import Task

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
GROUP_HEADINGS = ["Follow-ups due", "Overdue", "Missing evidence", "Today", "Waiting", "Upcoming"]


def days(n: int) -> dt.date:
    return DAY + dt.timedelta(days=n)


def home(client, **query) -> str:
    response = client.get("/", {"date": DAY.isoformat(), "scope": "all", **query})
    assert response.status_code == 200, response.content
    return response.content.decode()


def group_section(body: str, name: str) -> str:
    match = re.search(rf'<section id="group-{name}".*?</section>', body, re.S)
    assert match, f"no group {name}"
    return match.group(0)


def home_fields(**extra) -> dict:
    return {"home": "1", "home_date": DAY.isoformat(), "home_scope": "all", **extra}


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


def test_empty_home_says_what_is_clear(signed_in):
    body = home(signed_in)
    for text in ("No follow-ups due", "No overdue work", "No automation failures", "No active workflow runs"):
        assert text in body
    positions = [body.index(f'{heading} <span class="count-pill">0</span>') for heading in GROUP_HEADINGS]
    assert positions == sorted(positions)


def test_each_task_shows_in_its_group_with_badges_and_source(signed_in, operator):
    config = make_config("Slack invites")
    recurring_task(config, days(-2), assignee=operator)
    task_in("waiting", title="Chase sponsor", follow_up_at=days(-1), due_date=days(5))
    task_in("todo", title="Post on LinkedIn", requires_link="LinkedIn post URL")
    task_in("todo", title="Tax report", due_date=days(3))
    body = home(signed_in)
    overdue = group_section(body, "overdue")
    assert "Slack invites" in overdue and "Recurring · Slack invites" in overdue
    assert "overdue by 2 days" in overdue and operator.username in overdue
    follow_ups = group_section(body, "follow_ups_due")
    assert "Chase sponsor" in follow_ups and "waiting for Sponsor reply" in follow_ups
    assert f"follow-up due {human_date(days(-1))}" in follow_ups
    assert "missing proof: LinkedIn post URL" in group_section(body, "missing_evidence")
    assert "Tax report" in group_section(body, "upcoming")
    assert 'Overdue <span class="count-pill">1</span>' in body
    assert "No overdue work" not in body and "Nothing waiting" in body


def test_blocked_task_shows_blocked_and_offers_no_start_or_complete(signed_in):
    run = launch(make_template(spec("draft"), spec("review", depends_on=["draft"])), DAY)
    review = task_of(run, "review")
    body = home(signed_in)
    row = re.search(rf'<li id="task-{review.pk}".*?</li>', body, re.S).group(0)
    assert "blocked" in row
    assert f"/tasks/{review.pk}/start/" not in row and f"/tasks/{review.pk}/complete/" not in row


def test_risk_cards_show_progress_stage_counts_next_task_at_risk_first(signed_in):
    template = make_template(spec("a", offset_days=0), spec("b", offset_days=3))
    calm = launch(template, days(2))
    risky = launch(template, days(-1))
    body = home(signed_in)
    assert body.index(f"/runs/{risky.pk}/") < body.index(f"/runs/{calm.pk}/")
    card = re.search(r'<article class="risk-card at-risk".*?</article>', body, re.S).group(0)
    assert risky.title in card and "at risk" in card
    assert "0 of 2 tasks resolved" in card and "stage: draft" in card and "Overdue: 1" in card
    assert f"/tasks/{task_of(risky, 'a').pk}/" in card


def test_automation_failures_link_to_the_failures_inbox(signed_in):
    failed_generation(make_config("Dump Slack"), DAY, error="Slack API said no")
    body = home(signed_in)
    assert "Dump Slack" in body and "Slack API said no" in body
    assert "/notifications/?state=failures" in body and "No automation failures" not in body


def test_date_and_scope_are_read_and_a_bad_date_is_named(signed_in):
    task_in("todo", title="Due on the 9th", due_date=DAY)
    assert "Due on the 9th" in group_section(home(signed_in), "today")
    assert "overdue by 1 day" in group_section(home(signed_in, date=days(1).isoformat()), "overdue")
    response = signed_in.get("/", {"date": "09/02/2028"})
    assert response.status_code == 400
    assert "date: &#x27;09/02/2028&#x27; is not a date" in response.content.decode()


def test_htmx_groups_fragment_has_no_page_shell(signed_in):
    task_in("todo", title="Due today")
    response = signed_in.get("/", {"date": DAY.isoformat(), "scope": "all", "fragment": "groups"}, headers=HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Due today" in body and "Automation failures" in body
    assert "<html" not in body and 'id="home-groups"' not in body
    page = home(signed_in, fragment="groups")
    assert "<html" in page and 'hx-trigger="home-changed from:body"' in page


def test_htmx_start_answers_the_updated_row_and_triggers_home_changed(signed_in):
    task = task_in("todo", title="Send newsletter")
    response = signed_in.post(f"/tasks/{task.pk}/start/", home_fields(), headers=HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "home-changed"
    assert f'id="task-{task.pk}"' in body and "In progress" in body
    assert 'id="home-status"' in body and 'hx-swap-oob="true"' in body and "Started." in body
    assert "<html" not in body
    assert Task.objects.get(pk=task.pk).status == "in_progress"


def test_htmx_complete_removes_the_row(signed_in):
    task = task_in("todo", title="Back up list")
    response = signed_in.post(f"/tasks/{task.pk}/complete/", home_fields(), headers=HX)
    body = response.content.decode()
    assert response["HX-Trigger"] == "home-changed"
    assert f'id="task-{task.pk}"' not in body and "Completed." in body
    assert Task.objects.get(pk=task.pk).status == "done"


def test_htmx_refused_complete_rerenders_the_row_with_the_reason(signed_in):
    task = task_in("todo", title="Post on LinkedIn", requires_link="LinkedIn post URL")
    response = signed_in.post(f"/tasks/{task.pk}/complete/", home_fields(), headers=HX)
    body = response.content.decode()
    assert response.status_code == 400
    assert "HX-Trigger" not in response
    assert f'id="task-{task.pk}"' in body and 'role="alert"' in body and "LinkedIn post URL" in body
    assert Task.objects.get(pk=task.pk).status == "todo"


def test_follow_up_sent_and_response_received_from_home(signed_in):
    task = task_in("waiting", title="Chase sponsor", follow_up_at=DAY)
    refused = signed_in.post(
        f"/tasks/{task.pk}/follow-up-sent/", home_fields(next_follow_up_at=days(3).isoformat()), headers=HX
    )
    assert refused.status_code == 400 and "<details open>" in refused.content.decode()
    sent = signed_in.post(
        f"/tasks/{task.pk}/follow-up-sent/",
        home_fields(note="Pinged again", next_follow_up_at=days(3).isoformat()),
        headers=HX,
    )
    assert sent.status_code == 200 and f"follow up {human_date(days(3))}" in sent.content.decode()
    task.refresh_from_db()
    assert task.status == "waiting" and task.follow_up_at == days(3)
    answered = signed_in.post(f"/tasks/{task.pk}/response-received/", home_fields(note="They said yes"), headers=HX)
    assert answered.status_code == 200 and answered["HX-Trigger"] == "home-changed"
    task.refresh_from_db()
    assert task.status == "todo"


def test_plain_post_from_home_redirects_back_with_a_message(signed_in):
    task = task_in("todo", title="Dump Slack")
    response = signed_in.post(f"/tasks/{task.pk}/start/", home_fields(), follow=True)
    assert response.redirect_chain[0][0] == f"/?date={DAY.isoformat()}&scope=all#task-{task.pk}"
    assert "Dump Slack: Started." in response.content.decode()


def test_plain_refused_post_from_home_redirects_back_with_the_reason(signed_in):
    task = task_in("todo", title="Tax report", requires_file=True)
    response = signed_in.post(f"/tasks/{task.pk}/complete/", home_fields(), follow=True)
    body = response.content.decode()
    assert response.redirect_chain[0][0].startswith("/?date=")
    assert "message-error" in body and "file" in body
    assert Task.objects.get(pk=task.pk).status == "todo"


def test_home_requires_login(client):
    assert client.get("/").status_code == 302
    assert client.get("/", {"fragment": "groups"}, headers=HX).status_code == 401


def test_outsider_gets_no_home(client, outsider):
    client.force_login(outsider)
    assert client.get("/").status_code == 403


def _populate(size: int, operator) -> None:
    template = make_template(
        spec("late", offset_days=-2, requires_proof_note=True),
        spec("now", offset_days=0, requires_run_links=["Doc"]),
        spec("next", offset_days=3, depends_on=["late"]),
        run_links=["Doc"],
    )
    config = make_config()
    for index in range(size):
        launch(template, days(-index))
        recurring_task(config, days(-index), assignee=operator)
        task_in("waiting", title=f"waiting {index}", follow_up_at=days(index - 2), due_date=days(index))
        failed_generation(config, days(-100 - index))


# 4: every group stays within the page's 12 rows, so every task of _populate is listed.
@pytest.mark.parametrize("size", [2, 4])
def test_home_page_uses_a_constant_number_of_queries(signed_in, operator, django_assert_num_queries, size):
    _populate(size, operator)
    # session + user + the user's groups (membership check) + the groups' counts + one query per
    # group (six, each ORDER BY … LIMIT) + proofs + required run links + prerequisites + runs
    # ranked by risk + the shown runs' risk + their next due tasks + failures + the duties' recent
    # durations (typical time of each row)
    with django_assert_num_queries(18):
        body = home(signed_in)
    assert body.count('<li id="task-') == 5 * size
