"""Generating and backfilling through the API (``docs/schedules.md``, ``docs/api.md``), and ``/generation-runs/``."""

from __future__ import annotations

import datetime as dt

import pytest

from recurring import services
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from tests.factories import TemplateFactory, TemplateTaskFactory
from workflows.models import Run, Task, TaskSource, TriggerType

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2028, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def monthly(operator) -> RecurringConfig:
    """The monthly Slack dump, started at the beginning of the year."""
    return services.save_config(
        data={
            "title": "Dump Slack workspace",
            "cron_expression": "0 10 1 * *",
            "timezone": "UTC",
            "starts_on": dt.date(2028, 1, 1),
            "assignee": operator,
        }
    )


@pytest.fixture
def newsletter(db):
    template = TemplateFactory(
        name="Weekly newsletter",
        trigger_type=TriggerType.AUTOMATIC,
        trigger_schedule="0 9 * * TUE",
        trigger_timezone="UTC",
        trigger_lead_days=7,
        trigger_starts_on=dt.date(2028, 1, 1),
    )
    TemplateTaskFactory(template=template, ref="draft", title="Draft", offset_days=-2)
    TemplateTaskFactory(template=template, ref="send", title="Send", offset_days=0, stage="review")
    return template


def generate(api, config, **body):
    return api.post(f"/api/v1/recurring-configs/{config.pk}/generate/", body, format="json")


def test_dry_run_lists_the_windows_and_writes_nothing(api, monthly):
    response = generate(api, monthly, start_date="2028-01-01", end_date="2028-02-29", dry_run=True)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["generated"] == 2
    assert body["skipped"] == 0
    assert body["windows"] == ["2028-01-01", "2028-02-01"]
    assert body["existing"] == []
    assert body["task_ids"] == []
    assert not Task.objects.exists()


def test_generate_creates_the_windows_once_and_reports_duplicates_as_skipped(api, monthly, operator):
    first = generate(api, monthly, start_date="2028-01-01", end_date="2028-02-29").json()
    tasks = list(Task.objects.filter(recurring_config=monthly).order_by("window_date"))
    second = generate(api, monthly, start_date="2028-01-01", end_date="2028-03-01").json()

    assert first["generated"] == 2
    assert first["windows"] == ["2028-01-01", "2028-02-01"]
    assert sorted(first["task_ids"]) == sorted(str(t.pk) for t in tasks)
    assert [(t.window_date, t.due_date, t.source, t.assignee) for t in tasks] == [
        (dt.date(2028, 1, 1), dt.date(2028, 1, 1), TaskSource.RECURRING, operator),
        (dt.date(2028, 2, 1), dt.date(2028, 2, 1), TaskSource.RECURRING, operator),
    ]
    assert second["generated"] == 1
    assert second["windows"] == ["2028-03-01"]
    assert second["skipped"] == 2
    assert second["existing"] == ["2028-01-01", "2028-02-01"]
    assert Task.objects.filter(recurring_config=monthly).count() == 3


def test_dry_run_after_a_real_run_shows_what_exists(api, monthly):
    generate(api, monthly, start_date="2028-01-01", end_date="2028-01-31")

    body = generate(api, monthly, start_date="2028-01-01", end_date="2028-02-29", dry_run="true").json()

    assert (body["windows"], body["existing"]) == (["2028-02-01"], ["2028-01-01"])
    assert (body["generated"], body["skipped"]) == (1, 1)


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"start_date": "2028-13-01", "end_date": "2028-02-01"}, "invalid_date", "start_date"),
        ({"start_date": "2028-01-01", "end_date": "1st of Feb"}, "invalid_date", "end_date"),
        ({"end_date": "2028-02-01"}, "validation_error", "start_date"),
        ({"start_date": "2028-02-01", "end_date": "2028-01-01"}, "invalid_range", ""),
        ({"start_date": "2026-01-01", "end_date": "2028-02-01"}, "backfill_range_too_long", "366"),
        ({"start_date": "2028-01-01", "end_date": "2028-02-01", "dry_run": "perhaps"}, "validation_error", "dry_run"),
    ],
)
def test_bad_ranges_are_refused_with_a_specific_code_and_nothing_is_written(api, monthly, body, code, words):
    runs_before = GenerationRun.objects.count()

    response = generate(api, monthly, **body)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert words in response.json()["detail"]
    assert not Task.objects.exists()
    assert GenerationRun.objects.count() == runs_before


def test_generating_on_an_archived_config_is_a_conflict(api, monthly):
    services.archive_config(monthly)

    response = generate(api, monthly, start_date="2028-01-01", end_date="2028-02-01")

    assert response.status_code == 409
    assert response.json()["code"] == "recurring_config_archived"
    assert not Task.objects.exists()


