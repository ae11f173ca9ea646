"""Every door reads dates and instants through one bounded window, the portal's calendar
(years 2000–2100, ``docs/api.md``): a date or instant outside it is refused with the same
message at every door, and nothing is stored."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from notifications.models import Notification
from recurring.models import GenerationRun, RecurringConfig
from tests.conftest import refused
from tests.factories import TaskFactory, make_recurring_config, make_template, spec, utc
from workflows.errors import DomainError
from workflows.inputs import FIRST_DATE, LAST_DATE, parse_date, parse_instant
from workflows.models import Run, WorkflowTemplate
from workflows.services import save_template

pytestmark = pytest.mark.django_db

NOW = utc(2028, 3, 1, 12)
OUTSIDE = "is outside the portal's calendar (years 2000–2100: 2000-01-01 to 2100-12-31)."


@pytest.fixture
def daily(time_machine):
    time_machine.move_to(NOW, tick=False)
    return make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 9 * * *", tz="Pacific/Kiritimati")


@pytest.mark.parametrize("text", ["0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"])
def test_the_parser_refuses_dates_outside_the_calendar_with_one_message(text):
    with pytest.raises(DomainError) as info:
        parse_date(text, "due_date")
    assert info.value.code == "validation_error"
    assert info.value.detail == f"due_date: {text} {OUTSIDE}"


def test_the_first_and_last_days_of_the_calendar_are_accepted():
    assert parse_date("2000-01-01", "d") == FIRST_DATE
    assert parse_date("2100-12-31", "d") == LAST_DATE


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00+14:00",
        "0001-01-01T00:00",
        "9999-12-31T23:59-12:00",
        "2000-01-01T00:00+14:00",  # 1999-12-31 in UTC
        "2101-01-01T00:00:00+00:00",
    ],
)
def test_the_parser_refuses_instants_outside_the_calendar(text):
    with pytest.raises(DomainError) as info:
        parse_instant(text, "--at")
    assert info.value.code == "validation_error"
    assert info.value.detail.startswith("--at: ") and info.value.detail.endswith(OUTSIDE)


def test_instants_at_the_edges_of_the_calendar_are_accepted():
    assert parse_instant("2000-01-01T00:00Z", "at") == utc(2000, 1, 1)
    assert parse_instant("2100-12-31T23:59:59+00:00", "at") == utc(2100, 12, 31, 23, 59, 59)


@pytest.mark.parametrize("value", ["0001-01-01T00:00+14:00", "9999-12-31T23:59-12:00"])
def test_run_schedules_refuses_an_instant_off_the_calendar_in_one_line_and_writes_nothing(daily, value):
    before = list(RecurringConfig.objects.values_list("next_fire_at", "retry_at"))
    with pytest.raises(CommandError) as info:
        call_command("run_schedules", "--at", value)
    assert str(info.value).endswith(OUTSIDE) and "\n" not in str(info.value)
    assert not GenerationRun.objects.exists()
    assert list(RecurringConfig.objects.values_list("next_fire_at", "retry_at")) == before


@pytest.mark.parametrize("value", ["", "   "])
def test_run_schedules_refuses_an_empty_instant_instead_of_reading_it_as_now(daily, value):
    with pytest.raises(CommandError) as info:
        call_command("run_schedules", "--at", value)
    assert "is not an ISO 8601 date-time" in str(info.value)
    assert not GenerationRun.objects.exists()


def test_scan_notifications_refuses_an_instant_off_the_calendar(operator, time_machine):
    time_machine.move_to(NOW, tick=False)
    TaskFactory(due_date=dt.date(2028, 2, 1), assignee=operator)
    with pytest.raises(CommandError) as info:
        call_command("scan_notifications", "--at", "0001-01-01T00:00+14:00")
    assert str(info.value).endswith(OUTSIDE) and "\n" not in str(info.value)
    assert not Notification.objects.exists()


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12"])
@pytest.mark.parametrize("starts_on", ["0001-01-01", "9999-12-31"])
def test_a_config_starting_off_the_calendar_is_refused_at_every_door(
    api, client, admin_user, time_machine, tz, starts_on
):
    time_machine.move_to(NOW, tick=False)
    body = {"title": "Far", "cron_expression": "0 9 * * *", "timezone": tz, "starts_on": starts_on}
    response = api.post("/api/v1/recurring-configs/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == f"starts_on: {starts_on} {OUTSIDE}"
    client.force_login(admin_user)
    page = client.post(
        reverse("recurring-config-create"), {**body, "is_enabled": "on", "priority": "normal", "catch_up": "latest"}
    )
    assert page.status_code < 500
    assert OUTSIDE in html.unescape(page.content.decode())
    error = refused(lambda: make_recurring_config(created=NOW, tz=tz, starts_on=starts_on), "validation_error")
    assert error.extra["field"] == "starts_on"
    assert not RecurringConfig.objects.exists()


def test_a_template_starting_off_the_calendar_is_refused_by_the_api_and_the_domain(api):
    response = api.post(
        "/api/v1/templates/",
        {"name": "Far", "trigger_starts_on": "0001-01-01", "tasks": [{"ref": "a", "title": "A"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == f"trigger_starts_on: 0001-01-01 {OUTSIDE}"
    error = refused(
        lambda: save_template(data={"name": "Far", "trigger_starts_on": dt.date(1, 1, 1)}, tasks=[spec("a")]),
        "validation_error",
    )
    assert error.extra["field"] == "trigger_starts_on"
    assert not WorkflowTemplate.objects.exists()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_home_refuses_a_day_off_the_calendar_and_shows_today(api, client, operator, day):
    response = api.get("/api/v1/home/", {"date": day})
    assert response.status_code == 400
    assert response.json()["detail"] == f"date: {day} {OUTSIDE}"
    client.force_login(operator)
    page = client.get("/", {"date": day})
    assert page.status_code == 400
    assert f"{day} {OUTSIDE[:-1]}; showing today." in html.unescape(page.content.decode())


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_query_string_and_body_dates_off_the_calendar_are_a_400(api, day):
    assert api.get("/api/v1/tasks/", {"due_date": day}).status_code == 400
    assert api.post("/api/v1/tasks/", {"title": "T", "due_date": day}, format="json").status_code == 400
    template = make_template(spec("a"))
    launch = api.post(f"/api/v1/templates/{template.pk}/launch/", {"anchor_date": day}, format="json")
    assert launch.status_code == 400
    assert launch.json()["detail"] == f"anchor_date: {day} {OUTSIDE}"
    assert not Run.objects.exists()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_admin_reads_dates_through_the_same_window(client, admin_user, day):
    task = TaskFactory(due_date=dt.date(2028, 2, 9))
    client.force_login(admin_user)
    page = client.get(reverse("admin:workflows_task_change", args=[task.pk]))
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and not isinstance(value, list)}
    data.update(title=task.title, due_date=day, priority=task.priority)
    response = client.post(reverse("admin:workflows_task_change", args=[task.pk]), data)
    assert response.status_code == 200
    assert f"{day} {OUTSIDE}" in html.unescape(response.content.decode())
    task.refresh_from_db()
    assert task.due_date == dt.date(2028, 2, 9)
