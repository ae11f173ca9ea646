"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's live
server, for what only a browser shows — layout at 390 px, HTMX swaps, keyboard use, axe.

Chromium is ``/usr/bin/chromium`` (``.ci/run`` installs it); Playwright never downloads a browser
of its own. Without Chromium the tests skip, unless ``PORTAL_REQUIRE_BROWSER=1`` (CI), which
turns the skip into a failure.

Helpers for other browser test modules: ``logged_in(page, user, live_server.url)``, ``assert_no_horizontal_overflow
(page)``, ``assert_accessible(page)``; fixtures ``browser``, ``page``, ``phone_page`` (390 px wide)
and ``operator_page`` (a page already signed in as an operator).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import browser_required
from tests.factories import OperatorFactory

# Playwright's sync API keeps an event loop running in the test thread, which makes Django refuse
# ORM calls from it ("SynchronousOnlyOperation"); the tests really are synchronous, so allow them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking switches Chromium keeps dialling Google's hosts, which this
# offline machine refuses; the tests only ever talk to the live server on 127.0.0.1.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}
DESKTOP_VIEWPORT = {"width": 1280, "height": 800}
SERIOUS_IMPACTS = {"serious", "critical"}
OPERATOR_PASSWORD = "pass-word-123"  # tests/factories.py's password for every user


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM}"
        if browser_required():
            pytest.fail(f"{message} and PORTAL_REQUIRE_BROWSER=1 requires it (apt-get install chromium).")
        pytest.skip(f"{message} (set PORTAL_REQUIRE_BROWSER=1 to make this a failure).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _new_page(browser, viewport: dict, base_url: str):
    context = browser.new_context(viewport=viewport, base_url=base_url)
    context.set_default_timeout(10_000)
    return context.new_page()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A desktop-sized page whose relative URLs go to the live server."""
    page = _new_page(browser, DESKTOP_VIEWPORT, live_server.url)
    yield page
    page.context.close()


@pytest.fixture
def phone_page(browser, live_server) -> Iterator:
    """A page 390 px wide, the phone operators use."""
    page = _new_page(browser, PHONE_VIEWPORT, live_server.url)
    yield page
    page.context.close()


@pytest.fixture
def browser_operator(transactional_db):
    """An operator who can sign in through the login form with OPERATOR_PASSWORD."""
    return OperatorFactory(username="olivia", first_name="Olivia")


def logged_in(page, user, base_url: str) -> None:
    """Give ``page``'s browser context a signed-in session for ``user`` on the server at
    ``base_url`` (no login form round trip)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


@pytest.fixture
def operator_page(page, browser_operator, live_server):
    """A desktop page signed in as the operator ``olivia``."""
    logged_in(page, browser_operator, live_server.url)
    return page


def assert_no_horizontal_overflow(page) -> None:
    """The page must not scroll sideways: nothing wider than the viewport (docs/home.md: usable at 390 px)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    if width <= viewport:
        return
    culprits = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
            .slice(0, 10)
            .map(el => {
                const classes = typeof el.className === 'string' && el.className.trim()
                    ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
                const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes;
                return `${name} (right edge ${Math.round(el.getBoundingClientRect().right)}px)`;
            })"""
    )
    raise AssertionError(
        f"{page.url} scrolls sideways: content is {width}px wide in a {viewport}px viewport. "
        f"Overflowing: {', '.join(culprits) or 'unknown'}"
    )


def assert_accessible(page) -> None:
    """axe-core (shipped inside axe-playwright-python, so it runs offline) finds no serious or
    critical violation on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in SERIOUS_IMPACTS]
    if not serious:
        return
    lines = [
        f"- {v['id']} ({v['impact']}): {v['help']} — {', '.join(str(n['target']) for n in v['nodes'][:5])}"
        for v in serious
    ]
    raise AssertionError(f"axe found serious accessibility violations on {page.url}:\n" + "\n".join(lines))


def open_home_row_actions(page, title: str):
    """Open the "Actions" of the Operations Home row titled ``title`` and wait until its forms
    have loaded; returns the row."""
    summary = page.locator(f'summary[aria-label="Actions for {title}"]')
    row = page.locator(".home-row", has=summary)
    summary.click()
    row.locator(".row-actions a.button", has_text="Open task").wait_for()
    return row
