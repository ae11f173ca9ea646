"""Input of the recurring API: generate bodies and dates read strictly, ``starts_on`` written
YYYY-MM-DD, and answers that say why nothing was generated."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from recurring import services
from recurring.models import GenerationRun, GenerationStatus
from tests.factories import make_recurring_config, utc

pytestmark = pytest.mark.django_db

NOW = utc(2028, 3, 1, 12)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def daily(time_machine):
    time_machine.move_to(NOW, tick=False)
    return make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 23 * * *", tz="America/New_York")


@pytest.mark.parametrize("body", [[1, 2], "2028-01-01", 5])
def test_generate_refuses_a_body_that_is_not_an_object(api, daily, body):
    response = api.post(f"/api/v1/recurring-configs/{daily.pk}/generate/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_template_generate_refuses_a_body_that_is_not_an_object(api, time_machine):
    from tests.factories import TemplateFactory
    from workflows.models import TriggerType

    template = TemplateFactory(trigger_type=TriggerType.AUTOMATIC, trigger_schedule="0 9 * * TUE")
    response = api.post(f"/api/v1/templates/{template.pk}/generate/", [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_generate_refuses_dates_not_written_yyyy_mm_dd(api, daily):
    response = api.post(
        f"/api/v1/recurring-configs/{daily.pk}/generate/",
        {"start_date": "2028-W05-1", "end_date": "2028-02-02", "dry_run": True},
        format="json",
    )

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_date", "start_date")


@pytest.mark.parametrize("value", ["2028-W05-1", "20280201"])
def test_starts_on_must_be_written_yyyy_mm_dd(api, daily, value):
    response = api.patch(f"/api/v1/recurring-configs/{daily.pk}/", {"starts_on": value}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    daily.refresh_from_db()
    assert daily.starts_on == dt.date(2028, 1, 1)


def test_generate_refuses_dates_near_the_end_of_the_calendar(api, daily):
    response = api.post(
        f"/api/v1/recurring-configs/{daily.pk}/generate/",
        {"start_date": "9999-12-30", "end_date": "9999-12-31", "dry_run": True},
        format="json",
    )

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("validation_error", "start_date")


def test_starts_on_near_the_end_of_the_calendar_is_refused(api, daily):
    response = api.patch(f"/api/v1/recurring-configs/{daily.pk}/", {"starts_on": "9999-12-31"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_a_range_without_windows_says_why_nothing_was_generated(api, time_machine):
    time_machine.move_to(NOW, tick=False)
    monthly = make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 10 1 * *")

    response = api.post(
        f"/api/v1/recurring-configs/{monthly.pk}/generate/",
        {"start_date": "2028-02-02", "end_date": "2028-02-20"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["generated"] == 0
    assert response.json()["notes"] == ["No window of the schedule falls between start_date and end_date."]


def test_generation_runs_show_no_error_as_null(api, daily):
    services.run_schedules(at=utc(2028, 1, 3, 12))
    assert GenerationRun.objects.filter(status=GenerationStatus.SUCCESS).exists()

    runs = api.get("/api/v1/generation-runs/").json()["results"]

    assert runs and all(run["error"] is None for run in runs)
