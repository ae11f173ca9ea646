"""The task page and the notifications inbox in a real browser: HTMX swaps for successes and
refusals, a 390 px phone, and axe."""

from __future__ import annotations

import pytest

from notifications.services import notify
from tests.browser.conftest import assert_accessible, assert_no_horizontal_overflow, logged_in
from tests.factories import TaskFactory
from workflows.models import Task, portal_today

pytestmark = pytest.mark.browser


def test_refused_complete_shows_the_missing_proof_in_place(operator_page):
    task = TaskFactory(title="Sponsor follow-up", requires_proof_note=True, due_date=portal_today())
    operator_page.goto(f"/tasks/{task.pk}/")
    operator_page.get_by_role("button", name="Complete").click()

    alert = operator_page.locator(".error-box")
    alert.wait_for()
    assert "proof note" in alert.inner_text()
    assert Task.objects.get(pk=task.pk).status == "todo"


def test_start_then_complete_with_proof_swaps_the_panel(operator_page):
    task = TaskFactory(title="Dump Slack", requires_proof_note=True, due_date=portal_today())
    operator_page.goto(f"/tasks/{task.pk}/")
    operator_page.get_by_role("button", name="Start").click()
    operator_page.get_by_text("Started.").wait_for()

    operator_page.locator("summary", has_text="Add proof").click()
    operator_page.get_by_role("radio", name="Note").check()
    # Only the chosen kind's fields show: the note field, not the URL or the file.
    assert operator_page.get_by_label("URL").is_hidden() and operator_page.get_by_label("File to upload").is_hidden()
    operator_page.get_by_label("Note text").fill("Export requested, archive in the drive.")
    operator_page.get_by_role("button", name="Add proof").click()
    operator_page.get_by_text("Proof added.").wait_for()
    operator_page.get_by_role("button", name="Complete").click()
    operator_page.get_by_text("Completed.").wait_for()

    assert Task.objects.get(pk=task.pk).status == "done"


def test_task_page_and_inbox_fit_a_phone_and_pass_axe(phone_page, browser_operator, live_server):
    task = TaskFactory(
        title="Invoice-receipt-dropbox-bookkeeping-checks-for-the-very-long-sponsorship-account-name",
        assignee=browser_operator,
        requires_link="LinkedIn post URL",
        due_date=portal_today(),
    )
    notify(
        "automation-failure",
        recipients=[browser_operator],
        dedup_key="automation-failure:recurring:x:2028-02-02",
        title="Generation failed for Slack invites",
        body="RuntimeError: database unavailable",
        link=f"/tasks/{task.pk}/",
    )
    logged_in(phone_page, browser_operator, live_server.url)
    for url in (f"/tasks/{task.pk}/", "/notifications/", "/notifications/preferences/"):
        phone_page.goto(url)
        assert_no_horizontal_overflow(phone_page)
        assert_accessible(phone_page)


def test_acknowledge_without_note_is_refused_in_place_then_works(operator_page, browser_operator):
    [notice] = notify(
        "automation-failure",
        recipients=[browser_operator],
        dedup_key="automation-failure:recurring:y:2028-02-02",
        title="Generation failed",
    )
    operator_page.goto("/notifications/?state=failures")
    # Bypass the browser's own "required" check to reach the server's refusal.
    operator_page.evaluate("document.querySelectorAll('input[name=note]').forEach(i => i.required = false)")
    operator_page.get_by_role("button", name="Acknowledge").click()
    operator_page.get_by_role("alert").wait_for()
    assert "needs a note" in operator_page.get_by_role("alert").inner_text()

    operator_page.get_by_label("Acknowledgement note").fill("Fixed the cron")
    operator_page.get_by_role("button", name="Acknowledge").click()
    operator_page.get_by_text("Acknowledged.").first.wait_for()
    notice.refresh_from_db()
    assert notice.acknowledgement_note == "Fixed the cron"
