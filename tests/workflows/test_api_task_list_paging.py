"""``/api/v1/tasks/``: cursor pages on (due_date, id) and the filters Operations Home links to
(``group``, ``follow_up_due``, ``unassigned``, ``scope``)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.selectors import home_groups
from tests.conftest import refused
from tests.factories import DAY, OperatorFactory, TaskFactory, task_in
from workflows.models import HOME_GROUPS

pytestmark = pytest.mark.django_db

TASKS = "/api/v1/tasks/"


def _walk(api, params: dict) -> list[dict]:
    body = api.get(TASKS, params).json()
    rows = list(body["results"])
    while body["next"]:
        body = api.get(body["next"]).json()
        rows += body["results"]
    return rows


def test_cursor_pages_visit_every_task_once_in_due_date_order(api):
    # Several tasks share each due date, so the order needs its tie-breaker (id) to be unique.
    for index in range(23):
        TaskFactory(due_date=DAY + dt.timedelta(days=index % 4))
    rows = _walk(api, {"page_size": 5})
    keys = [(row["due_date"], row["id"]) for row in rows]
    assert len(rows) == 23 and len(set(keys)) == 23
    assert keys == sorted(keys)


def test_previous_link_returns_the_page_before(api):
    for index in range(12):
        TaskFactory(due_date=DAY + dt.timedelta(days=index % 3))
    first = api.get(TASKS, {"page_size": 5}).json()
    assert first["previous"] is None and first["count"] == 12
    second = api.get(first["next"]).json()
    back = api.get(second["previous"]).json()
    assert [row["id"] for row in back["results"]] == [row["id"] for row in first["results"]]
    third = api.get(second["next"]).json()
    assert len(third["results"]) == 2 and third["next"] is None


def test_a_page_does_not_shift_when_an_earlier_task_is_added(api):
    for index in range(6):
        TaskFactory(due_date=DAY + dt.timedelta(days=index))
    first = api.get(TASKS, {"page_size": 3}).json()
    TaskFactory(due_date=DAY - dt.timedelta(days=30))
    second = api.get(first["next"]).json()
    assert [row["due_date"] for row in second["results"]] == [
        (DAY + dt.timedelta(days=n)).isoformat() for n in (3, 4, 5)
    ]


@pytest.mark.parametrize("cursor", ["garbage", "eyJkIjogIm5vIn0", ""])
def test_a_bad_cursor_is_refused_naming_it(api, cursor):
    response = api.get(TASKS, {"cursor": cursor})
    refused(response, "validation_error")
    assert "cursor" in response.json()["errors"]


@pytest.mark.parametrize("page", ["2", "abc"])
def test_later_page_numbers_are_refused_in_favour_of_the_cursor(api, page):
    response = api.get(TASKS, {"page": page})
    refused(response, "validation_error")
    assert "cursor" in response.json()["detail"]


def test_page_one_is_the_first_page(api):
    TaskFactory.create_batch(3)
    body = api.get(TASKS, {"page": 1, "page_size": 2}).json()
    assert len(body["results"]) == 2 and body["count"] == 3 and "cursor=" in body["next"]


def test_group_filter_lists_exactly_homes_group(api, operator):
    today = DAY
    task_in("waiting", title="follow up", follow_up_at=today - dt.timedelta(days=1))
    task_in("waiting", title="later", follow_up_at=today + dt.timedelta(days=2))
    TaskFactory(title="late", due_date=today - dt.timedelta(days=3))
    TaskFactory(title="proof", due_date=today, requires_proof_note=True)
    TaskFactory(title="plain today", due_date=today)
    TaskFactory(title="soon", due_date=today + dt.timedelta(days=2))
    TaskFactory(title="far", due_date=today + dt.timedelta(days=30))
    task_in("done", title="finished", due_date=today - dt.timedelta(days=3))
    groups, counts = home_groups(today=today)
    for name in HOME_GROUPS:
        rows = _walk(api, {"group": name, "date": today.isoformat()})
        assert {row["title"] for row in rows} == {task.title for task in groups[name]}, name
        assert len(rows) == counts[name] == 1


def test_follow_up_due_and_unassigned_filters(api, operator):
    other = OperatorFactory(username="otto")
    task_in("waiting", title="due follow-up", follow_up_at=DAY, assignee=operator)
    task_in("waiting", title="later follow-up", follow_up_at=DAY + dt.timedelta(days=1))
    TaskFactory(title="theirs", assignee=other)
    day = DAY.isoformat()
    assert [r["title"] for r in _walk(api, {"follow_up_due": "true", "date": day})] == ["due follow-up"]
    assert {r["title"] for r in _walk(api, {"follow_up_due": "false", "date": day})} == {"later follow-up", "theirs"}
    assert [r["title"] for r in _walk(api, {"unassigned": "true"})] == ["later follow-up"]
    assert {r["title"] for r in _walk(api, {"scope": "mine"})} == {"due follow-up", "later follow-up"}


@pytest.mark.parametrize(
    ("params", "name"),
    [({"group": "soon"}, "group"), ({"unassigned": "maybe"}, "unassigned"), ({"scope": "theirs"}, "scope")],
)
def test_bad_filter_values_are_refused_naming_the_filter(api, params, name):
    response = api.get(TASKS, params)
    refused(response, "validation_error")
    assert name in response.json()["errors"]


@pytest.mark.parametrize("size", [5, 30])
def test_a_later_page_costs_the_same_queries(api, django_assert_max_num_queries, size):
    for index in range(size):
        TaskFactory(due_date=DAY + dt.timedelta(days=index % 5))
    first = api.get(TASKS, {"page_size": 2}).json()
    # the user's groups + page + count + proofs + required run links + dependencies
    with django_assert_max_num_queries(7):
        body = api.get(first["next"]).json()
    assert len(body["results"]) == 2
