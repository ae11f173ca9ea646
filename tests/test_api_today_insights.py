"""``/api/v1/today/`` and ``/api/v1/insights/``: shapes, validation and access."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from recurring.models import RecurringConfig
from tests.factories import TaskFactory, duty_occurrences
from workflows.models import Priority, TaskSource

pytestmark = pytest.mark.django_db

TODAY = dt.date(2028, 2, 9)


@pytest.fixture(autouse=True)
def _noon(settings):
    settings.PORTAL_TIME_ZONE = "UTC"
    with time_machine.travel(dt.datetime(2028, 2, 9, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


def test_today_lists_the_queue_with_progress_expected_time_and_streak(api, operator):
    done = TaskFactory(title="Done", due_date=TODAY, assignee=operator)
    done.complete(by=operator)
    TaskFactory(title="Later", due_date=TODAY, priority=Priority.LOW, assignee=operator, estimate_minutes=15)
    TaskFactory(title="First", due_date=TODAY, priority=Priority.URGENT, assignee=operator, estimate_minutes=10)

    body = api.get("/api/v1/today/").json()

    assert body["date"] == "2028-02-09"
    assert [t["title"] for t in body["queue"]] == ["First", "Later"]
    first = body["queue"][0]
    assert {"id", "title", "due_date", "priority", "status", "blocked", "typical_minutes"} <= set(first)
    assert (first["priority"], first["status"], first["blocked"], first["typical_minutes"]) == (
        "urgent",
        "todo",
        False,
        10,
    )
    assert body["progress"] == {"resolved": 1, "total": 3}
    assert body["expected_minutes"] == 25
    assert body["streak"] == 0  # today still has open work; nothing before it


def test_today_takes_a_strict_date(api, operator):
    TaskFactory(title="Tomorrow", due_date=TODAY + dt.timedelta(days=1), assignee=operator)
    body = api.get("/api/v1/today/", {"date": "2028-02-10"}).json()
    assert [t["title"] for t in body["queue"]] == ["Tomorrow"]
    for bad in ("2028-2-10", "tomorrow", "2028-02-10T00:00"):
        response = api.get("/api/v1/today/", {"date": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "validation_error"
    assert api.get("/api/v1/today/", {"dat": "2028-02-10"}).status_code == 400


def test_insights_shape_and_rates(api, operator):
    config = RecurringConfig.objects.create(title="Backup", cron_expression="0 9 * * *")
    for offset in (1, 2):
        day = TODAY - dt.timedelta(days=offset)
        task = TaskFactory(
            source=TaskSource.RECURRING, recurring_config=config, window_date=day, due_date=day, assignee=operator
        )
        if offset == 1:
            task.complete(by=operator)  # done today: one day late

    body = api.get("/api/v1/insights/", {"days": 30}).json()

    assert body["since"] == "2028-01-11" and body["until"] == "2028-02-09"
    entry = next(e for e in body["configs"] if e["id"] == str(config.pk))
    assert set(entry) == {
        "id",
        "title",
        "due",
        "done",
        "skipped",
        "open",
        "completion_rate",
        "on_time_rate",
        "median_minutes_to_complete",
        "median_days_late",
        "weeks",
    }
    assert (entry["due"], entry["done"], entry["open"]) == (2, 1, 1)
    assert entry["completion_rate"] == 0.5 and entry["on_time_rate"] == 0.0 and entry["median_days_late"] == 1
    assert set(entry["weeks"][0]) == {"week_start", "on_time", "late", "missed"}
    assert sum(w["missed"] for w in entry["weeks"]) == 1
    assert body["templates"] == []


@pytest.mark.parametrize("days", ["0", "367", "-1", "many", "30.5"])
def test_insights_refuse_days_outside_one_to_366(api, days):
    response = api.get("/api/v1/insights/", {"days": days})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("path", ["/api/v1/today/", "/api/v1/insights/"])
def test_anonymous_and_outsiders_are_refused(anon_api, outsider, path):
    assert anon_api.get(path).status_code in (401, 403)
    anon_api.force_authenticate(outsider)
    assert anon_api.get(path).status_code == 403


def test_both_endpoints_keep_a_constant_number_of_queries(api, operator, django_assert_max_num_queries):
    def build(n):
        duty_occurrences(n, assignee=operator, today=TODAY, spread=5)

    build(2)
    with django_assert_max_num_queries(30) as today_small:
        api.get("/api/v1/today/")
    with django_assert_max_num_queries(30) as insights_small:
        api.get("/api/v1/insights/")
    build(30)
    with django_assert_max_num_queries(len(today_small.captured_queries)):
        api.get("/api/v1/today/")
    with django_assert_max_num_queries(len(insights_small.captured_queries)):
        api.get("/api/v1/insights/")
