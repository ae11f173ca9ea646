"""celery-beat rows follow every save of a config or template (``docs/schedules.md``): one PeriodicTask per
day-field set on a CrontabSchedule in the schedule's zone; disabled while paused, removed when
archived, manual or deleted, absent when per-schedule rows are switched off."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from recurring import beat, tasks
from recurring.models import RecurringConfig
from recurring.services import archive_config, delete_config, pause_config, resume_config, save_config
from tests.factories import make_automatic_template, make_recurring_config, utc
from workflows.models import Task, WorkflowTemplate
from workflows.services import save_template

pytestmark = pytest.mark.django_db


def rows(schedule) -> list[dict]:
    """The schedule's beat rows as comparable dicts, in name order."""
    kind = "recurring" if isinstance(schedule, RecurringConfig) else "template"
    return [
        {
            "name": entry.name,
            "enabled": entry.enabled,
            "task": entry.task,
            "kwargs": json.loads(entry.kwargs),
            "fields": (
                entry.crontab.minute,
                entry.crontab.hour,
                entry.crontab.day_of_month,
                entry.crontab.month_of_year,
                entry.crontab.day_of_week,
            ),
            "timezone": str(entry.crontab.timezone),
        }
        for entry in PeriodicTask.objects.filter(name__startswith=f"{kind}:{schedule.pk}:")
        .select_related("crontab")
        .order_by("name")
    ]


def summary(schedule) -> list[tuple]:
    return [(row["name"].rsplit(":", 1)[1], row["enabled"], row["fields"]) for row in rows(schedule)]


def test_saving_a_config_creates_its_beat_row_in_its_time_zone():
    config = save_config(data={"title": "Slack invites", "cron_expression": "0 9 * * *", "timezone": "Europe/Berlin"})

    assert rows(config) == [
        {
            "name": f"recurring:{config.pk}:0",
            "enabled": True,
            "task": "recurring.tasks.generate_schedule",
            "kwargs": {"kind": "recurring", "id": str(config.pk)},
            "fields": ("0", "9", "*", "*", "*"),
            "timezone": "Europe/Berlin",
        }
    ]


def test_an_expression_restricting_both_day_fields_gets_one_row_per_day_field():
    config = save_config(data={"title": "Reports", "cron_expression": "0 9 1 * MON", "timezone": "UTC"})

    assert summary(config) == [("0", True, ("0", "9", "1", "*", "*")), ("1", True, ("0", "9", "*", "*", "1"))]


def test_changing_the_expression_updates_and_removes_rows():
    config = save_config(data={"title": "Reports", "cron_expression": "0 9 1 * MON", "timezone": "UTC"})

    save_config(config=config, data={"cron_expression": "30 7 * * 1-5", "timezone": "America/New_York"})

    assert summary(config) == [("0", True, ("30", "7", "*", "*", "1-5"))]
    assert rows(config)[0]["timezone"] == "America/New_York"


def test_pause_disables_resume_enables_archive_removes():
    config = save_config(data={"title": "Backup", "cron_expression": "0 10 * * WED", "timezone": "UTC"})

    pause_config(config)
    paused = summary(config)
    resume_config(config)
    resumed = summary(config)
    archive_config(config)

    assert paused == [("0", False, ("0", "10", "*", "*", "3"))]
    assert resumed == [("0", True, ("0", "10", "*", "*", "3"))]
    assert rows(config) == []


def test_deleting_a_config_removes_its_rows_and_unused_crontabs():
    config = save_config(data={"title": "Odd", "cron_expression": "17 5 * * *", "timezone": "Asia/Tokyo"})
    assert CrontabSchedule.objects.filter(minute="17", hour="5", timezone="Asia/Tokyo").exists()

    delete_config(config)

    assert rows(config) == []
    assert not CrontabSchedule.objects.filter(minute="17", hour="5", timezone="Asia/Tokyo").exists()


def test_a_plain_model_save_syncs_the_rows_too():
    config = save_config(data={"title": "Slack invites", "cron_expression": "0 9 * * *", "timezone": "UTC"})

    stored = RecurringConfig.objects.get(pk=config.pk)
    stored.cron_expression = "0 9 1 * MON"
    stored.save()
    both = summary(config)
    stored.enabled = False
    stored.save()

    assert both == [("0", True, ("0", "9", "1", "*", "*")), ("1", True, ("0", "9", "*", "*", "1"))]
    assert [enabled for _, enabled, _ in summary(config)] == [False, False]


