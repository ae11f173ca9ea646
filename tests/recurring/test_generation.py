"""The scheduler for configs and automatic templates: windows due at an instant, exactly once,
creation/pause/resume watermarks, catch-up policies, DST, and what each pass records."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from notifications.models import Notification, NotificationType
from recurring import services
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from recurring.services import generate_due, pause_config, reconcile, resume_config
from tests.factories import make_automatic_template, make_recurring_config, utc
from workflows.models import Run, Task, TaskSource

pytestmark = pytest.mark.django_db


def by_hand(schedule, *, at):
    """``generate_due`` as a person's pass (the command), as if the clock read ``at``."""
    with time_machine.travel(at, tick=False):
        return generate_due(schedule, at=at, trigger=GenerationTrigger.COMMAND)


def run_schedules(*, at, **kwargs):
    """``services.run_schedules`` as if the clock read ``at``: a pass is never run for the future."""
    with time_machine.travel(at, tick=False):
        return services.run_schedules(at=at, **kwargs)


D = dt.date


def fresh(config: RecurringConfig) -> RecurringConfig:
    """The config as another process would load it."""
    return RecurringConfig.objects.get(pk=config.pk)


# ---- one window, exactly once ------------------------------------------------------------


def test_generating_a_daily_window_twice_creates_one_task_and_reports_one_skipped_duplicate(operator):
    config = make_recurring_config(
        created=utc(2028, 2, 1, 12),
        title="Handle new Slack invite requests",
        cron="0 9 * * *",
        assignee=operator,
        instructions="Invite each approved person.",
        instructions_url="https://airtable.example/invites",
        area="Community",
        priority="high",
        estimate_minutes=15,
        requires_link="Airtable view",
        requires_proof_note=True,
    )
    fire = utc(2028, 2, 2, 9)

    first = generate_due(fresh(config), at=fire, trigger=GenerationTrigger.BEAT)
    second = generate_due(fresh(config), at=fire, trigger=GenerationTrigger.BEAT)

    task = Task.objects.get(recurring_config=config)
    assert (first.generated, first.skipped, first.windows) == (1, 0, [D(2028, 2, 2)])
    assert (second.generated, second.skipped, second.existing) == (0, 1, [D(2028, 2, 2)])
    assert first.task_ids == [task.pk] and second.task_ids == []
    assert task.source == TaskSource.RECURRING
    assert (task.window_date, task.due_date, task.assignee) == (D(2028, 2, 2), D(2028, 2, 2), operator)
    assert (task.title, task.instructions, task.instructions_url) == (
        "Handle new Slack invite requests",
        "Invite each approved person.",
        "https://airtable.example/invites",
    )
    assert (task.area, task.priority, task.estimate_minutes) == ("Community", "high", 15)
    assert (task.requires_link, task.requires_file, task.requires_proof_note) == ("Airtable view", False, True)
    assert task.source_label == "Recurring · Handle new Slack invite requests"
    runs = list(GenerationRun.objects.filter(recurring_config=config).order_by("started_at"))
    assert [(r.status, r.generated, r.skipped, r.windows, r.skipped_windows) for r in runs] == [
        (GenerationStatus.SUCCESS, 1, 0, ["2028-02-02"], []),
    ]


def test_a_generated_recurring_task_notifies_its_assignee_once(operator):
    config = make_recurring_config(created=utc(2028, 2, 1, 12), assignee=operator)
    fire = utc(2028, 2, 2, 9)

    generate_due(fresh(config), at=fire, trigger=GenerationTrigger.BEAT)
    generate_due(fresh(config), at=fire, trigger=GenerationTrigger.BEAT)

    task = Task.objects.get(recurring_config=config)
    notice = Notification.objects.get(type=NotificationType.RECURRING_DUE)
    assert (notice.recipient, notice.task_id, notice.recurring_config_id) == (operator, task.pk, config.pk)
    assert notice.dedup_key == f"recurring-due:{task.pk}"
    assert notice.window_date == D(2028, 2, 2)


def test_nothing_is_generated_before_the_window_fires():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *")

    result = generate_due(fresh(config), at=utc(2028, 2, 2, 8, 59, 59), trigger=GenerationTrigger.BEAT)

    assert result.is_empty and result.generation_run is None
    assert not Task.objects.exists() and not GenerationRun.objects.exists()


def test_a_successful_pass_moves_next_fire_at_to_the_following_window():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * 1-5")  # 2028-02-04 is a Friday
    assert config.next_fire_at == utc(2028, 2, 2, 9)

    generate_due(fresh(config), at=utc(2028, 2, 4, 9, 0, 30), trigger=GenerationTrigger.RECONCILE)

    assert fresh(config).next_fire_at == utc(2028, 2, 7, 9)