def test_generating_works_on_a_paused_config_without_resuming_it(api, monthly):
    services.pause_config(monthly)

    body = generate(api, monthly, start_date="2028-01-01", end_date="2028-01-31").json()

    assert body["generated"] == 1
    monthly.refresh_from_db()
    assert monthly.enabled is False


def test_template_generate_creates_runs_anchored_lead_days_later(api, newsletter):
    response = api.post(
        f"/api/v1/templates/{newsletter.pk}/generate/",
        {"start_date": "2028-02-01", "end_date": "2028-02-14"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["windows"] == ["2028-02-01", "2028-02-08"]
    assert body["generated"] == 2
    assert body["recovered"] == 0
    runs = Run.objects.filter(template=newsletter).order_by("anchor_date")
    assert sorted(body["run_ids"]) == sorted(str(r.pk) for r in runs)
    assert [r.anchor_date for r in runs] == [dt.date(2028, 2, 8), dt.date(2028, 2, 15)]
    draft = Task.objects.get(run=runs[0], template_task_ref="draft")
    assert draft.due_date == dt.date(2028, 2, 6)
    assert "task_ids" not in body


def test_template_generate_again_skips_and_recovers_missing_tasks(api, newsletter):
    url = f"/api/v1/templates/{newsletter.pk}/generate/"
    api.post(url, {"start_date": "2028-02-01", "end_date": "2028-02-07"}, format="json")
    Task.objects.filter(template_task_ref="send").delete()

    dry = api.post(url, {"start_date": "2028-02-01", "end_date": "2028-02-07", "dry_run": True}, format="json")
    body = api.post(url, {"start_date": "2028-02-01", "end_date": "2028-02-07"}, format="json").json()

    assert dry.json()["existing"] == ["2028-02-01"]
    assert Task.objects.filter(template_task_ref="send").count() == 1
    assert (body["generated"], body["skipped"], body["recovered"]) == (0, 1, 1)
    assert body["existing"] == ["2028-02-01"]


def test_template_generate_refuses_bad_dates(api, newsletter):
    response = api.post(
        f"/api/v1/templates/{newsletter.pk}/generate/", {"start_date": "soon", "end_date": "2028-02-07"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_date"
    assert not Run.objects.exists()


def test_template_generate_of_an_unknown_template_is_404(api):
    response = api.post(
        "/api/v1/templates/8a3c1c54-1111-4222-8333-444455556666/generate/",
        {"start_date": "2028-02-01", "end_date": "2028-02-07"},
        format="json",
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_generation_requires_login(anon_api, monthly):
    response = anon_api.post(
        f"/api/v1/recurring-configs/{monthly.pk}/generate/", {"start_date": "2028-01-01", "end_date": "2028-01-31"}
    )

    assert response.status_code in (401, 403)
    assert not Task.objects.exists()


# ---- /generation-runs/ ----------------------------------------------------------------------


def make_run(*, config=None, template=None, status=GenerationStatus.SUCCESS, **fields) -> GenerationRun:
    return GenerationRun.objects.create(
        recurring_config=config,
        template=template,
        trigger=fields.pop("trigger", GenerationTrigger.BEAT),
        status=status,
        at=fields.pop("at", NOW),
        **fields,
    )


def test_generation_runs_filter_by_config_template_and_status(api, monthly, newsletter):
    ok = make_run(config=monthly, generated=1)
    failed = make_run(config=monthly, status=GenerationStatus.FAILED, error="boom", failed=1)
    of_template = make_run(template=newsletter, generated=1)

    def ids(**params):
        response = api.get("/api/v1/generation-runs/", params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(config=monthly.pk) >= {str(ok.pk), str(failed.pk)}
    assert str(of_template.pk) not in ids(config=monthly.pk)
    assert ids(template=newsletter.pk) == {str(of_template.pk)}
    assert ids(config=monthly.pk, status="failed") == {str(failed.pk)}
    row = api.get(f"/api/v1/generation-runs/{failed.pk}/").json()
    assert row["kind"] == "recurring"
    assert row["schedule_title"] == "Dump Slack workspace"
    assert row["needs_attention"] is True
    assert row["error"] == "boom"


@pytest.mark.parametrize(
    ("params", "words"),
    [({"status": "exploded"}, "status"), ({"config": "not-an-id"}, "config"), ({"kind": "cron"}, "kind")],
)
def test_generation_runs_refuse_bad_filters(api, params, words):
    response = api.get("/api/v1/generation-runs/", params)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert words in response.json()["detail"]


@pytest.mark.parametrize("size", [2, 20])
def test_generation_runs_list_uses_a_constant_number_of_queries(
    api, monthly, newsletter, operator, size, django_assert_max_num_queries
):
    for _ in range(size):
        make_run(config=monthly, triggered_by=operator)
        make_run(template=newsletter)

    with django_assert_max_num_queries(4):
        response = api.get("/api/v1/generation-runs/")

    assert len(response.json()["results"]) >= 2 * size