def test_a_save_that_changes_nothing_beat_cares_about_leaves_beat_alone():
    config = save_config(data={"title": "Slack invites", "cron_expression": "0 9 * * *", "timezone": "UTC"})
    changed = PeriodicTasks.last_change()

    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)):
        save_config(config=config, data={"area": "Community"})

    assert PeriodicTasks.last_change() == changed


def test_automatic_templates_get_rows_and_manual_ones_none():
    template = make_automatic_template(created=utc(2028, 12, 1, 12), cron="0 9 * * TUE", tz="Europe/Berlin")
    automatic = summary(template)

    template = save_template(template=template, data={"trigger_enabled": False})
    paused = summary(template)
    template = save_template(template=template, data={"trigger_type": "manual", "trigger_enabled": True})

    assert automatic == [("0", True, ("0", "9", "*", "*", "2"))]
    assert paused == [("0", False, ("0", "9", "*", "*", "2"))]
    assert rows(template) == []


def test_a_template_trigger_change_syncs_the_rows():
    template = make_automatic_template(created=utc(2028, 12, 1, 12), cron="0 9 * * TUE")

    stored = WorkflowTemplate.objects.get(pk=template.pk)
    save_template(template=stored, data={"trigger_schedule": "0 8 1 * FRI"})

    assert summary(template) == [("0", True, ("0", "8", "1", "*", "*")), ("1", True, ("0", "8", "*", "*", "5"))]


@pytest.fixture
def beat_syncs(monkeypatch):
    """Every ``beat.sync_beat`` call, by schedule id (the rows are still synced)."""
    original, calls = beat.sync_beat, []

    def counting(schedule):
        calls.append(schedule.pk)
        return original(schedule)

    monkeypatch.setattr(beat, "sync_beat", counting)
    return calls


def test_one_save_template_syncs_beat_exactly_once(beat_syncs):
    template = make_automatic_template(created=utc(2028, 12, 1, 12), cron="0 9 * * TUE")
    created = list(beat_syncs)
    beat_syncs.clear()

    save_template(template=template, data={"trigger_schedule": "0 8 * * FRI"})

    assert created == [template.pk]
    assert beat_syncs == [template.pk]
    assert summary(template) == [("0", True, ("0", "8", "*", "*", "5"))]


def test_one_config_save_syncs_beat_exactly_once(beat_syncs):
    config = save_config(data={"title": "Slack invites", "cron_expression": "0 9 * * *", "timezone": "UTC"})
    created = list(beat_syncs)
    beat_syncs.clear()

    save_config(config=config, data={"cron_expression": "0 10 * * *"})

    assert created == [config.pk]
    assert beat_syncs == [config.pk]


def test_per_schedule_rows_switched_off_leaves_none_and_removes_existing_ones(settings):
    kept = save_config(data={"title": "Before", "cron_expression": "0 9 * * *", "timezone": "UTC"})
    settings.PORTAL_BEAT_PER_SCHEDULE = False

    added = save_config(data={"title": "After", "cron_expression": "0 9 * * *", "timezone": "UTC"})
    still_there = rows(kept)
    beat.sync_all()

    assert rows(added) == [] and len(still_there) == 1
    assert not beat.schedule_entries().exists()


def test_sync_all_restores_missing_rows_and_drops_orphans():
    config = save_config(data={"title": "Daily", "cron_expression": "0 9 * * *", "timezone": "UTC"})
    PeriodicTask.objects.filter(name__startswith="recurring:").delete()
    PeriodicTask.objects.create(
        name="recurring:00000000-0000-0000-0000-000000000000:0",
        task=beat.GENERATE_TASK,
        crontab=CrontabSchedule.objects.create(minute="1"),
    )

    beat.sync_all()

    assert [row["name"] for row in rows(config)] == [f"recurring:{config.pk}:0"]
    assert beat.schedule_entries().count() == 1


def test_the_system_entries_exist_after_migrate():
    entries = {
        entry.name: (entry.task, entry.crontab.minute, entry.crontab.hour, entry.enabled)
        for entry in PeriodicTask.objects.filter(name__startswith="portal: ").select_related("crontab")
    }

    assert entries == {
        "portal: reconcile schedules": ("recurring.tasks.reconcile", "*", "*", True),
        "portal: scan notifications": ("notifications.tasks.scan_notifications", "*/15", "*", True),
        "portal: daily notification digest": ("notifications.tasks.send_daily_digests", "0", "7", True),
        "portal: refresh database statistics": ("recurring.tasks.refresh_database_statistics", "30", "3", True),
    }


