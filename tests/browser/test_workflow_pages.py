"""Workflows, runs, the template library, a template with its diagram, launch and the editor in a
real browser: an operator's flows, a 390 px phone and a desktop, and axe."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import (
    DESKTOP_VIEWPORT,
    PHONE_VIEWPORT,
    assert_accessible,
    assert_no_horizontal_overflow,
    logged_in,
)
from workflows.models import Run, WorkflowTemplate, portal_today
from workflows.services import instantiate_run, save_template

pytestmark = pytest.mark.browser


def newsletter(name: str = "Weekly community newsletter with sponsors and a long name") -> WorkflowTemplate:
    return save_template(
        data={
            "name": name,
            "category": "Community",
            "description": "Draft, review and send the weekly issue; promote it afterwards.",
            "stages": ["Draft", "Review & send"],
            "run_links": ["Mailchimp newsletter"],
        },
        tasks=[
            {"ref": "draft", "title": "Draft the issue", "stage": "Draft", "offset_days": -2},
            {"ref": "art", "title": 'Pick <the> cover art & "quote"', "stage": "Draft", "offset_days": -2},
            {
                "ref": "send",
                "title": "Send the issue",
                "stage": "Review & send",
                "depends_on": ["draft", "art"],
                "requires_run_links": ["Mailchimp newsletter"],
                "requires_link": "Archive URL",
            },
        ],
    )


def drawn_nodes(page) -> int:
    page.wait_for_selector("pre.mermaid[data-drawn] svg")
    return page.locator("pre.mermaid svg g.node").count()


def test_operator_launches_a_run_from_the_library_after_a_preview(operator_page):
    template = newsletter()
    operator_page.goto("/workflows/templates/")
    operator_page.get_by_role("button", name=f"Launch {template.name}").click()
    operator_page.get_by_label("Anchor date").fill("2028-03-01")
    operator_page.get_by_role("button", name="Preview the tasks").click()

    preview = operator_page.locator("#launch section")
    preview.get_by_text("Send the issue").wait_for()
    assert "due Mon 28 Feb" in preview.inner_text()  # two days before the anchor date
    assert "After: Draft the issue, Pick <the> cover art" in preview.inner_text()
    assert Run.objects.count() == 0

    operator_page.get_by_role("button", name="Launch run for Wed 1 Mar").click()
    operator_page.get_by_text("Run launched with 3 tasks.").wait_for()
    run = Run.objects.get()
    assert operator_page.url.endswith(f"/runs/{run.pk}/")
    assert run.anchor_date == dt.date(2028, 3, 1)


def test_operator_clones_a_template_adds_a_dependent_task_and_sees_the_diagram_change(operator_page):
    template = newsletter()
    operator_page.goto(f"/workflows/templates/{template.pk}/")
    assert drawn_nodes(operator_page) == 3
    # Labels are drawn as typed: markup characters stay text.
    assert 'Pick <the> cover art & "quote"' in operator_page.locator("pre.mermaid svg").text_content()

    operator_page.get_by_label("Name of the copy").fill("Spring newsletter")
    operator_page.get_by_role("button", name="Clone").click()
    operator_page.get_by_role("heading", name="Edit Spring newsletter").wait_for()
    operator_page.get_by_role("button", name="Add another task").click()

    new_task = operator_page.locator("fieldset.task-form").nth(3)
    new_task.get_by_label("Ref").fill("promote")
    new_task.get_by_label("Title").fill("Promote on LinkedIn")
    new_task.get_by_label("Stage").fill("Review & send")
    new_task.get_by_label("Offset (days)").fill("1")
    new_task.get_by_label("Depends on").fill("send")
    new_task.get_by_label("Requires a proof note").check()
    operator_page.get_by_role("button", name="Save template").click()

    operator_page.get_by_text("Template saved.").wait_for()
    clone = WorkflowTemplate.objects.get(name="Spring newsletter")
    assert operator_page.url.endswith(f"/workflows/templates/{clone.pk}/")
    assert drawn_nodes(operator_page) == 4
    diagram = operator_page.locator("pre.mermaid svg")
    assert "Promote on LinkedIn" in diagram.text_content()
    assert operator_page.locator("pre.mermaid svg .flowchart-link").count() == 3
    assert clone.tasks.get(ref="promote").depends_on == ["send"]
    assert template.tasks.count() == 3  # the original is untouched


def test_a_cycle_typed_in_the_editor_is_refused_naming_the_cycle(operator_page):
    template = newsletter()
    operator_page.goto(f"/workflows/templates/{template.pk}/edit/")
    operator_page.locator("#task-1 summary").click()
    draft = operator_page.locator("fieldset.task-form").nth(0)
    draft.get_by_label("Depends on").fill("send")
    operator_page.get_by_role("button", name="Save template").click()

    operator_page.get_by_text("Nothing was saved.").wait_for()
    message = "Task dependencies form a cycle: draft → send → draft."
    assert message in operator_page.locator("fieldset.task-form").nth(0).inner_text()
    assert message in operator_page.locator("fieldset.task-form").nth(2).inner_text()
    assert draft.get_by_label("Depends on").get_attribute("aria-invalid") == "true"
    assert template.tasks.get(ref="draft").depends_on == []


def test_workflows_filters_swap_the_results_in_place(operator_page):
    template = newsletter()
    late = instantiate_run(template=template, anchor_date=portal_today() - dt.timedelta(days=3)).run
    calm = instantiate_run(template=template, anchor_date=portal_today() + dt.timedelta(days=20)).run
    operator_page.goto("/workflows/")
    results = operator_page.locator("#run-results")
    assert late.title in results.inner_text() and calm.title in results.inner_text()
    operator_page.evaluate("window.notReloaded = true")

    operator_page.get_by_label("Risk").select_option("yes")
    operator_page.wait_for_url("**/workflows/?*at_risk=yes*")
    operator_page.wait_for_function(f"!document.querySelector('#run-results').innerText.includes({calm.title!r})")
    assert late.title in results.inner_text()
    assert operator_page.evaluate("window.notReloaded === true")  # swapped by HTMX, not a reload


@pytest.mark.parametrize("viewport", [PHONE_VIEWPORT, DESKTOP_VIEWPORT], ids=["phone", "desktop"])
def test_workflow_pages_fit_the_screen_and_pass_axe(browser, live_server, browser_operator, viewport):
    template = newsletter()
    late = instantiate_run(template=template, anchor_date=portal_today() - dt.timedelta(days=3)).run
    instantiate_run(template=template, anchor_date=portal_today() + dt.timedelta(days=10))
    automatic = newsletter("Monthly tax report")
    save_template(
        template=automatic,
        data={
            "trigger_type": "automatic",
            "trigger_schedule": "0 9 1 * *",
            "trigger_timezone": "Europe/Berlin",
            "trigger_lead_days": 5,
            "category": "Finance",
        },
    )
    context = browser.new_context(viewport=viewport, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        logged_in(page, browser_operator, live_server.url)
        pages = [
            "/workflows/",
            "/workflows/?at_risk=yes&status=active",
            f"/runs/{late.pk}/",
            "/workflows/templates/",
            f"/workflows/templates/{template.pk}/",
            f"/workflows/templates/{template.pk}/launch/?anchor_date=2028-03-01",
            f"/workflows/templates/{template.pk}/edit/",
            f"/workflows/templates/{template.pk}/clone/",
        ]
        for url in pages:
            page.goto(url)
            if "/edit/" not in url and url.endswith(f"{template.pk}/"):
                drawn_nodes(page)
            assert_no_horizontal_overflow(page)
            assert_accessible(page)
    finally:
        context.close()
