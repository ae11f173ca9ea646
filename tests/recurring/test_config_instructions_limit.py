"""A recurring config's instructions are copied into every task it generates, so they get the
tasks' own limit (20,000 characters), refused naming the field at every door."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from recurring.models import RecurringConfig
from tests.conftest import refused
from tests.factories import make_recurring_config, utc
from workflows.models import MAX_TEXT_LENGTH

pytestmark = pytest.mark.django_db

NOW = utc(2028, 3, 1, 12)
TOO_LONG = "x" * (MAX_TEXT_LENGTH + 1)
MESSAGE = f"instructions is too long ({MAX_TEXT_LENGTH + 1:,} characters); the limit is {MAX_TEXT_LENGTH:,}."
BODY = {"title": "Daily", "cron_expression": "0 9 * * *", "timezone": "UTC"}


def test_the_domain_refuses_over_long_instructions():
    error = refused(lambda: make_recurring_config(created=NOW, instructions=TOO_LONG), "validation_error")
    assert error.extra["field"] == "instructions" and error.detail == MESSAGE
    assert not RecurringConfig.objects.exists()


def test_instructions_at_the_limit_are_accepted():
    config = make_recurring_config(created=NOW, instructions="y" * MAX_TEXT_LENGTH)
    assert len(config.instructions) == MAX_TEXT_LENGTH


def test_the_api_refuses_over_long_instructions_on_create_and_update(api, time_machine):
    time_machine.move_to(NOW, tick=False)
    response = api.post("/api/v1/recurring-configs/", {**BODY, "instructions": TOO_LONG}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and "instructions" in response.json()["detail"]
    assert not RecurringConfig.objects.exists()
    config = make_recurring_config(created=NOW, instructions="short")
    response = api.patch(f"/api/v1/recurring-configs/{config.pk}/", {"instructions": TOO_LONG}, format="json")
    assert response.status_code == 400 and "instructions" in response.json()["detail"]
    config.refresh_from_db()
    assert config.instructions == "short"


def test_the_page_form_and_the_admin_refuse_over_long_instructions(client, admin_user, time_machine):
    time_machine.move_to(NOW, tick=False)
    client.force_login(admin_user)
    data = {**BODY, "instructions": TOO_LONG, "priority": "normal", "catch_up": "latest", "enabled": "on"}
    page = client.post(reverse("recurring-config-create"), data)
    assert page.status_code == 400
    assert MESSAGE in html.unescape(page.content.decode())
    admin = client.post(reverse("admin:recurring_recurringconfig_add"), data, follow=True)
    assert admin.status_code == 200
    assert MESSAGE in [str(message) for message in admin.context["messages"]]
    assert not RecurringConfig.objects.exists()