def test_refreshing_the_statistics_gives_sqlites_planner_the_task_tables_figures():
    from django.db import connection

    from recurring.tasks import refresh_database_statistics
    from tests.factories import TaskFactory

    for _ in range(3):
        TaskFactory()
    # (On PostgreSQL it does nothing: tests/integration/test_postgres_core.py.)
    assert refresh_database_statistics() == "analyzed"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'workflows_task'")
        assert cursor.fetchone()[0] > 0


def test_ensuring_the_system_entries_respects_an_admin_disabling_one():
    PeriodicTask.objects.filter(name="portal: scan notifications").update(enabled=False)

    beat.ensure_system_entries()

    assert not PeriodicTask.objects.get(name="portal: scan notifications").enabled


# ---- the Celery tasks beat calls ---------------------------------------------------------------


def test_the_beat_entry_kwargs_drive_the_generate_task():
    config = make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *")
    entry = PeriodicTask.objects.get(name=f"recurring:{config.pk}:0")

    with time_machine.travel(utc(2028, 2, 2, 9, 0, 2), tick=False):
        tasks.generate_schedule.apply(kwargs=json.loads(entry.kwargs)).get()
        tasks.generate_schedule.apply(kwargs=json.loads(entry.kwargs)).get()

    assert list(Task.objects.values_list("window_date", flat=True)) == [dt.date(2028, 2, 2)]


def test_the_generate_task_ignores_a_schedule_that_no_longer_exists():
    result = tasks.generate_schedule.apply(kwargs={"kind": "recurring", "id": "00000000-0000-0000-0000-000000000000"})

    assert result.get() is None


def test_the_reconcile_task_generates_what_is_due():
    make_recurring_config(created=utc(2028, 2, 1, 12), cron="0 9 * * *")

    with time_machine.travel(utc(2028, 2, 2, 9, 1), tick=False):
        generated = tasks.reconcile.apply().get()

    assert generated == 1 and Task.objects.count() == 1


# ---- the same rows whichever door the change comes through -------------------------------------


ADMIN_FORM = {
    "title": "Dump Slack",
    "instructions": "",
    "instructions_url": "",
    "cron_expression": "0 10 1 * MON",
    "timezone": "Europe/Berlin",
    "starts_on": "",
    "assignee": "",
    "area": "",
    "priority": "normal",
    "estimate_minutes": "",
    "requires_link": "",
    "enabled": "on",
    "catch_up": "latest",
    "_save": "Save",
}


def test_saving_through_the_admin_leaves_the_right_rows(client, admin_user):
    client.force_login(admin_user)

    client.post("/admin/recurring/recurringconfig/add/", ADMIN_FORM)
    config = RecurringConfig.objects.get(title="Dump Slack")
    created = summary(config)
    client.post(f"/admin/recurring/recurringconfig/{config.pk}/change/", {**ADMIN_FORM, "enabled": ""})

    assert created == [("0", True, ("0", "10", "1", "*", "*")), ("1", True, ("0", "10", "*", "*", "1"))]
    assert rows(config)[0]["timezone"] == "Europe/Berlin"
    assert [enabled for _, enabled, _ in summary(config)] == [False, False]


def test_saving_through_the_api_leaves_the_right_rows(api):
    response = api.post(
        "/api/v1/recurring-configs/",
        {"title": "Sponsor follow-up", "cron_expression": "0 11 * * MON", "timezone": "UTC"},
        format="json",
    )
    assert response.status_code == 201, response.content
    config = RecurringConfig.objects.get(pk=response.json()["id"])
    created = summary(config)

    api.patch(f"/api/v1/recurring-configs/{config.pk}/", {"cron_expression": "0 11 1 * MON"}, format="json")
    both = summary(config)
    api.post(f"/api/v1/recurring-configs/{config.pk}/pause/")
    paused = summary(config)
    api.post(f"/api/v1/recurring-configs/{config.pk}/archive/")

    assert created == [("0", True, ("0", "11", "*", "*", "1"))]
    assert both == [("0", True, ("0", "11", "1", "*", "*")), ("1", True, ("0", "11", "*", "*", "1"))]
    assert [enabled for _, enabled, _ in paused] == [False, False]
    assert rows(config) == []
