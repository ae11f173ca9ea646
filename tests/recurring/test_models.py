"""The rules about one config and one generation run, defined once on the models and read by the
API, the admin and Operations Home."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.selectors import automation_failures
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from recurring.services import save_config
from tests.factories import OperatorFactory, make_recurring_config, utc
from workflows.models import TaskSource

pytestmark = pytest.mark.django_db

AT = utc(2028, 2, 2, 9)


def generation_run(config: RecurringConfig, **fields) -> GenerationRun:
    return GenerationRun.objects.create(
        recurring_config=config,
        trigger=GenerationTrigger.RECONCILE,
        at=fields.pop("at", AT),
        status=fields.pop("status", GenerationStatus.FAILED),
        **fields,
    )


@pytest.fixture
def config() -> RecurringConfig:
    return make_recurring_config(created=utc(2028, 2, 1, 12), title="Slack invites")


@pytest.fixture
def runs(config, admin_user) -> dict[str, GenerationRun]:
    return {
        "open": generation_run(config, error="boom"),
        "acknowledged": generation_run(
            config, error="boom", acknowledged_at=AT, acknowledged_by=admin_user, acknowledgement_note="done by hand"
        ),
        "resolved": generation_run(config, error="boom", resolved_at=AT),
        "success": generation_run(config, status=GenerationStatus.SUCCESS, generated=1),
    }


def test_a_failure_needs_attention_until_it_is_acknowledged_or_resolved(runs):
    needing = set(GenerationRun.objects.needing_attention())

    assert needing == {runs["open"]}
    assert {name for name, run in runs.items() if run.needs_attention} == {"open"}


def test_operations_home_and_the_admin_filter_list_the_same_failures(runs, client, admin_user):
    client.force_login(admin_user)

    flagged = client.get("/admin/recurring/generationrun/", {"attention": "needed"}).context["cl"].result_list

    assert [row.pk for row in flagged] == [runs["open"].pk]
    assert [row.pk for row in automation_failures()] == [runs["open"].pk]


def test_with_history_counts_generated_tasks_and_prefetches_the_latest_real_run(config, django_assert_num_queries):
    for day in (dt.date(2028, 2, 2), dt.date(2028, 2, 3)):
        config.task_for_window(day).save()
    generation_run(config, status=GenerationStatus.SUCCESS, started_at=AT)
    latest = generation_run(config, status=GenerationStatus.SUCCESS, started_at=AT + dt.timedelta(hours=1))
    generation_run(config, status=GenerationStatus.SUCCESS, dry_run=True, started_at=AT + dt.timedelta(hours=2))
    never_ran = make_recurring_config(created=utc(2028, 2, 1, 12), title="Untouched")

    with django_assert_num_queries(2):  # the configs with their counts, then the latest runs
        rows = {row.pk: row for row in RecurringConfig.objects.with_history()}

    assert (rows[config.pk].generated_count, rows[config.pk].last_run) == (2, latest)
    assert (rows[never_ran.pk].generated_count, rows[never_ran.pk].last_run) == (0, None)
    assert RecurringConfig.objects.get(pk=config.pk).last_run == latest  # unprefetched: asks the database


def test_upcoming_fire_times_start_on_starts_on_in_the_configs_zone():
    config = save_config(
        data={
            "title": "Evening check",
            "cron_expression": "0 18 * * *",
            "timezone": "Europe/Berlin",
            "starts_on": dt.date(2028, 3, 1),
        }
    )

    fires = config.upcoming_fire_times(after=utc(2028, 2, 1, 0), count=2)

    assert [fire.isoformat() for fire in fires] == ["2028-03-01T18:00:00+01:00", "2028-03-02T18:00:00+01:00"]
    assert config.schedule_description.lower().startswith("at 18:00")


def test_an_unreadable_stored_expression_has_no_fire_times_and_says_why(config):
    RecurringConfig.objects.filter(pk=config.pk).update(cron_expression="0 9 * * * *")
    config.refresh_from_db()

    assert config.upcoming_fire_times(after=AT) == []
    assert config.schedule_description.startswith("Invalid schedule:")


def test_the_task_of_a_window_carries_the_configs_fields_and_is_due_that_day():
    assignee = OperatorFactory()
    config = make_recurring_config(
        created=utc(2028, 2, 1, 12), title="Export the list", assignee=assignee, area="Community", requires_file=True
    )

    task = config.task_for_window(dt.date(2028, 2, 5), created_by_id=assignee.pk)

    assert task._state.adding
    assert (task.title, task.due_date, task.window_date) == (
        "Export the list",
        dt.date(2028, 2, 5),
        dt.date(2028, 2, 5),
    )
    assert (task.source, task.recurring_config_id, task.assignee_id) == (TaskSource.RECURRING, config.pk, assignee.pk)
    assert (task.area, task.requires_file, task.created_by_id) == ("Community", True, assignee.pk)