def test_a_pass_at_an_earlier_instant_never_moves_next_fire_at_back():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    generate_due(fresh(config), at=utc(2028, 2, 5, 9), trigger=GenerationTrigger.RECONCILE)

    by_hand(fresh(config), at=utc(2028, 2, 3, 9))

    assert fresh(config).next_fire_at == utc(2028, 2, 6, 9)


# ---- pause and resume ---------------------------------------------------------------------


def test_a_weekly_backup_paused_before_wednesday_gets_no_task_that_wednesday():
    config = make_recurring_config(created=utc(2028, 1, 31, 12), title="Back up the mailing list", cron="0 10 * * WED")
    generate_due(fresh(config), at=utc(2028, 2, 2, 10), trigger=GenerationTrigger.BEAT)
    earlier = Task.objects.get(recurring_config=config)
    with time_machine.travel(utc(2028, 2, 5, 12), tick=False):
        pause_config(fresh(config))

    results = run_schedules(at=utc(2028, 2, 9, 10, 5))
    reconciled = reconcile(at=utc(2028, 2, 9, 10, 5))
    beat_tick = generate_due(fresh(config), at=utc(2028, 2, 9, 10), trigger=GenerationTrigger.BEAT)

    assert [r.schedule.pk for r in results] == [] and reconciled == []
    assert beat_tick.is_empty
    assert list(Task.objects.filter(recurring_config=config)) == [earlier]
    unchanged = Task.objects.get(pk=earlier.pk)
    assert (unchanged.status, unchanged.updated_at, unchanged.window_date) == (
        earlier.status,
        earlier.updated_at,
        D(2028, 2, 2),
    )
    assert fresh(config).is_paused and fresh(config).next_fire_at is None


def test_a_daily_duty_resumed_after_its_fire_time_next_generates_tomorrow():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *")
    with time_machine.travel(utc(2028, 2, 2, 8), tick=False):
        pause_config(fresh(config))
    with time_machine.travel(utc(2028, 2, 5, 10), tick=False):
        resume_config(fresh(config))

    same_day = run_schedules(at=utc(2028, 2, 5, 10, 5))
    tomorrow = run_schedules(at=utc(2028, 2, 6, 9))

    assert [r.is_empty for r in same_day] == [True]
    assert [(r.generated, r.missed, r.windows) for r in tomorrow] == [(1, 0, [D(2028, 2, 6)])]
    assert list(Task.objects.values_list("window_date", flat=True)) == [D(2028, 2, 6)]


def test_a_monthly_dump_paused_for_two_months_generates_nothing_for_them_and_the_next_first_once():
    config = make_recurring_config(created=utc(2028, 1, 15, 12), title="Dump Slack", cron="0 10 1 * *")
    generate_due(fresh(config), at=utc(2028, 2, 1, 10), trigger=GenerationTrigger.BEAT)
    with time_machine.travel(utc(2028, 2, 10, 12), tick=False):
        pause_config(fresh(config))
    run_schedules(at=utc(2028, 3, 1, 10))
    run_schedules(at=utc(2028, 4, 1, 10))
    with time_machine.travel(utc(2028, 4, 20, 12), tick=False):
        resume_config(fresh(config))

    after_resume = run_schedules(at=utc(2028, 4, 20, 12, 1))
    next_first = reconcile(at=utc(2028, 5, 1, 10, 0, 30))

    assert [r.is_empty for r in after_resume] == [True]
    assert [(r.generated, r.missed, r.windows) for r in next_first] == [(1, 0, [D(2028, 5, 1)])]
    windows = sorted(Task.objects.filter(recurring_config=config).values_list("window_date", flat=True))
    assert windows == [D(2028, 2, 1), D(2028, 5, 1)]
    assert not Notification.objects.filter(type=NotificationType.MISSED_WINDOWS).exists()


# ---- creation counts as a resume ---------------------------------------------------------


def test_windows_before_the_creation_are_never_generated_or_reported_missed():
    config = make_recurring_config(created=utc(2028, 2, 2, 10), cron="0 9 * * *", starts_on=D(2028, 1, 1))

    creation_day = run_schedules(at=utc(2028, 2, 2, 10, 5))
    next_day = run_schedules(at=utc(2028, 2, 3, 9))

    assert [r.is_empty for r in creation_day] == [True]
    assert [(r.generated, r.missed, r.missed_windows) for r in next_day] == [(1, 0, [])]
    assert list(Task.objects.filter(recurring_config=config).values_list("window_date", flat=True)) == [D(2028, 2, 3)]
    assert not Notification.objects.filter(type=NotificationType.MISSED_WINDOWS).exists()


