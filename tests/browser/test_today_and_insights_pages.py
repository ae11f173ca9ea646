"""Start today and Insights in Chromium: a day cleared by keyboard, layout at phone and desktop
widths, and the axe scan."""

from __future__ import annotations

import datetime as dt

import pytest

from recurring.models import RecurringConfig
from tests.browser.conftest import (
    DESKTOP_VIEWPORT,
    PHONE_VIEWPORT,
    assert_accessible,
    assert_no_horizontal_overflow,
    logged_in,
)
from tests.factories import TaskFactory
from workflows.models import Priority, TaskSource, TaskStatus, portal_today

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def three_task_day(user) -> list:
    today = portal_today()
    return [
        TaskFactory(title="Answer the sponsor", due_date=today, priority=Priority.URGENT, assignee=user),
        TaskFactory(title="Back up the mailing list", due_date=today, assignee=user),
        TaskFactory(title="Tidy the shared drive", due_date=today, priority=Priority.LOW, assignee=user),
    ]


def test_an_operator_clears_a_three_task_day_by_keyboard(page, browser_operator, live_server):
    tasks = three_task_day(browser_operator)
    logged_in(page, browser_operator, live_server.url)
    page.goto("/today/")
    for expected in tasks:
        heading = page.locator("#current-h")
        assert heading.inner_text() == expected.title
        complete = page.get_by_role("button", name="Complete", exact=True)
        complete.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="All done for today").is_visible()
    body = page.locator("main").inner_text()
    assert "You resolved 3 tasks today" in body
    assert "1-day streak" in body
    for task in tasks:
        task.refresh_from_db()
        assert task.status == TaskStatus.DONE


@pytest.mark.parametrize("viewport", [PHONE_VIEWPORT, DESKTOP_VIEWPORT], ids=["phone", "desktop"])
def test_start_today_and_insights_fit_and_pass_axe(browser, live_server, browser_operator, viewport):
    three_task_day(browser_operator)
    config = RecurringConfig.objects.create(title="Slack invites from Airtable", cron_expression="0 9 * * *")
    day = portal_today() - dt.timedelta(days=2)
    TaskFactory(
        source=TaskSource.RECURRING, recurring_config=config, window_date=day, due_date=day, assignee=browser_operator
    ).complete(by=browser_operator)
    context = browser.new_context(viewport=viewport, base_url=live_server.url)
    page = context.new_page()
    logged_in(page, browser_operator, live_server.url)
    try:
        for path in ("/today/", "/insights/", "/insights/?days=90", f"/insights/configs/{config.pk}/"):
            page.goto(path)
            page.wait_for_load_state("networkidle")
            assert_no_horizontal_overflow(page)
            assert_accessible(page)
    finally:
        context.close()
