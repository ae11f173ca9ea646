"""The Recurring pages in a real browser: an operator creates a recurring task from a preset with
the live preview, pauses it, backfills a week with a dry run first and resumes it — without the
admin; an invalid cron shows its reason while typing and is refused on save; the list and the
form fit a phone and a desktop and pass axe."""

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
from tests.factories import make_automatic_template as make_template
from tests.factories import make_recurring_config as make_config
from workflows.models import Task, portal_today

pytestmark = pytest.mark.browser


def test_operator_creates_pauses_backfills_and_resumes_a_recurring_task(operator_page):
    page = operator_page
    today = portal_today()
    page.goto("/recurring/")
    page.get_by_role("link", name="New recurring task").first.click()

    page.get_by_role("button", name="Daily at 9:00").click()
    assert page.get_by_label("Cron expression").input_value() == "0 9 * * *"
    preview = page.locator("#schedule-preview")
    preview.get_by_text("At 09:00, every day").wait_for()
    assert preview.locator("ol.fire-times li").count() == 5
    page.get_by_label("Starts on").fill((today - dt.timedelta(days=30)).isoformat())
    page.get_by_label("Title").fill("Check the shared inbox")
    page.get_by_label("Title").press("Enter")  # Enter saves; it does not choose a preset

    page.wait_for_url("**/recurring/#schedule-*")
    config = RecurringConfig.objects.get(title="Check the shared inbox")
    row = page.locator(f"#schedule-{config.pk}")
    row.get_by_text("Active", exact=True).wait_for()
    assert not Task.objects.exists()

    page.evaluate("window.notReloaded = true")
    row.get_by_role("button", name="Pause Check the shared inbox").click()
    row.get_by_text("Paused: no new work").wait_for()
    config.refresh_from_db()
    assert not config.enabled

    start, end = today - dt.timedelta(days=7), today - dt.timedelta(days=1)
    row.locator("summary", has_text="Backfill a date range").click()
    row.get_by_label("Start date").fill(start.isoformat())
    row.get_by_label("End date").fill(end.isoformat())
    row.get_by_role("button", name="Preview (dry run)").click()
    row.get_by_text("Would be generated: 7").wait_for()
    assert row.locator(".backfill-windows li").count() == 7
    assert not Task.objects.exists()  # the dry run wrote nothing

    row.get_by_role("button", name="Confirm: generate 7").click()
    row.get_by_text("7 tasks generated, 0 already existed").wait_for()
    assert Task.objects.filter(recurring_config=config).count() == 7
    config.refresh_from_db()
    assert not config.enabled  # a backfill does not resume

    row.get_by_role("button", name="Resume Check the shared inbox").click()
    row.get_by_text("Resumed").wait_for()
    config.refresh_from_db()
    assert config.enabled
    assert page.evaluate("window.notReloaded") is True  # every action swapped in place


def test_an_invalid_cron_shows_the_reason_live_and_is_refused_on_save(operator_page):
    page = operator_page
    page.goto("/recurring/new/")
    page.get_by_label("Title").fill("Last-day report")
    page.get_by_label("Cron expression").press_sequentially("0 9 L * *", delay=20)

    page.locator("#schedule-preview").get_by_text("This schedule is refused").wait_for()
    assert "'L'" in page.locator("#schedule-preview").inner_text()

    page.get_by_role("button", name="Create recurring task").click()
    error = page.locator("#id_cron_expression_error")
    error.wait_for()
    assert "This schedule is refused" in error.inner_text()
    assert not RecurringConfig.objects.exists()


@pytest.mark.parametrize("viewport", [PHONE_VIEWPORT, DESKTOP_VIEWPORT], ids=["phone", "desktop"])
def test_recurring_pages_fit_the_screen_and_pass_axe(browser, live_server, browser_operator, viewport):
    created = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    config = make_config(
        created=created,
        title="Invoice-receipt-dropbox-bookkeeping-checks-for-the-very-long-sponsorship-account-name",
        cron="0 9 * * MON-FRI",
        tz="Europe/Berlin",
        assignee=browser_operator,
    )
    paused = make_config(created=created, title="Back up the Mailchimp list", cron="0 10 1 * *")
    paused.enabled = False
    paused.save()
    make_template(created=created, name="Weekly newsletter")
    context = browser.new_context(viewport=viewport, base_url=live_server.url)
    page = context.new_page()
    logged_in(page, browser_operator, live_server.url)
    try:
        for url in ("/recurring/", "/recurring/new/", f"/recurring/configs/{config.pk}/edit/"):
            page.goto(url)
            assert_no_horizontal_overflow(page)
            assert_accessible(page)
        page.goto("/recurring/")
        page.locator(f"#schedule-{config.pk} summary", has_text="Backfill").click()
        assert_no_horizontal_overflow(page)
    finally:
        context.close()
