"""``/api/v1/home/`` and the selector behind it: the groups of ``docs/home.md`` and their precedence, risk cards,
automation failures, scope, and a constant number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from notifications.models import NotificationType
from notifications.services import notify
from portal.selectors import HOME_GROUPS, operations_home
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger
from tests.factories import (
    DAY,
    OperatorFactory,
    failed_generation,
    launch,
    make_config,
    make_template,
    recurring_task,
    spec,
    task_of,
)
from tests.factories import task_in as _task_in

pytestmark = pytest.mark.django_db

HOME = "/api/v1/home/"


def days(n: int) -> dt.date:
    return DAY + dt.timedelta(days=n)


def task_in(status: str, title: str, **values):
    return _task_in(status, title=title, **values)


def home(api, **query) -> dict:
    response = api.get(HOME, {"date": DAY.isoformat(), **query})
    assert response.status_code == 200, response.content
    return response.json()


def titles(body: dict) -> dict[str, list[str]]:
    return {name: [row["title"] for row in rows] for name, rows in body["groups"].items()}


def test_each_open_task_lands_in_exactly_one_group_by_precedence(api):
    task_in("waiting", "follow-up due, due later", follow_up_at=days(-1), due_date=days(10))
    task_in("waiting", "follow-up due today, overdue", follow_up_at=DAY, due_date=days(-4))
    task_in("waiting", "waiting, overdue but follow-up later", follow_up_at=days(2), due_date=days(-5))
    task_in("todo", "overdue", due_date=days(-2))
    task_in("in_progress", "overdue and missing proof", due_date=days(-1), requires_proof_note=True)
    task_in("todo", "missing link", due_date=DAY, requires_link="Post URL")
    task_in("todo", "today", due_date=DAY)
    task_in("in_progress", "today, started", due_date=DAY)
    task_in("todo", "upcoming", due_date=days(7))
    task_in("todo", "too far", due_date=days(8))
    task_in("done", "done today", due_date=DAY)
    task_in("skipped", "skipped overdue", due_date=days(-3))
    task_in("todo", "archived", due_date=DAY, archived_at=timezone.now())

    body = home(api)

    assert titles(body) == {
        "follow_ups_due": ["follow-up due, due later", "follow-up due today, overdue"],
        "overdue": ["overdue", "overdue and missing proof"],
        "missing_evidence": ["missing link"],
        "today": ["today", "today, started"],
        "waiting": ["waiting, overdue but follow-up later"],
        "upcoming": ["upcoming"],
    }
    assert body["counts"] == {name: len(rows) for name, rows in body["groups"].items()}
    all_ids = [row["id"] for rows in body["groups"].values() for row in rows]
    assert len(all_ids) == len(set(all_ids)) == 9
    overdue = body["groups"]["overdue"][0]
    assert overdue["days_overdue"] == 2 and overdue["source_label"] == "Manual"
    assert body["groups"]["missing_evidence"][0]["missing_requirements"] == ["Post URL"]
    assert body["date"] == DAY.isoformat()


def test_a_row_is_written_as_its_declared_fields_would_write_it(operator):
    """The rows' written-out serializer gives what its declared fields give, for every kind of
    row: each group, each source, with and without a person, a time or a follow-up date."""
    from rest_framework import serializers

    from portal.home_api import HomeTaskSerializer

    run = launch(make_template(spec("send", requires_run_links=["Mailchimp"]), run_links=["Mailchimp"]))
    recurring_task(make_config(title="Weekly report"), DAY)
    task_in("waiting", "follow-up due", follow_up_at=days(-1), due_date=days(3), assignee=operator, area="Ops")
    task_in("todo", "overdue, timed", due_date=days(-2), due_time=dt.time(9, 30), priority="urgent")
    task_in("in_progress", "missing proof", due_date=DAY, requires_proof_note=True, requires_link="Post URL")
    task_in("waiting", "waiting", follow_up_at=days(2), due_date=days(1), waiting_for="Printer")
    task_in("todo", "upcoming", due_date=days(3))
    home = operations_home(today=DAY, user=operator, scope="all")
    rows = [task for name in HOME_GROUPS for task in home.groups[name]]
    assert {task.home_group for task in rows} == set(HOME_GROUPS)
    assert any(task.run_id == run.pk for task in rows)
    serializer = HomeTaskSerializer()
    for task in rows:
        written = serializer.to_representation(task)
        assert written == serializers.Serializer.to_representation(serializer, task), task.title
        assert list(written) == list(serializer.fields), task.title


def test_unfilled_required_run_link_counts_as_missing_evidence(api):
    run = launch(make_template(spec("send", requires_run_links=["Mailchimp"]), run_links=["Mailchimp"]))
    body = home(api)
    (row,) = body["groups"]["missing_evidence"]
    assert row["title"] == task_of(run, "send").title
    assert row["missing_requirements"] == ["run link 'Mailchimp'"]
    assert row["source_label"] == f"Workflow · {run.title}"
    assert row["run"]["id"] == str(run.pk)


def test_tasks_of_paused_or_cancelled_runs_leave_home_but_paused_configs_stay(api):
    template = make_template(spec("a"))
    launch(template, DAY)
    paused = launch(template, days(-7))
    paused.pause()
    cancelled = launch(template, days(-14))
    cancelled.cancel(reason="Skipped this issue")
    config = make_config("Back up the mailing list", enabled=False)
    recurring_task(config, DAY)

    body = home(api)

    assert [row["run"]["title"] for row in body["groups"]["today"] if row["run"]] == [f"{template.name} — {DAY}"]
    labels = [row["source_label"] for row in body["groups"]["today"]]
    assert "Recurring · Back up the mailing list" in labels
    assert body["counts"]["overdue"] == 0
    assert [card["id"] for card in body["runs"]] == [str(template.runs.get(anchor_date=DAY).pk)]


def test_scope_mine_is_my_work_and_unassigned_work(api, operator):
    other = OperatorFactory()
    task_in("todo", "mine", due_date=DAY, assignee=operator)
    task_in("todo", "nobody's", due_date=DAY)
    task_in("todo", "theirs", due_date=DAY, assignee=other)

    assert titles(home(api, scope="mine"))["today"] == ["mine", "nobody's"]
    assert titles(home(api, scope="all"))["today"] == ["mine", "nobody's", "theirs"]
    assert titles(home(api))["today"] == ["mine", "nobody's", "theirs"]


def test_today_orders_by_priority_then_time(api):
    task_in("todo", "normal early", due_date=DAY, due_time=dt.time(8))
    task_in("todo", "urgent", due_date=DAY, priority="urgent")
    task_in("todo", "normal late", due_date=DAY, due_time=dt.time(17))
    task_in("todo", "normal, any time", due_date=DAY)
    assert titles(home(api))["today"] == ["urgent", "normal early", "normal late", "normal, any time"]


def test_limit_cuts_groups_but_counts_stay_complete(api):
    for n in range(4):
        task_in("todo", f"overdue {n}", due_date=days(-1 - n))
    task_in("todo", "today", due_date=DAY)

    body = home(api, limit=2)
    assert titles(body)["overdue"] == ["overdue 3", "overdue 2"]
    assert body["counts"]["overdue"] == 4 and body["counts"]["today"] == 1

    counts_only = home(api, limit=0)
    assert all(rows == [] for rows in counts_only["groups"].values())
    assert counts_only["counts"]["overdue"] == 4 and counts_only["counts"]["today"] == 1


def test_a_group_lists_its_first_25_by_default_and_the_task_list_pages_through_the_rest(api):
    for n in range(27):
        task_in("todo", f"overdue {n:02d}", due_date=days(-1 - n))

    body = home(api)
    assert len(body["groups"]["overdue"]) == 25 and body["counts"]["overdue"] == 27
    assert titles(body)["overdue"][0] == "overdue 26"

    listed = api.get("/api/v1/tasks/", {"group": "overdue", "date": DAY.isoformat(), "scope": "all"}).json()
    assert len(listed["results"]) == 27


def test_dismissing_a_notification_leaves_the_task_on_home(api, operator):
    task = task_in("todo", "overdue", due_date=days(-1), assignee=operator)
    (notification,) = notify(
        NotificationType.TASK_OVERDUE, recipients=[operator], dedup_key=f"task-overdue:{task.pk}", title="x", task=task
    )
    api.post(f"/api/v1/notifications/{notification.pk}/dismiss/")
    assert titles(home(api))["overdue"] == ["overdue"]


def test_risk_cards_list_active_runs_at_risk_first(api):
    template = make_template(spec("a", offset_days=0), spec("b", offset_days=3))
    calm = launch(template, days(2))
    risky = launch(template, days(-1))  # task a due yesterday: overdue
    launch(template, days(5)).pause()

    cards = home(api)["runs"]

    assert [card["id"] for card in cards] == [str(risky.pk), str(calm.pk)]
    risk = cards[0]["risk"]
    assert risk["at_risk"] is True and risk["overdue"] == 1
    assert risk["progress"] == {"resolved": 0, "total": 2}
    assert risk["next_due_task"]["title"] == task_of(risky, "a").title
    assert cards[1]["risk"]["at_risk"] is False
    assert cards[0]["current_stage"] == "draft"
    assert cards[0]["template"]["name"] == template.name


def test_automation_failures_are_the_unresolved_unacknowledged_ones(api):
    config = make_config("Dump Slack")
    template = make_template(spec("a"), name="Tax report")
    open_failure = failed_generation(config, DAY, error="Slack API said no")
    failed_generation(config, days(-30), resolved_at=timezone.now())
    failed_generation(config, days(-31), acknowledged_at=timezone.now(), acknowledgement_note="ok")
    failed_generation(config, days(-32), status=GenerationStatus.SUCCESS)
    GenerationRun.objects.create(
        template=template,
        trigger=GenerationTrigger.BEAT,
        status=GenerationStatus.FAILED,
        at=timezone.now(),
        failed_window=days(-1),
        error="partial run",
    )

    failures = home(api)["automation_failures"]

    assert {f["schedule"]["title"] for f in failures} == {"Dump Slack", "Tax report"}
    slack = next(f for f in failures if f["schedule"]["kind"] == "recurring")
    assert slack["id"] == str(open_failure.pk)
    assert slack["window_date"] == DAY.isoformat() and slack["error"] == "Slack API said no"
    assert slack["schedule"]["id"] == str(config.pk)


def test_retries_of_one_window_are_one_failure(api):
    config = make_config()
    with time_machine.travel(dt.datetime(2028, 2, 9, 9, tzinfo=dt.UTC)):
        failed_generation(config, DAY, error="first")
    with time_machine.travel(dt.datetime(2028, 2, 9, 9, 2, tzinfo=dt.UTC)):
        latest = failed_generation(config, DAY, error="second")
    (failure,) = home(api)["automation_failures"]
    assert failure["id"] == str(latest.pk) and failure["attempts"] == 2 and failure["error"] == "second"


def test_empty_home(api):
    body = home(api)
    assert body["groups"] == {name: [] for name in HOME_GROUPS}
    assert body["counts"] == dict.fromkeys(HOME_GROUPS, 0)
    assert body["runs"] == [] and body["automation_failures"] == []
    assert body["scope"] == "all"


def test_date_defaults_to_today_in_the_portal_time_zone(api, settings):
    settings.PORTAL_TIME_ZONE = "Pacific/Auckland"
    task_in("todo", "due on the 9th", due_date=DAY)
    with time_machine.travel(dt.datetime(2028, 2, 8, 20, tzinfo=dt.UTC)):  # 09:00 on the 9th in Auckland
        body = api.get(HOME).json()
    assert body["date"] == "2028-02-09"
    assert titles(body)["today"] == ["due on the 9th"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date": "09/02/2028"}, "date"),
        ({"scope": "team"}, "scope"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "x"}, "limit"),
    ],
)
def test_bad_query_is_refused(api, query, field):
    response = api.get(HOME, query)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"].startswith(f"{field}:")


def test_selector_refuses_an_unknown_scope(operator):
    with pytest.raises(ValueError, match="scope"):
        operations_home(today=DAY, user=operator, scope="team")


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
        task_in("waiting", f"waiting {index}", follow_up_at=days(index - 2), due_date=days(index))
        failed_generation(config, days(-100 - index))


@pytest.mark.parametrize("size", [2, 20])
def test_home_uses_a_constant_number_of_queries(api, operator, django_assert_max_num_queries, size):
    _populate(size, operator)
    # the groups' counts + one query per group (six, each ORDER BY … LIMIT) + proofs + required
    # run links + prerequisites + runs with risk + next due tasks + failures, and the user's groups
    with django_assert_max_num_queries(14):
        body = home(api, scope="mine")
    assert sum(body["counts"].values()) == 5 * size  # every task of _populate is on Home
    assert len(body["runs"]) == size and len(body["automation_failures"]) == size


def test_failures_sharing_a_notification_key_are_one_failure(api):
    config = make_config()
    failed_generation(config, None, failure_key="automation-failure:recurring:x:schedule:1", error="bad cron")
    failed_generation(config, None, failure_key="automation-failure:recurring:x:schedule:1", error="bad cron")
    failed_generation(config, None, failure_key="automation-failure:recurring:x:schedule:2", error="other")
    failures = home(api)["automation_failures"]
    assert sorted(f["attempts"] for f in failures) == [1, 2]


@pytest.mark.django_db
def test_home_rows_name_the_assignee_or_null(api, operator):
    import datetime as dt

    from tests.factories import TaskFactory

    TaskFactory(title="Mine", assignee=operator, due_date=dt.date(2028, 2, 2))
    TaskFactory(title="Nobody's", due_date=dt.date(2028, 2, 2))
    today = api.get("/api/v1/home/?date=2028-02-02&scope=all").json()["groups"]["today"]
    assert {row["title"]: row["assignee"] for row in today} == {"Mine": operator.username, "Nobody's": None}
    assert all(row["recurring_config"] is None and row["run"] is None for row in today)
