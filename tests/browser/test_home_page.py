"""Operations Home in a real browser: in-place actions swap the row and re-fetch the groups
(counts) without a full reload, a refusal shows its reason in the row, and the page fits a
390 px phone and passes axe."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import assert_accessible, assert_no_horizontal_overflow, logged_in
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

    operator_page.get_by_role("button", name="Start Back up mailing list").click()
    operator_page.locator("#home-status", has_text="Started.").wait_for()
    # Let the groups re-fetch that "Started" triggered land before acting on the fresh row.
    operator_page.wait_for_load_state("networkidle")
    operator_page.get_by_role("button", name="Complete Back up mailing list").click()
    operator_page.locator("#home-status", has_text="Completed.").wait_for()
    operator_page.locator("#group-today", has_text="Nothing else due today").wait_for()

    assert today_count.inner_text() == "0"
    assert operator_page.evaluate("window.notReloaded") is True
    assert Task.objects.get(pk=task.pk).status == "done"


def test_refused_complete_shows_the_reason_in_the_row(operator_page, browser_operator):
    task = TaskFactory(
        title="Post on LinkedIn", assignee=browser_operator, due_date=portal_today(), requires_link="LinkedIn post URL"
    )
    operator_page.goto("/")
    operator_page.get_by_role("button", name="Complete Post on LinkedIn").click()
    alert = operator_page.locator(f"#task-{task.pk} .error-box")
    alert.wait_for()
    assert "LinkedIn post URL" in alert.inner_text()
    assert Task.objects.get(pk=task.pk).status == "todo"


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
    phone_page.locator("summary", has_text="Follow-up sent").first.click()
    assert_no_horizontal_overflow(phone_page)
    assert_accessible(phone_page)
