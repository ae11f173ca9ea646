"""Signing in and out in a real browser, the page shell on a 390 px phone, and axe."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import (
    OPERATOR_PASSWORD,
    assert_accessible,
    assert_no_horizontal_overflow,
    logged_in,
)
from tests.factories import TaskFactory
from workflows.models import portal_today

pytestmark = pytest.mark.browser


def _sign_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_login_page_renders_a_labelled_form(page):
    page.goto("/accounts/login/")

    assert page.get_by_role("heading", name="Log in").is_visible()
    assert page.get_by_label("Username").is_visible()
    assert page.get_by_label("Password").get_attribute("type") == "password"


def test_operator_signs_in_through_the_form_and_lands_on_my_work(page, browser_operator, live_server):
    _sign_in(page, "olivia", OPERATOR_PASSWORD)

    page.wait_for_url(f"{live_server.url}/")
    page.locator(".nav-menu > summary").click()  # the user menu holds the log-out button
    assert page.get_by_role("button", name=re.compile("Log out olivia")).is_visible()


def test_wrong_password_keeps_the_person_on_the_login_page_with_an_error(page, browser_operator):
    _sign_in(page, "olivia", "not-the-password")

    assert "/accounts/login/" in page.url
    assert page.get_by_role("alert").inner_text().startswith("Your username and password didn't match")


def test_sign_in_works_with_the_keyboard_alone(page, browser_operator, live_server):
    page.goto("/accounts/login/")
    page.keyboard.type("olivia")  # the username field has focus on arrival
    page.keyboard.press("Tab")
    page.keyboard.type(OPERATOR_PASSWORD)
    page.keyboard.press("Enter")

    page.wait_for_url(f"{live_server.url}/")


def test_anonymous_visit_to_home_redirects_to_login(page, live_server):
    page.goto("/")

    assert page.url == f"{live_server.url}/accounts/login/?next=/"
    assert page.get_by_role("heading", name="Log in").is_visible()


def test_logout_ends_the_session(operator_page, live_server):
    operator_page.goto("/")
    operator_page.locator(".nav-menu > summary").click()
    operator_page.get_by_role("button", name=re.compile("Log out")).click()

    operator_page.wait_for_url(re.compile(r"/accounts/login/"))
    operator_page.goto("/")
    assert operator_page.url.startswith(f"{live_server.url}/accounts/login/")


def test_login_page_and_home_fit_a_390px_phone(phone_page, browser_operator, live_server):
    TaskFactory(
        title="Reconcile the bookkeeping for the quarterly-sponsorship-invoices-and-receipts-folder-in-dropbox",
        assignee=browser_operator,
        due_date=portal_today(),
    )
    phone_page.goto("/accounts/login/")
    # The check means something only with the portal's own stylesheet applied.
    assert phone_page.evaluate(
        "[...document.styleSheets].some(s => s.href.endsWith('portal.css') && s.cssRules.length)"
    )
    assert_no_horizontal_overflow(phone_page)

    logged_in(phone_page, browser_operator, live_server.url)
    phone_page.goto("/")
    assert phone_page.get_by_text("Reconcile the bookkeeping").is_visible()
    assert_no_horizontal_overflow(phone_page)


def test_login_page_and_home_have_no_serious_accessibility_violations(page, browser_operator, live_server):
    TaskFactory(title="Back up the Mailchimp mailing list", assignee=browser_operator, due_date=portal_today())
    page.goto("/accounts/login/")
    assert_accessible(page)

    logged_in(page, browser_operator, live_server.url)
    page.goto("/")
    assert page.get_by_text("Back up the Mailchimp mailing list").is_visible()
    assert_accessible(page)


def test_overflow_check_catches_content_wider_than_a_phone(phone_page):
    phone_page.set_content('<main><div class="wide" style="width: 600px">Too wide</div></main>')

    with pytest.raises(AssertionError, match=r"\d+px wide in a 390px viewport.*div\.wide"):
        assert_no_horizontal_overflow(phone_page)


def test_accessibility_check_catches_an_unlabelled_control(page):
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main><input type="text"></main></body></html>'
    )

    with pytest.raises(AssertionError, match="label"):
        assert_accessible(page)
