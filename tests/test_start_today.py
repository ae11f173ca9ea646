"""Start today: the queue's order, skip for now, progress, the streak and typical durations."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from portal.today import start_today, streak
from recurring.models import RecurringConfig
from tests.factories import TaskFactory, UserFactory, launch, make_template, spec
from workflows.history import TYPICAL_MIN_SAMPLES, typical_durations
from workflows.models import Priority, Task, TaskSource, TaskStatus
from workflows.services import instantiate_run, save_template

pytestmark = pytest.mark.django_db

TODAY = dt.date(2028, 2, 9)
NOON = dt.datetime(2028, 2, 9, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _noon(settings):
    settings.PORTAL_TIME_ZONE = "UTC"
    with time_machine.travel(NOON, tick=False):
        yield


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def titles(data) -> list[str]:
    return [task.title for task in data.queue]


def test_queue_puts_follow_ups_due_before_overdue_before_urgent_work_due_today(operator):
    TaskFactory(title="Urgent today", due_date=TODAY, priority=Priority.URGENT, assignee=operator)
    TaskFactory(title="Low today", due_date=TODAY, priority=Priority.LOW, assignee=operator)
    TaskFactory(title="Overdue newer", due_date=TODAY - dt.timedelta(days=1), assignee=operator)
    TaskFactory(title="Overdue older", due_date=TODAY - dt.timedelta(days=5), assignee=operator)
    waiting = TaskFactory(title="Sponsor reply", due_date=TODAY + dt.timedelta(days=9), assignee=operator)
    waiting.mark_waiting(by=operator, waiting_for="Sponsor", follow_up_at=TODAY, note="Asked")
    TaskFactory(title="Not yet due", due_date=TODAY + dt.timedelta(days=1), assignee=operator)

    data = start_today(user=operator, today=TODAY)

    assert titles(data) == ["Sponsor reply", "Overdue older", "Overdue newer", "Urgent today", "Low today"]


def test_queue_holds_my_work_and_unassigned_work_only(operator):
    someone = UserFactory(username="someone")
    TaskFactory(title="Mine", due_date=TODAY, assignee=operator)
    TaskFactory(title="Nobody's", due_date=TODAY)
    TaskFactory(title="Theirs", due_date=TODAY, assignee=someone)

    assert sorted(titles(start_today(user=operator, today=TODAY))) == ["Mine", "Nobody's"]


def test_due_today_orders_by_priority_then_due_time_then_title(operator):
    TaskFactory(title="B normal", due_date=TODAY, assignee=operator)
    TaskFactory(title="A normal late", due_date=TODAY, due_time=dt.time(15), assignee=operator)
    TaskFactory(title="C normal early", due_date=TODAY, due_time=dt.time(9), assignee=operator)
    TaskFactory(title="High", due_date=TODAY, priority=Priority.HIGH, assignee=operator)

    assert titles(start_today(user=operator, today=TODAY)) == ["High", "C normal early", "A normal late", "B normal"]


def test_a_prerequisite_comes_before_its_dependent_and_outside_blockers_go_last(operator):
    template = save_template(
        data={"name": "Newsletter", "stages": ["draft", "review"]},
        tasks=[
            {"ref": "draft", "title": "Draft", "stage": "draft", "offset_days": 0, "priority": "low"},
            {"ref": "review", "title": "Review", "stage": "review", "offset_days": -1, "depends_on": ["draft"]},
            {"ref": "send", "title": "Send", "stage": "review", "offset_days": 3, "depends_on": ["review"]},
            {"ref": "report", "title": "Report", "stage": "review", "offset_days": 0, "depends_on": ["send"]},
        ],
    )
    instantiate_run(template=template, anchor_date=TODAY)
    TaskFactory(title="Other today", due_date=TODAY, assignee=operator)

    data = start_today(user=operator, today=TODAY)

    # Review is overdue but waits for its queued prerequisite; Report waits on Send, which is
    # not in today's queue, so it comes last and is marked blocked.
    assert titles(data) == ["Draft", "Review", "Other today", "Report"]
    report = data.queue[-1]
    assert report.blocked_outside and report.is_blocked
    assert data.queue[1].is_blocked and not data.queue[1].blocked_outside


def test_skip_for_now_moves_tasks_to_the_end_without_changing_them(operator):
    first = TaskFactory(title="First", due_date=TODAY, priority=Priority.URGENT, assignee=operator)
    TaskFactory(title="Second", due_date=TODAY, assignee=operator)
    TaskFactory(title="Third", due_date=TODAY, priority=Priority.LOW, assignee=operator)

    data = start_today(user=operator, today=TODAY, later=[str(first.pk)])

    assert titles(data) == ["Second", "Third", "First"]
    first.refresh_from_db()
    assert first.status == TaskStatus.TODO
    assert titles(start_today(user=operator, today=TODAY)) == ["First", "Second", "Third"]


def test_progress_counts_work_resolved_today_and_the_queue(operator):
    done = TaskFactory(title="Done", due_date=TODAY, assignee=operator)
    done.complete(by=operator)
    skipped = TaskFactory(title="Skipped", due_date=TODAY, assignee=operator)
    skipped.skip(by=operator, reason="Not needed")
    TaskFactory(title="Left", due_date=TODAY, assignee=operator)
    yesterday = TaskFactory(title="Done yesterday", due_date=TODAY, assignee=operator)
    with time_machine.travel(at(TODAY - dt.timedelta(days=1)), tick=False):
        yesterday.complete(by=operator)

    data = start_today(user=operator, today=TODAY)

    assert data.progress == {"resolved": 2, "total": 3}
    assert {t.title for t in data.resolved_today} == {"Done", "Skipped"}


def _resolve(task, day, *, by, hour=10):
    with time_machine.travel(at(day, hour), tick=False):
        task.complete(by=by)


def test_streak_counts_days_with_all_due_work_resolved_and_passes_over_empty_days(operator):
    for offset in (1, 2, 4):  # day -3 has nothing due: it neither counts nor breaks
        day = TODAY - dt.timedelta(days=offset)
        _resolve(TaskFactory(due_date=day, assignee=operator), day, by=operator)
    broken = TODAY - dt.timedelta(days=5)
    TaskFactory(due_date=broken, assignee=operator)  # still open: breaks the streak there
    _resolve(
        TaskFactory(due_date=TODAY - dt.timedelta(days=6), assignee=operator), TODAY - dt.timedelta(days=6), by=operator
    )

    assert streak(user=operator, today=TODAY) == 3


def test_an_open_task_of_a_day_breaks_the_streak_and_late_resolution_does_not_count(operator):
    day = TODAY - dt.timedelta(days=1)
    _resolve(TaskFactory(due_date=day, assignee=operator), day, by=operator)
    late = TaskFactory(due_date=TODAY - dt.timedelta(days=2), assignee=operator)
    _resolve(late, day, by=operator)  # resolved a day after it was due
    _resolve(
        TaskFactory(due_date=TODAY - dt.timedelta(days=3), assignee=operator), TODAY - dt.timedelta(days=3), by=operator
    )

    assert streak(user=operator, today=TODAY) == 1


def test_today_counts_once_all_of_it_is_resolved_and_never_breaks_while_open(operator):
    day = TODAY - dt.timedelta(days=1)
    _resolve(TaskFactory(due_date=day, assignee=operator), day, by=operator)
    today_task = TaskFactory(due_date=TODAY, assignee=operator)
    assert streak(user=operator, today=TODAY) == 1
    today_task.complete(by=operator)
    assert streak(user=operator, today=TODAY) == 2


def _config(**values) -> RecurringConfig:
    return RecurringConfig.objects.create(
        title=values.pop("title", "Slack invites"), cron_expression="0 9 * * *", **values
    )


def _occurrence(config, day, minutes, *, by):
    task = TaskFactory(source=TaskSource.RECURRING, recurring_config=config, window_date=day, due_date=day, assignee=by)
    with time_machine.travel(at(day, 9), tick=False):
        task.start(by=by)
    with time_machine.travel(at(day, 9) + dt.timedelta(minutes=minutes), tick=False):
        task.complete(by=by)
    return task


def test_typical_duration_is_the_median_of_recent_occurrences_once_there_are_three(operator):
    config = _config(estimate_minutes=45)
    for offset, minutes in ((1, 20), (2, 30)):
        _occurrence(config, TODAY - dt.timedelta(days=offset), minutes, by=operator)
    today_task = TaskFactory(
        title="Today's invites",
        source=TaskSource.RECURRING,
        recurring_config=config,
        window_date=TODAY,
        due_date=TODAY,
        assignee=operator,
        estimate_minutes=45,
    )
    assert TYPICAL_MIN_SAMPLES == 3
    queued = start_today(user=operator, today=TODAY).queue
    assert [(t.typical_minutes, t.typical_from_history) for t in queued] == [(45, False)]

    _occurrence(config, TODAY - dt.timedelta(days=3), 600, by=operator)  # capped at 8 hours
    queued = start_today(user=operator, today=TODAY).queue
    assert [(t.pk, t.typical_minutes, t.typical_from_history) for t in queued] == [(today_task.pk, 30, True)]
    assert start_today(user=operator, today=TODAY).expected_minutes == 30


def test_typical_duration_ignores_occurrences_older_than_ninety_days(operator):
    config = _config()
    for offset in (1, 2, 120):
        _occurrence(config, TODAY - dt.timedelta(days=offset), 10, by=operator)
    assert typical_durations([("config", config.pk)], now=timezone.now()) == {}


def test_an_occurrence_of_a_config_counts_for_the_config_only_even_inside_a_run(operator):
    config = _config()
    template = make_template(spec("b"))
    for offset in (1, 2, 3, 4):
        done = _occurrence(config, TODAY - dt.timedelta(days=offset), 10 * offset, by=operator)
        if offset > 2:  # two of the four were also generated inside a run of the template
            run = launch(template, TODAY + dt.timedelta(days=30 + offset))
            Task.objects.filter(pk=done.pk).update(run=run, template_task_ref="occurrence")

    typical = typical_durations([("config", config.pk), ("template", template.pk, "occurrence")], now=timezone.now())

    # 10, 20, 30 and 40 minutes, each once: the median is 25 (counted twice, 30 and 40 would make it 35)
    assert typical == {("config", config.pk): 25}


def test_start_today_uses_a_constant_number_of_queries(operator, django_assert_max_num_queries):
    def build(n):
        for i in range(n):
            TaskFactory(due_date=TODAY - dt.timedelta(days=i % 3), assignee=operator)

    build(3)
    with django_assert_max_num_queries(8) as small:
        start_today(user=operator, today=TODAY)
    build(60)
    with django_assert_max_num_queries(len(small.captured_queries)):
        start_today(user=operator, today=TODAY)


def test_the_task_page_shows_the_typical_time_from_history(client, operator):
    config = _config(estimate_minutes=45)
    for offset, minutes in ((1, 20), (2, 30), (3, 40)):
        _occurrence(config, TODAY - dt.timedelta(days=offset), minutes, by=operator)
    task = TaskFactory(
        source=TaskSource.RECURRING,
        recurring_config=config,
        window_date=TODAY,
        due_date=TODAY,
        assignee=operator,
        estimate_minutes=45,
    )
    client.force_login(operator)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "usually ~30 min" in page and "estimate 45 min" in page