def test_windows_before_starts_on_are_not_generated():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *", starts_on=D(2028, 2, 10))
    assert config.next_fire_at == utc(2028, 2, 10, 9)

    early = run_schedules(at=utc(2028, 2, 5, 9))
    on_start = run_schedules(at=utc(2028, 2, 10, 9))

    assert [r.is_empty for r in early] == [True]
    assert [r.windows for r in on_start] == [[D(2028, 2, 10)]]


def test_starts_on_defaults_to_the_creation_date_in_the_schedule_zone():
    # 23:30 UTC on 1 February is already 2 February in Berlin.
    config = make_recurring_config(created=utc(2028, 2, 1, 23, 30), tz="Europe/Berlin")

    assert config.starts_on == D(2028, 2, 2)


# ---- missed windows and catch-up -----------------------------------------------------------


def test_catch_up_latest_generates_only_the_most_recent_missed_window_and_offers_a_backfill(operator, admin_user):
    config = make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 9 * * *", catch_up="latest", assignee=operator)

    result = generate_due(fresh(config), at=utc(2028, 1, 5, 9, 30), trigger=GenerationTrigger.RECONCILE)

    assert (result.generated, result.windows) == (1, [D(2028, 1, 5)])
    assert (result.missed, result.missed_windows) == (4, [D(2028, 1, 1), D(2028, 1, 2), D(2028, 1, 3), D(2028, 1, 4)])
    assert result.generation_run.missed_windows == ["2028-01-01", "2028-01-02", "2028-01-03", "2028-01-04"]
    notices = Notification.objects.filter(type=NotificationType.MISSED_WINDOWS)
    assert sorted(n.recipient.username for n in notices) == ["adam", "olivia"]
    notice = notices.get(recipient=operator)
    assert notice.recurring_config_id == config.pk
    assert "backfill" in notice.body and "2028-01-01" in notice.body
    assert notice.link.endswith("?start_date=2028-01-01&end_date=2028-01-04")


def test_catch_up_all_generates_every_missed_window_within_31_days_and_reports_older_ones_missed():
    config = make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 9 * * *", catch_up="all")

    result = generate_due(fresh(config), at=utc(2028, 2, 10, 9, 30), trigger=GenerationTrigger.RECONCILE)

    assert result.generated == 32  # 2028-01-10 … 2028-02-10: dated within 31 days before 10 February
    assert (result.windows[0], result.windows[-1]) == (D(2028, 1, 10), D(2028, 2, 10))
    assert result.missed_windows == [D(2028, 1, day) for day in range(1, 10)]
    assert Task.objects.filter(recurring_config=config).count() == 32


def test_catch_up_all_within_range_generates_every_missed_window():
    config = make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 9 * * *", catch_up="all")

    result = generate_due(fresh(config), at=utc(2028, 1, 5, 9, 30), trigger=GenerationTrigger.RECONCILE)

    assert (result.generated, result.missed) == (5, 0)
    assert result.windows == [D(2028, 1, day) for day in range(1, 6)]


def test_missed_windows_are_reported_once_not_on_every_later_pass(admin_user):
    config = make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 9 * * *")
    generate_due(fresh(config), at=utc(2028, 1, 5, 9, 30), trigger=GenerationTrigger.RECONCILE)

    again = by_hand(fresh(config), at=utc(2028, 1, 5, 9, 30))
    next_day = generate_due(fresh(config), at=utc(2028, 1, 6, 9), trigger=GenerationTrigger.BEAT)

    assert (again.generated, again.skipped, again.missed) == (0, 1, 0)
    assert (next_day.generated, next_day.missed) == (1, 0)
    assert Notification.objects.filter(type=NotificationType.MISSED_WINDOWS, recipient=admin_user).count() == 1


def test_rerunning_the_scheduler_at_the_same_instant_reports_the_existing_due_windows_as_skipped():
    config = make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 9 * * *", catch_up="all")
    at = utc(2028, 1, 5, 9, 30)
    generate_due(fresh(config), at=at, trigger=GenerationTrigger.RECONCILE)

    again = by_hand(fresh(config), at=at)

    assert (again.generated, again.skipped, again.missed) == (0, 5, 0)
    assert again.existing == [D(2028, 1, day) for day in range(1, 6)]


# ---- OR day rules and DST ------------------------------------------------------------------


def test_or_day_rule_generates_on_the_first_of_the_month_and_on_mondays():
    config = make_recurring_config(created=utc(2028, 1, 27, 12), cron="0 9 1 * MON", catch_up="all")

    generate_due(fresh(config), at=utc(2028, 2, 14, 9), trigger=GenerationTrigger.RECONCILE)

    windows = sorted(Task.objects.filter(recurring_config=config).values_list("window_date", flat=True))
    assert windows == [D(2028, 1, 31), D(2028, 2, 1), D(2028, 2, 7), D(2028, 2, 14)]


