"""``/api/v1/recurring-configs/`` (``docs/api.md``): rows, validation, pause/resume/archive, delete rules."""

from __future__ import annotations

import datetime as dt

import pytest

from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from tests.factories import OperatorFactory, TaskFactory
from workflows.models import TaskSource

pytestmark = pytest.mark.django_db

URL = "/api/v1/recurring-configs/"
NOW = dt.datetime(2028, 2, 1, 12, 0, tzinfo=dt.UTC)

SLACK = {
    "title": "Handle new Slack invite requests",
    "instructions": "Invite each approved person.",
    "instructions_url": "https://airtable.example.com/invites",
    "cron_expression": "0 9 * * *",
    "timezone": "Europe/Berlin",
    "assignee": "olivia",
    "area": "Community",
    "priority": "high",
    "estimate_minutes": 15,
    "catch_up": "latest",
    "requires_link": None,
    "requires_file": False,
    "requires_proof_note": True,
}


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def create(api, **changes) -> dict:
    response = api.post(URL, {**SLACK, **changes}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def detail(pk) -> str:
    return f"{URL}{pk}/"


def test_login_is_required(anon_api):
    assert anon_api.get(URL).status_code in (401, 403)
    assert anon_api.post(URL, SLACK, format="json").status_code in (401, 403)
    assert not RecurringConfig.objects.exists()


def test_people_outside_operators_and_admins_are_refused(outsider):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get(URL).status_code == 403
    assert client.post(URL, SLACK, format="json").status_code == 403


def test_create_returns_the_config_with_its_derived_fields(api, operator):
    body = create(api)

    config = RecurringConfig.objects.get(pk=body["id"])
    assert config.assignee == operator
    assert body["title"] == SLACK["title"]
    assert body["assignee"] == "olivia"
    assert body["timezone"] == "Europe/Berlin"
    assert body["requires_link"] is None
    assert body["requires_proof_note"] is True
    assert body["enabled"] is True
    assert body["starts_on"] == "2028-02-01"  # default: the creation date
    assert body["generated_count"] == 0
    assert body["last_run"] is None
    assert body["archived_at"] is None
    assert body["schedule_description"]
    assert "09:00" in body["schedule_description"]
    # The next five windows, at 09:00 Berlin time, with the zone's offset.
    assert body["next_fire_times"] == [f"2028-02-0{d}T09:00:00+01:00" for d in range(2, 7)]
    assert body["created_at"].startswith("2028-02-01T12:00:00")


def test_next_fire_times_follow_the_schedule_zone_across_dst(api, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 26, 12, 0, tzinfo=dt.UTC), tick=False)

    body = create(api, cron_expression="30 2 * * *", starts_on="2026-03-27")

    # On 2026-03-29 Berlin skips 02:00-03:00: that window fires at 03:00 CEST.
    assert body["next_fire_times"][:3] == [
        "2026-03-27T02:30:00+01:00",
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]


