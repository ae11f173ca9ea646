"""The task list page (``/tasks/``): where each Operations Home group's "Show all" leads —
filtered through the task list's FilterSet, paged by cursor."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.urls import reverse

from tests.factories import DAY, HOME_GROUP_TASKS, OperatorFactory, TaskFactory, task_in

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
LIST = "/tasks/"


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


def titles(body: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'class="row-title" href="/tasks/[0-9a-f-]+/">([^<]+)</a>', body)]


def test_the_task_list_is_named_task_list():
    assert reverse("task-list") == LIST


def test_task_list_requires_login_and_membership(client, outsider):
    assert client.get(LIST).status_code == 302
    assert client.get(LIST, headers=HX).status_code == 401
    client.force_login(outsider)
    assert client.get(LIST).status_code == 403
    assert client.get(LIST, headers=HX).status_code == 403


def test_group_list_shows_all_of_the_group_a_page_at_a_time(signed_in):
    for index in range(55):
        TaskFactory(title=f"late {index:02d}", due_date=DAY - dt.timedelta(days=1 + index % 7))
    TaskFactory(title="not late", due_date=DAY + dt.timedelta(days=1))
    query = {"group": "overdue", "date": DAY.isoformat(), "scope": "all"}
    first = signed_in.get(LIST, query)
    assert first.status_code == 200
    body = first.content.decode()
    assert "<h1>Overdue</h1>" in body and "55 tasks" in body
    page_one = titles(body)
    assert len(page_one) == 50 and "not late" not in page_one
    next_url = html.unescape(re.search(r'href="([^"]+)" rel="next"', body).group(1))
    second = signed_in.get(next_url).content.decode()
    page_two = titles(second)
    assert len(page_two) == 5 and not set(page_one) & set(page_two)
    assert 'rel="next"' not in second and 'rel="prev"' in second


def test_htmx_request_gets_only_the_results(signed_in):
    TaskFactory(title="Pay the invoice")
    body = signed_in.get(LIST, headers=HX).content.decode()
    assert "Pay the invoice" in body and "<html" not in body and 'id="task-results"' in body


def test_scope_mine_and_unassigned_filters(signed_in, operator):
    TaskFactory(title="mine", assignee=operator)
    TaskFactory(title="nobody's")
    TaskFactory(title="theirs", assignee=OperatorFactory(username="otto"))
    assert set(titles(signed_in.get(LIST, {"scope": "mine"}).content.decode())) == {"mine", "nobody's"}
    assert titles(signed_in.get(LIST, {"unassigned": "true"}).content.decode()) == ["nobody's"]


def test_a_bad_filter_is_named_and_lists_nothing(signed_in):
    TaskFactory()
    response = signed_in.get(LIST, {"group": "someday"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "group:" in body and "someday" in body and titles(body) == []


@pytest.mark.parametrize("size", [3, 40])
def test_task_list_uses_a_constant_number_of_queries(signed_in, django_assert_max_num_queries, size):
    for index in range(size):
        task_in("waiting", title=f"waiting {index}", follow_up_at=DAY - dt.timedelta(days=index % 3))
    # session + user + the user's groups (membership check) + page + count
    with django_assert_max_num_queries(5):
        response = signed_in.get(LIST, {"group": "follow_ups_due", "date": DAY.isoformat()})
    assert len(titles(response.content.decode())) == min(size, 50)


def test_home_links_each_long_group_to_its_full_list(signed_in):
    made = {name: {make(n).title for n in range(13)} for name, make in HOME_GROUP_TASKS.items()}
    body = signed_in.get("/", {"date": DAY.isoformat(), "scope": "all"}).content.decode()
    for name, expected in made.items():
        section = re.search(rf'<section id="group-{name}".*?</section>', body, re.S).group(0)
        link = html.unescape(re.search(r'<a href="(/tasks/\?[^"]+)">Show all 13', section).group(1))
        assert f"group={name}" in link and f"date={DAY.isoformat()}" in link and "scope=all" in link
        assert set(titles(signed_in.get(link).content.decode())) == expected, name
