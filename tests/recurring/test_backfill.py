"""Backfill (``docs/schedules.md``): explicit ranges, dry runs that write nothing, idempotency, pause
watermarks ignored, starts_on and the future respected, one summary notification, bulk writes."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification, NotificationType
from recurring import services
from recurring.models import GenerationRun, GenerationTrigger, RecurringConfig
from recurring.services import archive_config, backfill, generate_due, pause_config, resume_config
from tests.factories import make_automatic_template, make_recurring_config, utc
from workflows.errors import DomainError
from workflows.models import Run, Task

pytestmark = pytest.mark.django_db


def run_schedules(*, at, **kwargs):
    """``services.run_schedules`` as if the clock read ``at``: a pass is never run for the future."""
    with time_machine.travel(at, tick=False):
        return services.run_schedules(at=at, **kwargs)


D = dt.date


def windows_of(config: RecurringConfig) -> list[dt.date]:
    return sorted(Task.objects.filter(recurring_config=config).values_list("window_date", flat=True))


def test_a_backfill_over_paused_months_previews_then_creates_exactly_those_windows():
    config = make_recurring_config(created=utc(2028, 1, 15, 12), title="Dump Slack", cron="0 10 1 * *")
    generate_due(config, at=utc(2028, 2, 1, 10), trigger=GenerationTrigger.BEAT)
    with time_machine.travel(utc(2028, 2, 10, 12), tick=False):
        pause_config(config)
    with time_machine.travel(utc(2028, 4, 20, 12), tick=False):
        resume_config(config)
    run_schedules(at=utc(2028, 5, 1, 10))

    with time_machine.travel(utc(2028, 5, 2, 12), tick=False):
        preview = backfill(config, start=D(2028, 2, 1), end=D(2028, 5, 1), dry_run=True)
        assert windows_of(config) == [D(2028, 2, 1), D(2028, 5, 1)]
        done = backfill(config, start=D(2028, 2, 1), end=D(2028, 5, 1))

    assert (preview.dry_run, preview.windows, preview.existing) == (
        True,
        [D(2028, 3, 1), D(2028, 4, 1)],
        [D(2028, 2, 1), D(2028, 5, 1)],
    )
    assert (preview.generated, preview.skipped) == (2, 2)
    assert (done.generated, done.skipped, done.windows) == (2, 2, [D(2028, 3, 1), D(2028, 4, 1)])
    assert windows_of(config) == [D(2028, 2, 1), D(2028, 3, 1), D(2028, 4, 1), D(2028, 5, 1)]
    assert sorted(Task.objects.filter(pk__in=done.task_ids).values_list("due_date", flat=True)) == [
        D(2028, 3, 1),
        D(2028, 4, 1),
    ]


def test_a_dry_run_writes_nothing(operator):
    config = make_recurring_config(created=utc(2028, 1, 1, 8), assignee=operator)
    counts = (GenerationRun.objects.count(), Notification.objects.count())

    with time_machine.travel(utc(2028, 1, 20, 12), tick=False):
        preview = backfill(config, start=D(2028, 1, 1), end=D(2028, 1, 10), dry_run=True)

    assert preview.generated == 10 and preview.generation_run is None
    assert not Task.objects.exists()
    assert (GenerationRun.objects.count(), Notification.objects.count()) == counts


def test_a_backfill_is_idempotent():
    config = make_recurring_config(created=utc(2028, 1, 1, 8))
    with time_machine.travel(utc(2028, 1, 20, 12), tick=False):
        first = backfill(config, start=D(2028, 1, 1), end=D(2028, 1, 10))
        second = backfill(config, start=D(2028, 1, 5), end=D(2028, 1, 12))

    assert (first.generated, first.skipped) == (10, 0)
    assert (second.generated, second.skipped, second.windows) == (2, 6, [D(2028, 1, 11), D(2028, 1, 12)])
    assert len(windows_of(config)) == 12
    run = second.generation_run
    assert (run.trigger, run.range_start, run.range_end, run.generated, run.skipped) == (
        GenerationTrigger.BACKFILL,
        D(2028, 1, 5),
        D(2028, 1, 12),
        2,
        6,
    )


def test_a_backfill_works_on_a_paused_config_without_resuming_it():
    config = make_recurring_config(created=utc(2028, 1, 1, 8))
    with time_machine.travel(utc(2028, 1, 2, 12), tick=False):
        pause_config(config)

    with time_machine.travel(utc(2028, 1, 20, 12), tick=False):
        result = backfill(config, start=D(2028, 1, 3), end=D(2028, 1, 6))

    assert result.generated == 4
    stored = RecurringConfig.objects.get(pk=config.pk)
    assert (stored.enabled, stored.resumed_at, stored.next_fire_at) == (False, None, None)


def test_a_backfill_is_bounded_by_starts_on_and_says_so():
    config = make_recurring_config(created=utc(2028, 1, 1, 8), starts_on=D(2028, 1, 10))

    with time_machine.travel(utc(2028, 1, 20, 12), tick=False):
        result = backfill(config, start=D(2028, 1, 1), end=D(2028, 1, 12), dry_run=True)

    assert result.windows == [D(2028, 1, 10), D(2028, 1, 11), D(2028, 1, 12)]
    assert any("2028-01-10" in note for note in result.notes)


def test_a_backfill_leaves_out_windows_whose_fire_time_is_still_ahead_and_says_so():
    config = make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 9 * * *")

    with time_machine.travel(utc(2028, 1, 10, 8, 59), tick=False):
        result = backfill(config, start=D(2028, 1, 8), end=D(2028, 1, 12))

    assert result.windows == [D(2028, 1, 8), D(2028, 1, 9)]
    assert result.future_windows == [D(2028, 1, 10), D(2028, 1, 11), D(2028, 1, 12)]
    assert any("still ahead" in note for note in result.notes)
    assert windows_of(config) == [D(2028, 1, 8), D(2028, 1, 9)]


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (D(2028, 1, 10), D(2028, 1, 9), "invalid_range"),
        (D(2027, 1, 1), D(2028, 1, 2), "backfill_range_too_long"),
    ],
)
def test_a_bad_backfill_range_is_refused_and_changes_nothing(start, end, code):
    config = make_recurring_config(created=utc(2026, 1, 1, 8))

    with pytest.raises(DomainError) as refused:
        backfill(config, start=start, end=end)

    assert refused.value.code == code
    assert start.isoformat() in refused.value.detail and end.isoformat() in refused.value.detail
    assert not Task.objects.exists() and not GenerationRun.objects.exists()


def test_a_backfill_of_exactly_366_days_is_accepted():
    config = make_recurring_config(created=utc(2026, 1, 1, 8), cron="0 9 1 * *")

    with time_machine.travel(utc(2029, 1, 1, 12), tick=False):
        result = backfill(config, start=D(2028, 1, 1), end=D(2028, 12, 31), dry_run=True)

    assert result.generated == 12


def test_a_backfill_of_an_archived_config_is_refused_with_409():
    config = make_recurring_config(created=utc(2028, 1, 1, 8))
    archive_config(config)

    with pytest.raises(DomainError) as refused:
        backfill(config, start=D(2028, 1, 1), end=D(2028, 1, 5))

    assert (refused.value.code, refused.value.status) == ("recurring_config_archived", 409)


def test_a_backfill_raises_one_summary_notification_not_one_per_task(operator):
    config = make_recurring_config(created=utc(2028, 1, 1, 8), assignee=operator)

    with time_machine.travel(utc(2028, 2, 20, 12), tick=False):
        result = backfill(config, start=D(2028, 1, 1), end=D(2028, 1, 31))
        again = backfill(config, start=D(2028, 1, 1), end=D(2028, 1, 31))

    notices = Notification.objects.filter(type=NotificationType.RECURRING_DUE)
    assert result.generated == 31 and again.generated == 0
    assert notices.count() == 1
    notice = notices.get()
    assert (notice.recipient, notice.recurring_config_id) == (operator, config.pk)
    assert "31 task(s)" in notice.title


def test_a_backfill_writes_tasks_in_bulk_without_per_window_queries():
    short = make_recurring_config(created=utc(2027, 1, 1, 8))
    long = make_recurring_config(created=utc(2027, 1, 1, 8))

    def other_queries(config, end):
        with CaptureQueriesContext(connection) as captured, time_machine.travel(utc(2028, 2, 1), tick=False):
            result = backfill(config, start=D(2027, 1, 1), end=end)
        inserts = [
            q
            for q in captured.captured_queries
            if q["sql"].startswith("INSERT") and 'INTO "workflows_task"' in q["sql"]
        ]
        return result.generated, len(captured.captured_queries) - len(inserts)

    assert other_queries(short, D(2027, 1, 10)) == (10, other_queries(long, D(2027, 12, 31))[1])
    assert Task.objects.filter(recurring_config=long).count() == 365


# ---- templates ---------------------------------------------------------------------------------


def test_a_template_backfill_works_in_trigger_dates_and_tops_up_existing_runs(operator):
    template = make_automatic_template(created=utc(2028, 12, 1, 12), cron="0 9 * * TUE", lead_days=7)
    with time_machine.travel(utc(2029, 1, 10, 12), tick=False):
        first = backfill(template, start=D(2029, 1, 1), end=D(2029, 1, 3))
    Task.objects.get(run__anchor_date=D(2029, 1, 9), template_task_ref="send").delete()

    with time_machine.travel(utc(2029, 1, 20, 12), tick=False):
        preview = backfill(template, start=D(2028, 12, 25), end=D(2029, 1, 10), dry_run=True)
        done = backfill(template, start=D(2028, 12, 25), end=D(2029, 1, 10))

    assert (first.generated, first.windows) == (1, [D(2029, 1, 2)])
    assert (preview.windows, preview.existing, preview.recovered) == (
        [D(2028, 12, 26), D(2029, 1, 9)],
        [D(2029, 1, 2)],
        1,
    )
    assert (done.generated, done.skipped, done.recovered) == (2, 1, 1)
    anchors = sorted(Run.objects.filter(template=template).values_list("anchor_date", flat=True))
    assert anchors == [D(2029, 1, 2), D(2029, 1, 9), D(2029, 1, 16)]
    assert Task.objects.filter(run__template=template).count() == 6
    assert len(done.run_ids) == 3


def test_a_manual_template_cannot_be_backfilled():
    template = make_automatic_template(created=utc(2028, 12, 1, 12), trigger_type="manual")

    with pytest.raises(DomainError) as refused:
        backfill(template, start=D(2029, 1, 1), end=D(2029, 1, 3))

    assert refused.value.code == "template_not_automatic"