def test_requires_link_label_round_trips(api):
    body = create(api, requires_link="LinkedIn post URL")

    assert body["requires_link"] == "LinkedIn post URL"
    assert RecurringConfig.objects.get(pk=body["id"]).requires_link == "LinkedIn post URL"


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"cron_expression": "0 9 * * * *"}, "invalid_schedule", "field"),
        ({"cron_expression": "@daily"}, "invalid_schedule", "@"),
        ({"cron_expression": "0 9 L * *"}, "invalid_schedule", "L"),
        ({"timezone": "Mars/Olympus_Mons"}, "invalid_timezone", "Mars/Olympus_Mons"),
        ({"assignee": "nobody-here"}, "unknown_user", "nobody-here"),
        ({"starts_on": "01/02/2028"}, "validation_error", "starts_on"),
        ({"priority": "whenever"}, "validation_error", "priority"),
        ({"catch_up": "some"}, "validation_error", "catch_up"),
        ({"title": ""}, "validation_error", "title"),
    ],
)
def test_bad_input_is_refused_with_a_specific_code_and_nothing_is_written(api, changes, code, words):
    response = api.post(URL, {**SLACK, **changes}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert words in body["detail"]
    assert not RecurringConfig.objects.exists()


def test_a_refused_cron_expression_says_why(api):
    response = api.post(URL, {**SLACK, "cron_expression": "0 25 * * *"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_schedule"
    assert "25" in response.json()["detail"]


def test_patch_changes_only_the_given_fields(api):
    body = create(api)

    response = api.patch(detail(body["id"]), {"cron_expression": "0 10 * * WED", "assignee": None}, format="json")

    assert response.status_code == 200, response.json()
    changed = response.json()
    assert changed["cron_expression"] == "0 10 * * WED"
    assert changed["assignee"] is None
    assert changed["title"] == SLACK["title"]
    assert changed["next_fire_times"][0] == "2028-02-02T10:00:00+01:00"
    config = RecurringConfig.objects.get(pk=body["id"])
    assert (config.cron_expression, config.assignee_id) == ("0 10 * * WED", None)


def test_a_refused_patch_changes_nothing(api):
    body = create(api)

    response = api.patch(detail(body["id"]), {"title": "Renamed", "cron_expression": "61 * * * *"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_schedule"
    config = RecurringConfig.objects.get(pk=body["id"])
    assert (config.title, config.cron_expression) == (SLACK["title"], "0 9 * * *")


def test_put_is_not_offered(api):
    body = create(api)

    response = api.put(detail(body["id"]), SLACK, format="json")

    assert response.status_code == 405
    assert response.json()["code"]


def test_an_unknown_id_is_a_json_404(api):
    response = api.get(detail("8a3c1c54-1111-4222-8333-444455556666"))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_pause_and_resume_return_the_config(api):
    body = create(api)

    paused = api.post(detail(body["id"]) + "pause/")
    assert paused.status_code == 200
    assert paused.json()["enabled"] is False
    assert RecurringConfig.objects.get(pk=body["id"]).enabled is False

    resumed = api.post(detail(body["id"]) + "resume/")
    assert resumed.status_code == 200
    assert resumed.json()["enabled"] is True


def test_archive_hides_the_config_from_the_list_unless_asked(api):
    kept = create(api, title="Kept")
    archived = create(api, title="Archived")

    response = api.post(detail(archived["id"]) + "archive/")

    assert response.status_code == 200
    assert response.json()["archived_at"] is not None
    assert response.json()["enabled"] is False
    assert [row["id"] for row in api.get(URL).json()["results"]] == [kept["id"]]
    with_archived = api.get(URL, {"archived": "true"}).json()["results"]
    assert {row["id"] for row in with_archived} == {kept["id"], archived["id"]}
    assert api.get(detail(archived["id"])).status_code == 200


def test_delete_without_history_removes_the_config(api):
    body = create(api)

    response = api.delete(detail(body["id"]))

    assert response.status_code == 204
    assert not RecurringConfig.objects.filter(pk=body["id"]).exists()


def test_delete_with_generated_history_is_refused_with_409(api):
    body = create(api)
    config = RecurringConfig.objects.get(pk=body["id"])
    TaskFactory(source=TaskSource.RECURRING, recurring_config=config, window_date=dt.date(2028, 2, 2))

    response = api.delete(detail(body["id"]))

    assert response.status_code == 409
    assert response.json()["code"] == "recurring_config_has_generated_history"
    assert RecurringConfig.objects.filter(pk=body["id"]).exists()


def test_generated_count_and_last_run_describe_the_history(api):
    body = create(api)
    config = RecurringConfig.objects.get(pk=body["id"])
    for day in (2, 3):
        TaskFactory(source=TaskSource.RECURRING, recurring_config=config, window_date=dt.date(2028, 2, day))
    GenerationRun.objects.create(
        recurring_config=config,
        trigger=GenerationTrigger.BEAT,
        status=GenerationStatus.SUCCESS,
        at=NOW - dt.timedelta(days=1),
        started_at=NOW - dt.timedelta(days=1),
        generated=1,
    )
    latest = GenerationRun.objects.create(
        recurring_config=config,
        trigger=GenerationTrigger.RECONCILE,
        status=GenerationStatus.FAILED,
        at=NOW,
        started_at=NOW,
        failed=1,
        error="database is locked",
    )

    row = api.get(detail(body["id"])).json()

    assert row["generated_count"] == 2
    assert row["last_run"] == {
        "id": str(latest.pk),
        "at": "2028-02-01T12:00:00Z",
        "status": "failed",
        "generated": 0,
        "skipped": 0,
        "missed": 0,
        "failed": 1,
        "error": "database is locked",
    }


@pytest.mark.parametrize("size", [2, 12])
def test_the_list_uses_a_constant_number_of_queries(api, size, django_assert_max_num_queries):
    for n in range(size):
        config = RecurringConfig.objects.create(
            title=f"Duty {n:02d}", cron_expression="0 9 * * *", assignee=OperatorFactory()
        )
        TaskFactory(source=TaskSource.RECURRING, recurring_config=config, window_date=dt.date(2028, 1, 30))
        GenerationRun.objects.create(recurring_config=config, trigger="beat", status="success", at=NOW, generated=1)

    with django_assert_max_num_queries(6):
        response = api.get(URL)

    rows = response.json()["results"]
    assert len(rows) == size
    assert all(row["generated_count"] == 1 and row["last_run"]["generated"] == 1 for row in rows)
