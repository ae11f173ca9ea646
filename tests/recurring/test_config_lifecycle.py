"""A config's life: validation on save, pause, resume, archive, delete, the bookkeeping that makes
saving never generate and never reach back, and the reconcile task's cost."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from recurring import services
from recurring.models import GenerationRun, RecurringConfig
from recurring.services import (
    archive_config,
    delete_config,
    generate_due,
    pause_config,
    reconcile,
    resume_config,
    save_config,
)
from tests.factories import make_automatic_template, make_recurring_config, utc
from workflows.errors import DomainError
from workflows.models import Task, WorkflowTemplate

pytestmark = pytest.mark.django_db


def run_schedules(*, at, **kwargs):
    """``services.run_schedules`` as if the clock read ``at``: a pass is never run for the future."""
    with time_machine.travel(at, tick=False):
        return services.run_schedules(at=at, **kwargs)


D = dt.date
VALID = {"title": "Back up the mailing list", "cron_expression": "0 10 * * WED", "timezone": "Europe/Berlin"}


# ---- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"cron_expression": "0 9 * *"}, "invalid_schedule", "5 fields"),
        ({"cron_expression": "@daily"}, "invalid_schedule", "@"),
        ({"cron_expression": "0 9 L * *"}, "invalid_schedule", "L"),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone", "Mars/Olympus"),
        ({"catch_up": "some"}, "validation_error", "catch_up"),
        ({"priority": "whenever"}, "validation_error", "priority"),
        ({"title": "  "}, "validation_error", "title"),
        ({"instructions_url": "ftp://example.com/x"}, "validation_error", "instructions_url"),
        ({"estimate_minutes": -5}, "validation_error", "estimate_minutes"),
        ({"starts_on": "next tuesday"}, "validation_error", "starts_on"),
        ({"assignee": "nobody-by-that-name"}, "unknown_user", "nobody-by-that-name"),
        ({"colour": "red"}, "validation_error", "colour"),
    ],
)
def test_saving_an_invalid_config_is_refused_naming_why_and_writes_nothing(change, code, words):
    from django_celery_beat.models import PeriodicTask

    with pytest.raises(DomainError) as refused:
        save_config(data={**VALID, **change})

    assert refused.value.code == code
    assert words.lower() in refused.value.detail.lower()
    assert not RecurringConfig.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="recurring:").exists()


def test_a_new_config_needs_a_title_and_a_cron_expression():
    with pytest.raises(DomainError) as refused:
        save_config(data={"timezone": "UTC"})

    assert refused.value.code == "validation_error"
    assert refused.value.extra["missing"] == ["title", "cron_expression"]


def test_an_update_of_an_existing_config_is_validated_too():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))

    with pytest.raises(DomainError) as refused:
        save_config(config=RecurringConfig.objects.get(pk=config.pk), data={"cron_expression": "0 9 * * 1#2"})

    assert refused.value.code == "invalid_schedule"
    assert RecurringConfig.objects.get(pk=config.pk).cron_expression == "0 9 * * *"


def test_assignee_may_be_given_as_a_username(operator):
    config = save_config(data={**VALID, "assignee": "olivia"})

    assert config.assignee == operator


# ---- saving never generates, never reaches back -----------------------------------------------


def test_saving_computes_the_next_fire_time_and_generates_nothing():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 10 * * WED", tz="Europe/Berlin")

    assert config.next_fire_at == utc(2028, 2, 2, 9)  # 10:00 CET
    assert not Task.objects.exists() and not GenerationRun.objects.exists()


def test_enabling_a_config_through_save_counts_as_a_resume():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), enabled=False)
    assert config.next_fire_at is None

    with time_machine.travel(utc(2028, 2, 5, 10), tick=False):
        enabled = save_config(config=RecurringConfig.objects.get(pk=config.pk), data={"enabled": True})

    assert enabled.resumed_at == utc(2028, 2, 5, 10)
    assert enabled.next_fire_at == utc(2028, 2, 6, 9)
    assert [r.is_empty for r in run_schedules(at=utc(2028, 2, 5, 10, 5))] == [True]


def test_changing_the_expression_counts_as_a_resume_and_never_reaches_back():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * MON")  # 2028-02-07 is a Monday

    with time_machine.travel(utc(2028, 2, 9, 12), tick=False):
        changed = save_config(config=RecurringConfig.objects.get(pk=config.pk), data={"cron_expression": "0 9 * * *"})

    assert changed.resumed_at == utc(2028, 2, 9, 12)
    assert changed.next_fire_at == utc(2028, 2, 10, 9)
    results = run_schedules(at=utc(2028, 2, 9, 12, 1))
    assert [r.is_empty for r in results] == [True]


def test_editing_other_fields_keeps_the_pending_window():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *")
    # 09:00:20 on 2 February: the window has fired, the scheduler has not run yet.
    with time_machine.travel(utc(2028, 2, 2, 9, 0, 20), tick=False):
        save_config(config=RecurringConfig.objects.get(pk=config.pk), data={"title": "Renamed duty"})

    result = reconcile(at=utc(2028, 2, 2, 9, 1))

    assert [(r.generated, r.windows) for r in result] == [(1, [D(2028, 2, 2)])]
    assert Task.objects.get().title == "Renamed duty"


def test_a_plain_model_save_keeps_the_bookkeeping_in_step():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    with time_machine.travel(utc(2028, 2, 3, 12), tick=False):
        stored = RecurringConfig.objects.get(pk=config.pk)
        stored.enabled = False
        stored.save()
    assert RecurringConfig.objects.get(pk=config.pk).next_fire_at is None

    with time_machine.travel(utc(2028, 2, 4, 12), tick=False):
        stored.enabled = True
        stored.save()

    resumed = RecurringConfig.objects.get(pk=config.pk)
    assert (resumed.resumed_at, resumed.next_fire_at) == (utc(2028, 2, 4, 12), utc(2028, 2, 5, 9))


# ---- pause, resume, archive, delete ----------------------------------------------------------


def test_pause_and_resume_are_idempotent():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    with time_machine.travel(utc(2028, 2, 2, 12), tick=False):
        pause_config(config)
        pause_config(config)
    with time_machine.travel(utc(2028, 2, 3, 12), tick=False):
        resume_config(config)
    with time_machine.travel(utc(2028, 2, 4, 12), tick=False):
        resume_config(config)

    stored = RecurringConfig.objects.get(pk=config.pk)
    assert stored.enabled and stored.resumed_at == utc(2028, 2, 3, 12)


def test_archive_pauses_hides_and_keeps_history():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    generate_due(config, at=utc(2028, 2, 2, 9), trigger="beat")

    with time_machine.travel(utc(2028, 2, 3, 12), tick=False):
        archive_config(config)

    stored = RecurringConfig.objects.get(pk=config.pk)
    assert (stored.enabled, stored.archived_at, stored.next_fire_at) == (False, utc(2028, 2, 3, 12), None)
    assert list(RecurringConfig.objects.active()) == []
    assert Task.objects.filter(recurring_config=config).count() == 1
    with pytest.raises(DomainError) as refused:
        resume_config(stored)
    assert (refused.value.code, refused.value.status) == ("recurring_config_archived", 409)
    with pytest.raises(DomainError) as refused:
        save_config(config=stored, data={"enabled": True})
    assert refused.value.code == "recurring_config_archived"


def test_deleting_a_config_with_generated_tasks_is_refused_with_409():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    generate_due(config, at=utc(2028, 2, 2, 9), trigger="beat")

    with pytest.raises(DomainError) as refused:
        delete_config(config)

    assert (refused.value.code, refused.value.status) == ("recurring_config_has_generated_history", 409)
    assert RecurringConfig.objects.filter(pk=config.pk).exists()


def test_a_config_without_history_can_be_deleted():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))

    delete_config(config)

    assert not RecurringConfig.objects.exists()


# ---- reconcile ---------------------------------------------------------------------------------


def _configs(count: int, *, cron: str) -> list[RecurringConfig]:
    return [make_recurring_config(created=utc(2028, 2, 1, 20), cron=cron) for _ in range(count)]


@pytest.mark.parametrize("idle", [2, 20])
def test_reconcile_with_nothing_due_costs_one_query_per_kind_however_many_schedules_exist(
    idle, django_assert_num_queries
):
    _configs(idle, cron="0 9 * * *")
    make_automatic_template(created=utc(2028, 2, 1, 12))

    with django_assert_num_queries(2):
        assert reconcile(at=utc(2028, 2, 2, 8)) == []


def test_reconcile_generates_only_the_schedules_whose_next_fire_time_has_passed():
    morning = _configs(2, cron="0 9 * * *")
    evening = _configs(3, cron="0 18 * * *")

    results = reconcile(at=utc(2028, 2, 2, 9, 1))

    assert sorted(r.schedule.pk for r in results) == sorted(c.pk for c in morning)
    assert not Task.objects.filter(recurring_config__in=evening).exists()
    assert reconcile(at=utc(2028, 2, 2, 9, 2)) == []


def test_reconcile_picks_up_automatic_templates_too():
    template = make_automatic_template(created=utc(2028, 12, 27, 12))

    results = reconcile(at=utc(2029, 1, 2, 9, 0, 40))

    assert [(r.kind, r.schedule.pk, r.generated) for r in results] == [("template", template.pk, 1)]
    assert WorkflowTemplate.objects.get(pk=template.pk).next_fire_at == utc(2029, 1, 9, 9)
