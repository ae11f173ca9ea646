"""Operations Home as an HTML page (``docs/home.md``): the six groups in order with counts and empty
states, risk cards, automation failures, rows whose action forms load when opened, in-place
actions (HTMX and plain posts) and a constant number of queries."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.templatetags.portal_format import human_date
from tests.factories import (
    DAY,
    OperatorFactory,
    failed_generation,
    launch,
    make_config,
    make_template,
    recurring_task,
    spec,
    task_in,
    task_of,
)
from workflows.models import Task, portal_today

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


def row_actions(client, task, headers=HX, **query):
    """What opening the row's "Actions" on Home (for DAY, everyone's work) fetches."""
    return client.get(
        f"/tasks/{task.pk}/home-actions/", {"date": DAY.isoformat(), "scope": "all", **query}, headers=headers
    )


def groups_part(body: str) -> str:
    return body[body.index('id="home-groups"') :]


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
    row = re.search(rf'<li id="task-{review.pk}".*?</li>', home(signed_in), re.S).group(0)
    assert "blocked" in row
    actions = row_actions(signed_in, review).content.decode()
    assert "Blocked by an earlier task" in actions
    assert f"/tasks/{review.pk}/start/" not in actions and f"/tasks/{review.pk}/complete/" not in actions


def test_risk_cards_show_progress_stage_counts_next_task_at_risk_first(signed_in):
    template = make_template(spec("a", offset_days=0), spec("b", offset_days=3))
    calm = launch(template, days(2))
    risky = launch(template, days(-1))
    body = home(signed_in)
    assert body.index(f"/runs/{risky.pk}/") < body.index(f"/runs/{calm.pk}/")
    card = re.search(r'<article class="risk-card at-risk".*?</article>', body, re.S).group(0)
    assert risky.title in card and "at risk" in card
    assert body.count('<article class="risk-card at-risk"') == 1  # the calm run's card is not
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


def test_rows_carry_no_action_forms_only_a_disclosure_that_loads_them(signed_in):
    todo = task_in("todo", title="Send newsletter")
    task_in("waiting", title="Chase sponsor", follow_up_at=DAY)
    task_in("todo", title="Post on LinkedIn", requires_link="LinkedIn post URL")
    for index in range(12):
        task_in("todo", title=f"Check inbox {index:02d}", due_date=days(2))
    body = groups_part(home(signed_in))
    assert body.count('<li id="task-') == 15
    assert "<form" not in body and "csrfmiddlewaretoken" not in body
    assert body.count('<details class="row-actions-box" hx-get="/tasks/') == 15
    assert body.count('hx-trigger="toggle[this.open] once"') == 15
    assert f'hx-get="/tasks/{todo.pk}/home-actions/?date={DAY.isoformat()}&amp;scope=all"' in body
    assert '<summary aria-label="Actions for Send newsletter">Actions</summary>' in body
    # Without JavaScript the disclosure still leads somewhere useful.
    assert f'<a href="/tasks/{todo.pk}/">Open the task to act on it</a>' in body
    # Rows past the first ten (behind "Show 2 more") are the same rows.
    rest = body[body.index('<details class="home-more">') :]
    assert rest.count('class="row-actions-box"') == 2


def test_row_actions_of_a_todo_task_start_and_complete_from_home(signed_in):
    task = task_in("todo", title="Send newsletter")
    response = row_actions(signed_in, task, date=days(-1).isoformat())
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'hx-target="closest .home-row"' in body
    assert body.count('<form method="post"') == 2
    assert f'action="/tasks/{task.pk}/start/"' in body and f'action="/tasks/{task.pk}/complete/"' in body
    assert 'aria-label="Start Send newsletter"' in body and 'aria-label="Complete Send newsletter"' in body
    # The forms post back as coming from Home, for the page's day and scope.
    assert '<input type="hidden" name="home" value="1">' in body
    assert f'name="home_date" value="{days(-1).isoformat()}"' in body and 'name="home_scope" value="all"' in body
    assert "csrfmiddlewaretoken" in body and "Add proof" not in body and "Follow-up sent" not in body


def test_row_actions_of_a_waiting_task_record_follow_up_or_response(signed_in):
    task = task_in("waiting", title="Chase sponsor", follow_up_at=DAY)
    body = row_actions(signed_in, task).content.decode()
    assert f'action="/tasks/{task.pk}/follow-up-sent/"' in body
    assert f'action="/tasks/{task.pk}/response-received/"' in body
    assert f'name="next_follow_up_at" type="date" value="{days(3).isoformat()}"' in body
    assert "/start/" not in body and "/complete/" not in body


def test_row_actions_of_a_task_missing_proof_offer_the_proof_form(signed_in):
    task = task_in("todo", title="Post on LinkedIn", requires_link="LinkedIn post URL")
    body = row_actions(signed_in, task).content.decode()
    assert f'action="/tasks/{task.pk}/proof/"' in body and 'enctype="multipart/form-data"' in body
    assert 'value="LinkedIn post URL"' in body and f'action="/tasks/{task.pk}/complete/"' in body
    assert '<details class="add-proof">' in body  # closed until the operator asks for it


def test_row_actions_say_so_when_the_task_left_home(signed_in, operator):
    done = task_in("done", title="Already sent")
    far = task_in("todo", title="Next month", due_date=days(30))
    someone_elses = task_in("todo", title="Not mine", assignee=OperatorFactory(username="priya"))
    for task in (done, far):
        response = row_actions(signed_in, task)
        body = response.content.decode()
        assert response.status_code == 200
        assert "no longer on Home for this day" in body and "<form" not in body
        assert f'href="/tasks/{task.pk}/"' in body
    assert "no longer on Home" in row_actions(signed_in, someone_elses, scope="mine").content.decode()
    assert "<form" in row_actions(signed_in, someone_elses, scope="all").content.decode()


def test_row_actions_of_an_unknown_task_are_a_404(signed_in):
    missing = "5a1d0c3e-1f7b-4c55-9a61-2b7f3c9d8e01"
    response = signed_in.get(f"/tasks/{missing}/home-actions/", {"date": DAY.isoformat()}, headers=HX)
    assert response.status_code == 404 and "does not exist" in response.content.decode()
    assert "<html" not in response.content.decode()
    assert "Open the task" not in response.content.decode()  # there is no task to open
    assert signed_in.get(f"/tasks/{missing}/home-actions/").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date": "09/02/2028"}, "date: &#x27;09/02/2028&#x27; is not a date in YYYY-MM-DD form."),
        ({"date": "2028-02-30"}, "date: &#x27;2028-02-30&#x27; is not a date"),
        ({"date": "2101-01-01"}, "outside the portal&#x27;s calendar"),
        ({"scope": "everyone"}, "scope: &#x27;everyone&#x27; is not one of all, mine."),
        ({"scope": ""}, "scope: &#x27;&#x27; is not one of all, mine."),
        ({"scope": "all\x00"}, "scope: Control characters are not allowed"),
    ],
)
def test_row_actions_refuse_a_malformed_query_with_400(signed_in, query, message):
    task = task_in("todo", title="Send newsletter")
    response = row_actions(signed_in, task, **query)
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body and 'role="alert"' in body and "<form" not in body


def test_row_actions_default_to_todays_home_for_my_work(signed_in, operator):
    today = portal_today()
    task = task_in("todo", title="Mine today", assignee=operator, due_date=today)
    response = signed_in.get(f"/tasks/{task.pk}/home-actions/", headers=HX)
    assert response.status_code == 200 and 'name="home_scope" value="mine"' in response.content.decode()
    assert f'name="home_date" value="{today.isoformat()}"' in response.content.decode()


def test_row_actions_without_htmx_lead_to_the_task_page(signed_in):
    task = task_in("todo", title="Send newsletter")
    response = row_actions(signed_in, task, headers={})
    assert response.status_code == 302 and response["Location"] == f"/tasks/{task.pk}/"
    # Whatever the query says: the task page has the same actions.
    assert row_actions(signed_in, task, headers={}, date="09/02/2028")["Location"] == f"/tasks/{task.pk}/"
    # The answer depends on the HX-Request header, and says so to caches.
    assert "HX-Request" in response["Vary"] and "HX-Request" in row_actions(signed_in, task)["Vary"]


def test_row_actions_are_for_signed_in_members_only(client, outsider):
    task = task_in("todo", title="Send newsletter")
    anonymous = row_actions(client, task, headers={})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    anonymous_htmx = row_actions(client, task)
    assert anonymous_htmx.status_code == 401 and anonymous_htmx["HX-Redirect"] == "/accounts/login/"
    client.force_login(outsider)
    refused = row_actions(client, task)
    assert refused.status_code == 403 and "Send newsletter" not in refused.content.decode()


def test_row_actions_are_read_never_posted(signed_in):
    task = task_in("todo", title="Send newsletter")
    assert signed_in.post(f"/tasks/{task.pk}/home-actions/", home_fields(), headers=HX).status_code == 405
    assert Task.objects.get(pk=task.pk).status == "todo"


def test_row_actions_cost_a_constant_number_of_queries(signed_in, django_assert_max_num_queries):
    task = task_in("todo", title="Post on LinkedIn", requires_link="LinkedIn post URL")
    run = launch(make_template(spec("draft", requires_run_links=["Doc"]), run_links=["Doc"]), DAY)
    for row in (task, task_of(run, "draft")):
        # session + user + the user's groups (membership) + the task with its flags + proofs +
        # required run links
        with django_assert_max_num_queries(6):
            assert row_actions(signed_in, row).status_code == 200


def test_htmx_start_answers_the_updated_row_closed_and_triggers_home_changed(signed_in):
    task = task_in("todo", title="Send newsletter")
    response = signed_in.post(f"/tasks/{task.pk}/start/", home_fields(), headers=HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "home-changed"
    assert f'id="task-{task.pk}"' in body and "In progress" in body
    assert '<details class="row-actions-box" hx-get=' in body and "<form" not in body
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


def test_htmx_refused_complete_rerenders_the_row_with_the_reason_and_the_proof_form_open(signed_in):
    task = task_in("todo", title="Post on LinkedIn", requires_link="LinkedIn post URL")
    response = signed_in.post(f"/tasks/{task.pk}/complete/", home_fields(), headers=HX)
    body = response.content.decode()
    assert response.status_code == 400
    assert "HX-Trigger" not in response
    assert f'id="task-{task.pk}"' in body and 'role="alert"' in body and "LinkedIn post URL" in body
    # The actions are there already, open, with the way to fix it open too.
    assert '<details class="row-actions-box" open>' in body and "hx-get" not in body
    assert '<details open class="add-proof">' in body and f'action="/tasks/{task.pk}/proof/"' in body
    assert Task.objects.get(pk=task.pk).status == "todo"


def test_follow_up_sent_and_response_received_from_home(signed_in):
    task = task_in("waiting", title="Chase sponsor", follow_up_at=DAY)
    refused = signed_in.post(
        f"/tasks/{task.pk}/follow-up-sent/", home_fields(next_follow_up_at=days(3).isoformat()), headers=HX
    )
    assert refused.status_code == 400 and '<details class="row-actions-box" open>' in refused.content.decode()
    assert '<details open><summary aria-label="Follow-up sent' in refused.content.decode()
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


def test_a_tampered_home_scope_falls_back_to_the_default(signed_in):
    task = task_in("todo", title="Send newsletter")
    response = signed_in.post(f"/tasks/{task.pk}/start/", home_fields(home_scope="all&x=1"), headers=HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "scope=mine" in body and "x=1" not in body
    plain = signed_in.post(f"/tasks/{task.pk}/complete/", home_fields(home_scope="everyone"))
    assert plain["Location"] == f"/?date={DAY.isoformat()}#task-{task.pk}"


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
    assert "<form" not in groups_part(body)
