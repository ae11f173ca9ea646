"""Operations Home in a real browser: a row's actions load when it is opened, in-place actions
swap the row and re-fetch the groups (counts) without a full reload, a refusal shows its reason
in the row with the actions open, and the page fits a 390 px phone and passes axe."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import (
    assert_accessible,
    assert_no_horizontal_overflow,
    logged_in,
    open_home_row_actions,
)
from tests.factories import TaskFactory, launch, make_template, spec
from workflows.models import Task, portal_today

pytestmark = pytest.mark.browser


def test_start_and_complete_in_place_update_the_counts_without_reload(operator_page, browser_operator):
    today = portal_today()
    task = TaskFactory(title="Back up mailing list", assignee=browser_operator, due_date=today)
    operator_page.goto("/")
    operator_page.evaluate("window.notReloaded = true")
    today_count = operator_page.locator('[data-count="today"]')
    assert today_count.inner_text() == "1"
    # The page carries no action form until a row is opened.
    assert operator_page.locator("#home-groups form").count() == 0

    open_home_row_actions(operator_page, "Back up mailing list")
    operator_page.get_by_role("button", name="Start Back up mailing list").click()
    operator_page.locator("#home-status", has_text="Started.").wait_for()
    # Let the groups re-fetch that "Started" triggered land before acting on the fresh row.
    operator_page.wait_for_load_state("networkidle")
    row = operator_page.locator(f"#task-{task.pk}")
    assert row.locator(".row-actions-box").get_attribute("open") is None  # the row is back to closed
    open_home_row_actions(operator_page, "Back up mailing list")
    operator_page.get_by_role("button", name="Complete Back up mailing list").click()
    operator_page.locator("#home-status", has_text="Completed.").wait_for()
    operator_page.locator("#group-today", has_text="Nothing else due today").wait_for()

    assert today_count.inner_text() == "0"
    assert operator_page.evaluate("window.notReloaded") is True
    assert Task.objects.get(pk=task.pk).status == "done"


def test_refused_complete_shows_the_reason_with_the_add_proof_form_open(operator_page, browser_operator):
    task = TaskFactory(
        title="Post on LinkedIn", assignee=browser_operator, due_date=portal_today(), requires_link="LinkedIn post URL"
    )
    operator_page.goto("/")
    open_home_row_actions(operator_page, "Post on LinkedIn")
    operator_page.get_by_role("button", name="Complete Post on LinkedIn").click()
    alert = operator_page.locator(f"#task-{task.pk} .error-box")
    alert.wait_for()
    assert "LinkedIn post URL" in alert.inner_text()
    operator_page.wait_for_function("document.activeElement && document.activeElement.closest('.error-box')")
    row = operator_page.locator(f"#task-{task.pk}")
    assert row.get_by_label("URL").is_visible()  # the way to fix it is open
    row.get_by_label("URL").fill("https://linkedin.example/post/1")
    row.get_by_role("button", name="Add proof").click()
    operator_page.locator(f"#task-{task.pk} .confirmation", has_text="Proof added.").wait_for()
    assert Task.objects.get(pk=task.pk).status == "todo" and task.proofs.count() == 1


def test_a_row_gone_from_home_says_so_when_opened(operator_page, browser_operator):
    task = TaskFactory(title="Pay the venue", assignee=browser_operator, due_date=portal_today())
    operator_page.goto("/")
    task.complete(by=browser_operator)
    operator_page.locator('summary[aria-label="Actions for Pay the venue"]').click()
    operator_page.locator(f"#task-{task.pk} .row-actions", has_text="no longer on Home").wait_for()
    assert operator_page.locator(f"#task-{task.pk} form").count() == 0


def test_home_fits_a_phone_and_passes_axe(phone_page, browser_operator, live_server):
    today = portal_today()
    TaskFactory(
        title="Invoice-receipt-dropbox-bookkeeping-checks-for-the-very-long-sponsorship-account-name",
        assignee=browser_operator,
        due_date=today - dt.timedelta(days=2),
    )
    waiting = TaskFactory(title="Chase sponsor", assignee=browser_operator, due_date=today)
    waiting.mark_waiting(by=browser_operator, waiting_for="Acme", follow_up_at=today, note="Asked")
    TaskFactory(title="Proof needed", due_date=today, requires_proof_note=True)
    launch(make_template(spec("draft", title="Draft newsletter")), today - dt.timedelta(days=1))
    logged_in(phone_page, browser_operator, live_server.url)
    phone_page.goto("/")
    row = open_home_row_actions(phone_page, "Chase sponsor")
    row.locator("summary", has_text="Follow-up sent").click()
    assert row.get_by_label("What you sent").is_visible()
    box = row.locator(".row-actions-box > summary").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    assert_no_horizontal_overflow(phone_page)
    assert_accessible(phone_page)


def test_without_javascript_a_rows_actions_lead_to_the_task_page(browser, live_server, browser_operator):
    task = TaskFactory(title="Renew the domain", assignee=browser_operator, due_date=portal_today())
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    page = context.new_page()
    logged_in(page, browser_operator, live_server.url)
    page.goto("/")
    page.locator('summary[aria-label="Actions for Renew the domain"]').click()
    page.get_by_role("link", name="Open the task to act on it").click()
    page.wait_for_url(f"{live_server.url}/tasks/{task.pk}/")
    assert page.get_by_role("button", name="Start").first.is_visible()
    context.close()