def _reconcile_every(minutes: int, *, start: dt.datetime, end: dt.datetime) -> None:
    at = start
    while at <= end:
        reconcile(at=at)
        at += dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("created", "days", "first_fire"),
    [
        # Spring forward: 02:30 does not exist on 29 March; the window fires at 03:00 CEST.
        (utc(2026, 3, 27, 0), [D(2026, 3, 27), D(2026, 3, 28), D(2026, 3, 29), D(2026, 3, 30)], utc(2026, 3, 29, 1)),
        # Fall back: 02:30 happens twice on 25 October; the window fires at the first one.
        (
            utc(2026, 10, 23, 0),
            [D(2026, 10, 23), D(2026, 10, 24), D(2026, 10, 25), D(2026, 10, 26)],
            utc(2026, 10, 25, 0, 30),
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_dst_changes_in_berlin_yield_exactly_one_task_per_date(created, days, first_fire):
    config = make_recurring_config(created=created, cron="30 2 * * *", tz="Europe/Berlin")

    _reconcile_every(30, start=created, end=created + dt.timedelta(days=4))

    tasks = list(Task.objects.filter(recurring_config=config).order_by("window_date"))
    assert [t.window_date for t in tasks] == days
    assert [t.due_date for t in tasks] == days
    dst_day = GenerationRun.objects.get(recurring_config=config, windows=[days[2].isoformat()])
    assert first_fire <= dst_day.at < first_fire + dt.timedelta(minutes=30)


# ---- automatic templates -------------------------------------------------------------------


def test_template_trigger_date_plus_lead_days_anchors_the_run_and_offsets_the_task_due_dates(operator):
    template = make_automatic_template(created=utc(2028, 12, 27, 12), cron="0 9 * * TUE", lead_days=7)

    result = generate_due(template, at=utc(2029, 1, 2, 9), trigger=GenerationTrigger.BEAT)

    run = Run.objects.get(template=template)
    assert (run.anchor_date, run.trigger_date) == (D(2029, 1, 9), D(2029, 1, 2))
    due = dict(run.tasks.values_list("template_task_ref", "due_date"))
    assert due == {"draft": D(2029, 1, 7), "send": D(2029, 1, 9)}
    assert (result.kind, result.generated, result.windows, result.run_ids) == ("template", 1, [D(2029, 1, 2)], [run.pk])
    assert sorted(result.task_ids) == sorted(run.tasks.values_list("pk", flat=True))
    assert (result.missed, result.skipped) == (0, 0)
    assert Notification.objects.filter(type=NotificationType.WORKFLOW_CREATED, run=run, recipient=operator).exists()


def test_template_generated_twice_yields_one_run_and_a_deleted_task_is_recovered_next_time():
    template = make_automatic_template(created=utc(2028, 12, 20, 12))
    at = utc(2029, 1, 2, 9)
    generate_due(template, at=at, trigger=GenerationTrigger.BEAT)

    second = generate_due(template, at=at, trigger=GenerationTrigger.RECONCILE)
    Task.objects.get(run__template=template, template_task_ref="draft").delete()
    third = by_hand(template, at=at)

    assert Run.objects.filter(template=template).count() == 1
    assert (second.generated, second.skipped, second.recovered) == (0, 1, 0)
    assert (third.generated, third.skipped, third.recovered) == (0, 1, 1)
    assert sorted(Task.objects.filter(run__template=template).values_list("template_task_ref", flat=True)) == [
        "draft",
        "send",
    ]
    assert third.generation_run.recovered == 1


def test_a_paused_template_generates_nothing():
    template = make_automatic_template(created=utc(2028, 12, 20, 12))
    with time_machine.travel(utc(2028, 12, 30, 12), tick=False):
        template.trigger_enabled = False
        template.save()

    assert generate_due(template, at=utc(2029, 1, 2, 9), trigger=GenerationTrigger.BEAT).is_empty
    assert run_schedules(at=utc(2029, 1, 2, 9)) == []
    assert not Run.objects.exists()


def test_run_schedules_covers_configs_and_automatic_templates():
    config = make_recurring_config(created=utc(2028, 12, 20, 12), title="Daily check")
    template = make_automatic_template(created=utc(2028, 12, 20, 12), name="Weekly newsletter")

    results = run_schedules(at=utc(2029, 1, 2, 9, 30))

    assert [(r.kind, r.schedule.pk, r.generated) for r in results] == [
        ("recurring", config.pk, 1),
        ("template", template.pk, 1),
    ]
