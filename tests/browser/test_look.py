"""The portal's look in a real browser: every page of the daily loop at phone (390×844) and
desktop (1280×800) width fits without sideways scrolling and passes axe; the header collapses to
a menu on a phone; Home on a phone shows the at-risk workflows early, keeps long groups short and
moves focus to the next row after an action; notifications can all be marked read in place."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.management import call_command
from django.template import loader

from tests.browser.conftest import (
    DESKTOP_VIEWPORT,
    PHONE_VIEWPORT,
    _new_page,
    assert_accessible,
    assert_no_horizontal_overflow,
    logged_in,
    open_home_row_actions,
)
from tests.factories import TaskFactory, UserFactory
from workflows.models import Task, portal_today

pytestmark = pytest.mark.browser

VIEWPORTS = {"phone": PHONE_VIEWPORT, "desktop": DESKTOP_VIEWPORT}


@pytest.fixture(params=list(VIEWPORTS))
def sized_page(request, browser, live_server):
    page = _new_page(browser, VIEWPORTS[request.param], live_server.url)
    yield page
    page.context.close()


def _check(page, path: str, expect: str) -> None:
    page.goto(path)
    page.get_by_text(expect).first.wait_for()
    # Only meaningful with the stylesheets applied.
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("Inter")
    assert_no_horizontal_overflow(page)
    assert_accessible(page)


def test_every_operator_page_fits_and_passes_axe(sized_page, browser_operator, live_server):
    from notifications.services import notify

    today = portal_today()
    task = TaskFactory(
        title="Reconcile-the-sponsorship-invoices-and-receipts-folder-in-the-shared-drive",
        assignee=browser_operator,
        due_date=today - dt.timedelta(days=2),
        requires_proof_note=True,
    )
    notify("task-due", recipients=[browser_operator], dedup_key="a", title="Due today: newsletter", task=task)
    notify(
        "automation-failure",
        recipients=[browser_operator],
        dedup_key="automation-failure:x",
        title="Generation failed",
        body="Slack said no",
    )
    _check(sized_page, "/accounts/login/", "Log in")
    logged_in(sized_page, browser_operator, live_server.url)
    _check(sized_page, "/", "Reconcile-the-sponsorship")
    _check(sized_page, f"/tasks/{task.pk}/", "Requirements")
    _check(sized_page, "/notifications/?state=all", "Generation failed")
    _check(sized_page, "/notifications/preferences/", "E-mail notifications")
    _check(sized_page, "/no-such-page/", "This page doesn't exist")


def test_error_pages_for_strangers_and_failures_fit_and_pass_axe(sized_page, live_server):
    outsider = UserFactory(username="oscar")
    logged_in(sized_page, outsider, live_server.url)
    _check(sized_page, "/", "You don't have access to this page")
    # The 500 page as Django serves it: rendered without a request, with only static links.
    sized_page.goto("/accounts/login/")
    sized_page.set_content(loader.get_template("500.html").render())
    sized_page.wait_for_load_state("networkidle")
    assert sized_page.get_by_role("heading", name="Something went wrong on our side").is_visible()
    assert sized_page.evaluate("getComputedStyle(document.body).fontFamily").startswith("Inter")
    assert_no_horizontal_overflow(sized_page)
    assert_accessible(sized_page)


def test_header_collapses_into_a_menu_on_a_phone(phone_page, browser_operator, live_server):
    logged_in(phone_page, browser_operator, live_server.url)
    phone_page.goto("/notifications/")
    nav = phone_page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name=re.compile("Notifications")).is_visible()
    assert not phone_page.locator(".nav-primary").is_visible()
    nav.get_by_text("Menu").click()
    menu = phone_page.locator(".nav-menu > ul")
    for name in ("Home", "Preferences", "API docs"):
        assert menu.get_by_role("link", name=name, exact=True).is_visible()
    assert menu.get_by_role("button", name="Log out olivia").is_visible()
    assert menu.get_by_role("link", name="Admin").count() == 0
    menu.get_by_role("link", name="Home", exact=True).click()
    phone_page.wait_for_url(f"{live_server.url}/")


def test_desktop_header_shows_the_links_and_admins_get_the_admin(page, live_server):
    from tests.factories import AdminFactory

    admin = AdminFactory(username="adam")
    logged_in(page, admin, live_server.url)
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Home", exact=True).first.is_visible()
    assert nav.get_by_text("Menu").is_hidden()
    page.locator(".nav-menu > summary").click()
    assert nav.get_by_role("link", name="Admin").is_visible()


def test_at_risk_workflows_show_within_two_phone_screens_with_the_demo_data(phone_page, live_server):
    from django.contrib.auth import get_user_model

    call_command("seed_demo", verbosity=0)
    demo_operator = get_user_model().objects.get(username="operator")
    logged_in(phone_page, demo_operator, live_server.url)
    phone_page.goto("/")
    strip = phone_page.get_by_role("region", name=re.compile("At-risk workflows"))
    strip.wait_for()
    box = strip.bounding_box()
    assert box is not None and box["y"] < 2 * PHONE_VIEWPORT["height"], box
    assert strip.get_by_role("link").count() >= 1
    # The sticky summary stays on screen while scrolling and jumps to a group.
    phone_page.mouse.wheel(0, 1500)
    phone_page.wait_for_function("window.scrollY >= 1000")  # the wheel scrolls asynchronously
    summary = phone_page.get_by_role("navigation", name="Groups")
    assert summary.bounding_box()["y"] <= 1
    summary.get_by_role("link", name=re.compile("Upcoming")).click()
    phone_page.wait_for_function("location.hash === '#group-upcoming'")
    heading = phone_page.locator("#group-upcoming-h").bounding_box()
    assert 0 <= heading["y"] < PHONE_VIEWPORT["height"] / 2


def test_long_group_shows_ten_rows_and_a_show_all_disclosure(phone_page, browser_operator, live_server):
    today = portal_today()
    for index in range(12):
        TaskFactory(title=f"Check inbox {index:02d}", assignee=browser_operator, due_date=today)
    logged_in(phone_page, browser_operator, live_server.url)
    phone_page.goto("/")
    group = phone_page.locator("#group-today")
    rows = group.locator(".home-row")
    assert rows.count() == 12
    assert sum(rows.nth(i).is_visible() for i in range(12)) == 10
    group.get_by_text("Show all 12").click()
    assert sum(rows.nth(i).is_visible() for i in range(12)) == 12
    assert_no_horizontal_overflow(phone_page)


def test_after_complete_the_confirmation_sits_by_the_row_and_focus_moves_to_the_next(operator_page, browser_operator):
    today = portal_today()
    first = TaskFactory(title="Back up the list", assignee=browser_operator, due_date=today)
    second = TaskFactory(title="Send the newsletter", assignee=browser_operator, due_date=today)
    operator_page.goto("/")
    rows = operator_page.locator("#group-today .home-row")
    assert rows.nth(0).get_attribute("id") == f"task-{first.pk}"
    open_home_row_actions(operator_page, "Back up the list")
    operator_page.get_by_role("button", name="Complete Back up the list").click()
    done = operator_page.locator("#group-today .confirmation", has_text="Back up the list: Completed.")
    done.wait_for()
    operator_page.wait_for_function(f"document.activeElement && document.activeElement.id === 'task-{second.pk}'")
    # The confirmation stands where the row was, right before the row that now has focus.
    assert operator_page.evaluate(
        f"document.getElementById('task-{second.pk}').previousElementSibling.textContent.includes('Completed.')"
    )
    assert operator_page.evaluate("window.scrollY") > 0 or rows.first.is_visible()
    assert Task.objects.get(pk=first.pk).status == "done"


def test_add_proof_in_place_shows_only_the_chosen_kind_and_unblocks_complete(operator_page, browser_operator):
    task = TaskFactory(
        title="Post on LinkedIn", assignee=browser_operator, due_date=portal_today(), requires_proof_note=True
    )
    operator_page.goto("/")
    row = open_home_row_actions(operator_page, "Post on LinkedIn")
    row.locator("summary", has_text="Add proof").click()
    assert row.get_by_role("radio", name="Note").is_checked()
    assert row.get_by_label("Note text").is_visible()
    assert row.get_by_label("URL").is_hidden() and row.get_by_label("File to upload").is_hidden()
    row.get_by_role("radio", name="Link").check()
    assert row.get_by_label("URL").is_visible() and row.get_by_label("Note text").is_hidden()
    row.get_by_role("radio", name="Note").check()
    row.get_by_label("Note text").fill("Posted, screenshot in the drive.")
    row.get_by_role("button", name="Add proof").click()
    operator_page.locator(f"#task-{task.pk} .confirmation", has_text="Proof added.").wait_for()
    assert task.proofs.count() == 1
    operator_page.wait_for_load_state("networkidle")
    row = open_home_row_actions(operator_page, "Post on LinkedIn")
    assert row.get_by_role("button", name="Complete Post on LinkedIn").is_visible()
    assert row.locator("summary", has_text="Add proof").count() == 0


def test_mark_all_read_empties_the_unread_list_in_place(operator_page, browser_operator):
    from notifications.services import notify

    for index in range(3):
        notify("task-due", recipients=[browser_operator], dedup_key=f"n{index}", title=f"Due {index}")
    operator_page.goto("/notifications/")
    operator_page.evaluate("window.notReloaded = true")
    operator_page.get_by_role("button", name=re.compile("Mark all read")).click()
    operator_page.get_by_text("Marked 3 notifications as read.").wait_for()
    operator_page.get_by_text("No unread notifications.").wait_for()
    operator_page.locator(".unread-link", has_text="none unread").wait_for(state="attached")
    assert operator_page.evaluate("window.notReloaded") is True
