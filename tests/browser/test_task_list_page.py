"""Every Operations Home group's full list is one click away: "Show all N" opens the task list
page for that group, a page at a time, on a phone and on a desktop."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.browser.conftest import assert_accessible, assert_no_horizontal_overflow, logged_in
from tests.factories import DAY, HOME_GROUP_TASKS, TaskFactory
from workflows.models import portal_today

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_show_all_opens_the_groups_full_list_paginated(request, device, browser_operator, live_server):
    page = request.getfixturevalue("phone_page" if device == "phone" else "page")
    today = portal_today()
    for index in range(60):
        TaskFactory(
            title=f"Overdue check {index:02d}",
            assignee=browser_operator,
            due_date=today - dt.timedelta(days=1 + index % 5),
        )
    TaskFactory(title="Due later", assignee=browser_operator, due_date=today + dt.timedelta(days=2))
    logged_in(page, browser_operator, live_server.url)
    page.goto("/")
    group = page.locator("#group-overdue")
    group.get_by_role("link", name=re.compile("Show all 60")).click()

    page.wait_for_url(re.compile(r"/tasks/\?.*group=overdue"))
    assert page.get_by_role("heading", level=1).inner_text() == "Overdue"
    assert "60 tasks" in page.locator("#task-results").inner_text()
    rows = page.locator("#task-results .home-row")
    assert rows.count() == 50
    first_page = set(rows.all_inner_texts())
    assert_no_horizontal_overflow(page)
    assert_accessible(page)

    page.get_by_role("button", name=re.compile("Next page")).click()
    page.wait_for_url(re.compile(r"cursor="))
    assert rows.count() == 10
    assert not first_page & set(rows.all_inner_texts())
    assert "Due later" not in page.content()
    assert page.get_by_role("button", name=re.compile("Next page")).count() == 0
    assert_no_horizontal_overflow(page)
    page.screenshot(path=f"/tmp/task-list-{device}.png", full_page=False)


def test_every_group_lists_all_of_its_tasks_one_click_from_home(page, browser_operator, live_server):
    made = {name: {make(n).title for n in range(13)} for name, make in HOME_GROUP_TASKS.items()}
    logged_in(page, browser_operator, live_server.url)
    home = f"/?date={DAY.isoformat()}&scope=all"
    for name, expected in made.items():
        page.goto(home)
        page.locator(f"#group-{name}").get_by_role("link", name=re.compile("Show all 13")).click()
        page.wait_for_url(re.compile(rf"/tasks/\?.*group={name}"))
        assert "13 tasks" in page.locator("#task-results").inner_text()
        listed = {title.strip() for title in page.locator("#task-results .home-row .row-title").all_inner_texts()}
        assert listed == expected, name
