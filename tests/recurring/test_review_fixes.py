"""Scheduler rules found by review: an acknowledged failure stays acknowledged, a template's
trigger date has one run whatever its lead, nothing is persisted for the future, concurrent
passes decide a window once, backfills announce once, and beat and catch-up report honestly."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from notifications.models import Notification, NotificationType
from portal.selectors import automation_failures
from recurring import services
from recurring.models import GenerationRun, GenerationStatus, RecurringConfig
from recurring.services import acknowledge_failure, acknowledge_failures_by_key, reconcile
from tests.factories import make_automatic_template, make_recurring_config, utc
from workflows.models import Run, WorkflowTemplate
from workflows.services import instantiate_run, save_template

pytestmark = pytest.mark.django_db

D = dt.date
FIRE = utc(2028, 2, 2, 9)


@pytest.fixture
def broken(monkeypatch):
    """Task creation of configs raises."""

    def explode(config, day, *, created_by_id=None):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(RecurringConfig, "task_for_window", explode)


def failure_notices():
    return Notification.objects.filter(type=NotificationType.AUTOMATION_FAILURE)


# ---- 1. an acknowledged failure does not come back ------------------------------------------


def test_acknowledging_a_failure_stops_its_retries_until_the_next_regular_fire_time(broken, admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    reconcile(at=FIRE)
    [failed] = GenerationRun.objects.filter(recurring_config=config, status=GenerationStatus.FAILED)

    with time_machine.travel(FIRE + dt.timedelta(seconds=30), tick=False):
        acknowledge_failure(failed, by=admin_user, note="Known; done by hand.")

    stored = RecurringConfig.objects.get(pk=config.pk)
    assert (stored.failure_streak, stored.retry_at, stored.next_fire_at) == (0, None, utc(2028, 2, 3, 9))
    assert reconcile(at=FIRE + dt.timedelta(minutes=1)) == []
    assert reconcile(at=FIRE + dt.timedelta(hours=5)) == []


def test_acknowledging_the_notice_also_stops_the_retries(broken, admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    reconcile(at=FIRE)
    notice = failure_notices().get(recipient=admin_user)

    with time_machine.travel(FIRE + dt.timedelta(seconds=30), tick=False):
        acknowledge_failures_by_key(notice.dedup_key, by=admin_user, note="Known.")

    assert reconcile(at=FIRE + dt.timedelta(minutes=1)) == []
    assert RecurringConfig.objects.get(pk=config.pk).retry_at is None


def test_a_later_attempt_of_an_acknowledged_window_is_born_acknowledged_and_not_notified(broken, admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    reconcile(at=FIRE)
    [failed] = GenerationRun.objects.filter(recurring_config=config, status=GenerationStatus.FAILED)
    with time_machine.travel(FIRE + dt.timedelta(seconds=30), tick=False):
        acknowledge_failure(failed, by=admin_user, note="Known.")
    notices = failure_notices().count()

    # someone runs the window again by hand: the same failure, already acknowledged
    with time_machine.travel(FIRE + dt.timedelta(minutes=2), tick=False):
        services.generate_due(
            RecurringConfig.objects.get(pk=config.pk), at=FIRE + dt.timedelta(minutes=2), trigger="command"
        )

    runs = GenerationRun.objects.filter(recurring_config=config, status=GenerationStatus.FAILED)
    assert runs.count() == 2 and all(run.acknowledged_at for run in runs)
    assert [f for f in automation_failures() if f.recurring_config_id == config.pk] == []
    assert failure_notices().count() == notices


def test_a_schedule_wide_failure_acknowledged_keeps_its_key_and_raises_no_new_notification(admin_user):
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    RecurringConfig.objects.filter(pk=config.pk).update(cron_expression="not a cron")
    reconcile(at=FIRE)
    [failed] = GenerationRun.objects.filter(recurring_config=config, status=GenerationStatus.FAILED)
    with time_machine.travel(FIRE + dt.timedelta(seconds=30), tick=False):
        acknowledge_failure(failed, by=admin_user, note="Fixing the expression.")
    notices = failure_notices().count()

    with time_machine.travel(FIRE + dt.timedelta(minutes=2), tick=False):
        services.generate_due(
            RecurringConfig.objects.get(pk=config.pk), at=FIRE + dt.timedelta(minutes=2), trigger="command"
        )

    latest = GenerationRun.objects.filter(recurring_config=config).latest("started_at", "id")
    assert latest.failure_key == failed.failure_key
    assert latest.acknowledged_at is not None
    assert failure_notices().count() == notices
    assert [f for f in automation_failures() if f.recurring_config_id == config.pk] == []


# ---- 2. one run per trigger date --------------------------------------------------------------


def test_changing_the_lead_does_not_create_a_second_run_for_a_trigger_date():
    template = make_automatic_template(created=utc(2041, 1, 1, 8), lead_days=7)  # Tuesdays
    first = services.generate_due(template, at=utc(2041, 1, 1, 9), trigger="reconcile")
    with time_machine.travel(utc(2041, 1, 1, 10), tick=False):
        save_template(template=WorkflowTemplate.objects.get(pk=template.pk), data={"trigger_lead_days": 6})

    again = services.generate_due(
        WorkflowTemplate.objects.get(pk=template.pk), at=utc(2041, 1, 1, 11), trigger="reconcile"
    )

    assert first.generated == 1
    assert (again.generated, again.skipped, again.existing) == (0, 1, [D(2041, 1, 1)])
    assert list(Run.objects.filter(template=template).values_list("trigger_date", "anchor_date")) == [
        (D(2041, 1, 1), D(2041, 1, 8))
    ]


def test_the_database_refuses_two_runs_of_one_trigger_date():
    from django.db import IntegrityError, transaction

    template = make_automatic_template(created=utc(2041, 1, 1, 8))
    instantiate_run(template=template, anchor_date=D(2041, 1, 8), trigger_date=D(2041, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(template=template, anchor_date=D(2041, 1, 7), trigger_date=D(2041, 1, 1), title="again")


def test_instantiating_for_a_trigger_date_reuses_its_run_whatever_the_anchor():
    template = make_automatic_template(created=utc(2041, 1, 1, 8))
    made = instantiate_run(template=template, anchor_date=D(2041, 1, 8), trigger_date=D(2041, 1, 1))

    again = instantiate_run(template=template, anchor_date=D(2041, 1, 7), trigger_date=D(2041, 1, 1))

    assert (again.created, again.run.pk) == (False, made.run.pk)


# ---- 7. beat writes nothing for a tick with nothing due ------------------------------------


def _beat(config, at):
    from recurring import tasks

    with time_machine.travel(at, tick=False):
        return tasks.generate_schedule.apply(kwargs={"kind": "recurring", "id": str(config.pk)}).get()


def test_a_beat_tick_before_the_next_fire_time_writes_no_generation_run():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *")
    _beat(config, utc(2028, 2, 2, 9, 0, 1))

    for hour in (10, 11, 12):  # an hourly entry of a daily schedule
        assert _beat(config, utc(2028, 2, 2, hour)) is None

    assert GenerationRun.objects.filter(recurring_config=config).count() == 1


def test_a_beat_tick_during_the_retry_back_off_does_not_generate(broken):
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *")
    _beat(config, FIRE)
    assert RecurringConfig.objects.get(pk=config.pk).retry_at == FIRE + dt.timedelta(minutes=1)

    assert _beat(config, FIRE + dt.timedelta(seconds=30)) is None

    assert GenerationRun.objects.filter(recurring_config=config).count() == 1


# ---- 6. a template's zone and start date -----------------------------------------------------


def test_a_template_without_a_zone_reads_its_schedule_in_the_portal_zone(settings):
    settings.PORTAL_TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(utc(2041, 1, 1, 8), tick=False):
        template = save_template(
            data={"name": "Zoneless", "stages": ["a"], "trigger_type": "automatic", "trigger_schedule": "0 9 * * TUE"},
            tasks=[{"ref": "x", "title": "X", "stage": "a", "offset_days": 0}],
        )

    assert template.trigger_timezone == "Europe/Berlin"
    assert WorkflowTemplate().trigger_timezone == "Europe/Berlin"


def test_a_template_starts_on_its_creation_date_in_its_own_zone():
    # 23:30 UTC on 31 December is already 1 January in Berlin
    template = make_automatic_template(created=utc(2040, 12, 31, 23, 30), tz="Europe/Berlin")

    assert template.starts_on == D(2041, 1, 1)


# ---- 3. nothing is persisted for the future -------------------------------------------------


def test_a_pass_for_an_instant_after_now_is_refused_and_changes_nothing():
    from workflows.errors import DomainError

    config = make_recurring_config(created=utc(2040, 1, 1, 8))
    cursor = RecurringConfig.objects.get(pk=config.pk).next_fire_at

    with time_machine.travel(utc(2040, 1, 1, 8, 30), tick=False), pytest.raises(DomainError) as refused:
        services.run_schedules(at=utc(2040, 2, 1, 9), trigger="command")

    assert refused.value.code == "future_instant"
    assert "2040-02-01T09:00:00+00:00" in refused.value.detail
    assert RecurringConfig.objects.get(pk=config.pk).next_fire_at == cursor
    assert not GenerationRun.objects.filter(recurring_config=config).exists()


# ---- 4. concurrent passes decide a window once ---------------------------------------------


def _missed_recorded(config) -> list[str]:
    return [
        day
        for days in GenerationRun.objects.filter(recurring_config=config).values_list("missed_windows", flat=True)
        for day in days
    ]


def test_a_pass_holding_a_stale_schedule_does_not_record_missed_windows_again():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    stale = RecurringConfig.objects.get(pk=config.pk)  # loaded by a second worker before the first pass
    at = utc(2028, 2, 5, 10)

    first = services.generate_due(RecurringConfig.objects.get(pk=config.pk), at=at, trigger="reconcile")
    second = services.generate_due(stale, at=at, trigger="reconcile")

    assert first.missed_windows == [D(2028, 2, 2), D(2028, 2, 3), D(2028, 2, 4)]
    assert second.missed_windows == []
    assert _missed_recorded(config) == ["2028-02-02", "2028-02-03", "2028-02-04"]


def test_a_batched_pass_holding_stale_schedules_does_not_record_missed_windows_again():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    stale = RecurringConfig.objects.get(pk=config.pk)
    at = utc(2028, 2, 5, 10)
    reconcile(at=at)

    [again] = services.generate_each([stale], at=at, trigger=lambda schedule: "reconcile")

    assert again.missed_windows == []
    assert _missed_recorded(config) == ["2028-02-02", "2028-02-03", "2028-02-04"]


# ---- 5. a template backfill announces once ---------------------------------------------------


def test_a_template_backfill_raises_one_summary_instead_of_one_notice_per_run(operator):
    template = make_automatic_template(created=utc(2041, 1, 1, 8))
    with time_machine.travel(utc(2041, 2, 1, 12), tick=False):
        result = services.backfill(template, start=D(2041, 1, 1), end=D(2041, 1, 31))

    created = Notification.objects.filter(type=NotificationType.WORKFLOW_CREATED)
    assert result.generated == 5  # the Tuesdays of January
    assert created.filter(run__isnull=False).count() == 0
    assert created.filter(recipient=operator).count() == 1
    summary = created.get(recipient=operator)
    assert summary.template_id == template.pk
    assert "5 run(s) created by a backfill" in summary.title
    assert summary.data["windows"] == ["2041-01-01", "2041-01-08", "2041-01-15", "2041-01-22", "2041-01-29"]


def test_a_scheduled_template_run_still_announces_itself(operator):
    template = make_automatic_template(created=utc(2041, 1, 1, 8))

    services.generate_due(template, at=utc(2041, 1, 1, 9), trigger="reconcile")

    assert Notification.objects.filter(type=NotificationType.WORKFLOW_CREATED, run__isnull=False).exists()


# ---- 8. catch-up "all" reports what this pass found, not its whole range ---------------------


def test_a_daily_catch_up_all_pass_does_not_report_the_earlier_days_as_skipped():
    make_recurring_config(created=utc(2028, 1, 1, 8), catch_up="all")
    reconcile(at=utc(2028, 1, 5, 9, 30))

    [next_day] = reconcile(at=utc(2028, 1, 6, 9, 1))

    assert (next_day.generated, next_day.skipped, next_day.existing) == (1, 0, [])
    assert next_day.windows == [D(2028, 1, 6)]


def test_a_catch_up_all_template_pass_does_not_report_the_earlier_trigger_dates_as_skipped():
    template = make_automatic_template(created=utc(2041, 1, 1, 8))
    services.generate_due(template, at=utc(2041, 1, 1, 9), trigger="reconcile")
    WorkflowTemplate.objects.filter(pk=template.pk).update(catch_up="all")

    [next_week] = reconcile(at=utc(2041, 1, 8, 9, 1))

    assert (next_week.generated, next_week.skipped) == (1, 0)


def test_a_persons_pass_for_one_schedule_after_now_is_refused_and_changes_nothing():
    from workflows.errors import DomainError

    config = make_recurring_config(created=utc(2040, 1, 1, 8))
    cursor = RecurringConfig.objects.get(pk=config.pk).next_fire_at

    with time_machine.travel(utc(2040, 1, 1, 8, 30), tick=False), pytest.raises(DomainError) as refused:
        services.generate_due(config, at=utc(2040, 2, 1, 9), trigger="command")

    assert refused.value.code == "future_instant"
    assert RecurringConfig.objects.get(pk=config.pk).next_fire_at == cursor
    assert not GenerationRun.objects.filter(recurring_config=config).exists()
