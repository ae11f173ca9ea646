"""Scheduler passes: nothing is persisted for an instant after now, concurrent passes decide a
window once, and catch-up ``all`` reports what this pass found rather than its whole range."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from recurring import services
from recurring.models import GenerationRun, RecurringConfig
from recurring.services import reconcile
from tests.factories import make_automatic_template, make_recurring_config, utc
from workflows.models import WorkflowTemplate

pytestmark = pytest.mark.django_db

D = dt.date


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
