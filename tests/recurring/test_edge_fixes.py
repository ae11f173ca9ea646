"""Edge cases of the scheduler's outer layers: e-mail that cannot be sent or enqueued, strict
dates and instants, extreme dates, one-line command errors, and telling why nothing happened."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command

from notifications import delivery, tasks
from notifications.models import ChannelPreference, Notification, NotificationType
from notifications.scanner import scan
from recurring import cron, services
from recurring.models import GenerationRun, GenerationStatus
from tests.factories import OperatorFactory, TaskFactory, make_recurring_config, utc
from workflows.errors import DomainError

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NOW = utc(2028, 3, 1, 12)
DUE = dt.date(2028, 3, 1)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def prefer_immediate(user, type_: str = NotificationType.TASK_DUE) -> None:
    ChannelPreference.objects.create(user=user, type=type_, email=ChannelPreference.Email.IMMEDIATE)


def single_line(exc: CommandError) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


# -- e-mail delivery ----------------------------------------------------------------------------


def test_an_enqueue_failure_after_commit_is_logged_not_raised(operator, monkeypatch, caplog):
    prefer_immediate(operator)
    TaskFactory(due_date=DUE, assignee=operator)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.send_notification_emails, "delay", broker_down)
    with caplog.at_level(logging.ERROR, logger="portal.notifications"):
        delivery._enqueue(["x"])  # what the commit hook runs
    [record] = [r for r in caplog.records if r.name == "portal.notifications"]
    assert record.operation == "enqueue_email" and record.notification_ids == ["x"]


def test_the_commit_hook_survives_a_broker_outage(operator, monkeypatch, django_capture_on_commit_callbacks):
    prefer_immediate(operator)
    TaskFactory(due_date=DUE, assignee=operator)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.send_notification_emails, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        scan(NOW)

    assert len(callbacks) == 1
    assert Notification.objects.get(recipient=operator).emailed_at is None


def test_one_failing_address_does_not_stop_the_other_emails(operator, monkeypatch, caplog):
    other = OperatorFactory(username="otto", email="otto@example.org")
    for user in (operator, other):
        prefer_immediate(user)
        TaskFactory(due_date=DUE, assignee=user)
    scan(NOW)
    real_send = delivery.send_mail

    def refuse_operator(subject, body, sender, recipients, **kwargs):
        if recipients == [operator.email]:
            raise OSError("mailbox unavailable")
        return real_send(subject, body, sender, recipients, **kwargs)

    monkeypatch.setattr(delivery, "send_mail", refuse_operator)
    ids = [str(pk) for pk in Notification.objects.values_list("pk", flat=True)]
    with caplog.at_level(logging.ERROR, logger="portal.notifications"):
        sent = delivery.send_emails(ids)

    assert sent == 1
    assert [m.to for m in mail.outbox] == [[other.email]]
    assert Notification.objects.get(recipient=operator).emailed_at is None
    assert Notification.objects.get(recipient=other).emailed_at is not None
    assert any(getattr(r, "operation", None) == "send_email" for r in caplog.records)


def test_the_email_task_retries_what_failed(operator, monkeypatch):
    prefer_immediate(operator)
    TaskFactory(due_date=DUE, assignee=operator)
    scan(NOW)
    real_send = delivery.send_mail
    attempts = []

    def fail_once(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("temporary failure")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(delivery, "send_mail", fail_once)
    ids = [str(pk) for pk in Notification.objects.values_list("pk", flat=True)]

    # throw=False lets eager mode run the retry instead of raising it (a worker would requeue it).
    tasks.send_notification_emails.apply(args=[ids], throw=False)

    assert len(attempts) == 2
    assert len(mail.outbox) == 1
    assert Notification.objects.get(recipient=operator).emailed_at is not None


def test_the_scanner_task_sends_immediate_emails_left_unsent_once(operator, monkeypatch):
    prefer_immediate(operator)
    TaskFactory(due_date=DUE, assignee=operator)
    monkeypatch.setattr(tasks.send_notification_emails, "delay", lambda ids: None)  # lost in an outage
    with time_machine.travel(NOW, tick=False):
        scan(NOW)
    assert mail.outbox == []

    with time_machine.travel(NOW + dt.timedelta(minutes=15), tick=False):
        tasks.scan_notifications()
        tasks.scan_notifications()

    assert len(mail.outbox) == 1
    assert Notification.objects.get(recipient=operator).emailed_at is not None


def test_the_sweep_leaves_out_digest_types_and_day_old_notifications(operator, time_machine):
    time_machine.move_to(NOW, tick=False)
    ChannelPreference.objects.create(
        user=operator, type=NotificationType.TASK_DUE, email=ChannelPreference.Email.DIGEST
    )
    TaskFactory(due_date=DUE, assignee=operator)
    scan(NOW)
    prefer_immediate(operator, NotificationType.TASK_OVERDUE)
    TaskFactory(due_date=DUE - dt.timedelta(days=1), assignee=operator)
    scan(NOW)

    assert Notification.objects.filter(recipient=operator).count() == 2
    assert delivery.pending_immediate_ids(NOW + dt.timedelta(days=2)) == []
    assert len(delivery.pending_immediate_ids(NOW + dt.timedelta(minutes=10))) == 1


# -- generate endpoints: body and dates -----------------------------------------------------------


@pytest.fixture
def daily(time_machine):
    time_machine.move_to(NOW, tick=False)
    return make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 23 * * *", tz="America/New_York")


@pytest.mark.parametrize("body", [[1, 2], "2028-01-01", 5])
def test_generate_refuses_a_body_that_is_not_an_object(api, daily, body):
    response = api.post(f"/api/v1/recurring-configs/{daily.pk}/generate/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_template_generate_refuses_a_body_that_is_not_an_object(api, time_machine):
    from tests.factories import TemplateFactory
    from workflows.models import TriggerType

    template = TemplateFactory(trigger_type=TriggerType.AUTOMATIC, trigger_schedule="0 9 * * TUE")
    response = api.post(f"/api/v1/templates/{template.pk}/generate/", [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_generate_refuses_dates_not_written_yyyy_mm_dd(api, daily):
    response = api.post(
        f"/api/v1/recurring-configs/{daily.pk}/generate/",
        {"start_date": "2028-W05-1", "end_date": "2028-02-02", "dry_run": True},
        format="json",
    )

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_date", "start_date")


@pytest.mark.parametrize("value", ["2028-W05-1", "20280201"])
def test_starts_on_must_be_written_yyyy_mm_dd(api, daily, value):
    response = api.patch(f"/api/v1/recurring-configs/{daily.pk}/", {"starts_on": value}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    daily.refresh_from_db()
    assert daily.starts_on == dt.date(2028, 1, 1)


def test_generate_refuses_dates_near_the_end_of_the_calendar(api, daily):
    response = api.post(
        f"/api/v1/recurring-configs/{daily.pk}/generate/",
        {"start_date": "9999-12-30", "end_date": "9999-12-31", "dry_run": True},
        format="json",
    )

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("validation_error", "start_date")


def test_starts_on_near_the_end_of_the_calendar_is_refused(api, daily):
    response = api.patch(f"/api/v1/recurring-configs/{daily.pk}/", {"starts_on": "9999-12-31"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_a_range_without_windows_says_why_nothing_was_generated(api, time_machine):
    time_machine.move_to(NOW, tick=False)
    monthly = make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 10 1 * *")

    response = api.post(
        f"/api/v1/recurring-configs/{monthly.pk}/generate/",
        {"start_date": "2028-02-02", "end_date": "2028-02-20"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["generated"] == 0
    assert response.json()["notes"] == ["No window of the schedule falls between start_date and end_date."]


def test_generation_runs_show_no_error_as_null(api, daily):
    services.run_schedules(at=utc(2028, 1, 3, 12))
    assert GenerationRun.objects.filter(status=GenerationStatus.SUCCESS).exists()

    runs = api.get("/api/v1/generation-runs/").json()["results"]

    assert runs and all(run["error"] is None for run in runs)


# -- cron near date.max --------------------------------------------------------------------------


def test_fire_times_past_the_representable_range_are_absent():
    schedule = cron.compile_schedule("0 23 * * *", "America/New_York")
    end_of_time = dt.datetime.max.replace(tzinfo=dt.UTC)

    assert schedule.fire_time(dt.date(9999, 12, 31)) is cron.BEYOND_RANGE
    assert schedule.windows_due(start=dt.date(9999, 12, 30), after=None, until=end_of_time) == [
        (dt.date(9999, 12, 30), dt.datetime(9999, 12, 31, 4, 0, tzinfo=dt.UTC))
    ]
    assert schedule.next_fire_times(dt.datetime(9999, 12, 30, tzinfo=dt.UTC)) == [
        dt.datetime(9999, 12, 30, 4, 0, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 4, 0, tzinfo=dt.UTC),
    ]


def test_instants_whose_local_date_is_past_the_calendar_do_not_overflow():
    schedule = cron.compile_schedule("30 2 * * *", "Asia/Tokyo")
    late = dt.datetime(9999, 12, 31, 20, tzinfo=dt.UTC)  # already 10000-01-01 in Tokyo

    assert schedule.next_fire_times(late) == []
    assert schedule.windows_due(start=dt.date(9999, 12, 30), after=late, until=late) == []


# -- commands ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2028-W05-1", "20280201"])
def test_backfill_refuses_dates_not_written_yyyy_mm_dd(daily, value):
    with pytest.raises(CommandError) as caught:
        run("backfill", "--config", str(daily.pk), "--start", value, "--end", "2028-02-02")

    assert "--start" in single_line(caught.value) and "YYYY-MM-DD" in str(caught.value)


def test_backfill_without_a_range_gives_one_line():
    with pytest.raises(CommandError) as caught:
        run("backfill", "--config", "whatever", "--end", "2028-02-02")

    assert single_line(caught.value) == "--start and --end are required (YYYY-MM-DD)."


def test_backfill_without_a_range_exits_with_one_line_on_stderr(tmp_path):
    completed = subprocess.run(
        [sys.executable, "manage.py", "backfill", "--config", "whatever"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PORTAL_VAR_DIR": str(tmp_path)},
        check=False,
    )

    assert completed.returncode != 0
    assert completed.stderr.strip().splitlines() == ["CommandError: --start and --end are required (YYYY-MM-DD)."]


def test_backfill_of_a_future_range_says_why_nothing_was_generated(daily):
    text = run("backfill", "--config", str(daily.pk), "--start", "2028-03-05", "--end", "2028-03-06")

    assert "Nothing was generated:" in text and "fire time is still ahead" in text
    report = json.loads(
        run("backfill", "--config", str(daily.pk), "--start", "2027-12-01", "--end", "2027-12-02", "--json")
    )
    assert report["totals"]["generated"] == 0
    assert report["notes"] and "starts on 2028-01-01" in report["notes"][0]


def test_backfill_of_a_range_without_windows_says_so(time_machine):
    time_machine.move_to(NOW, tick=False)
    monthly = make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 10 1 * *")

    text = run("backfill", "--config", str(monthly.pk), "--start", "2028-02-02", "--end", "2028-02-20")

    assert "Nothing was generated: no window of the schedule falls in the range." in text


def test_run_schedules_refuses_an_instant_in_the_future(daily):
    with pytest.raises(CommandError) as caught:
        run("run_schedules", "--at", "2028-03-02T00:00:00+00:00")

    assert single_line(caught.value).startswith("--at is in the future;")
    assert not GenerationRun.objects.exists()


@pytest.mark.parametrize("command", ["run_schedules", "scan_notifications"])
@pytest.mark.parametrize("value", ["2028-02-02", "20280202T0900", "2028-W05-1T09:00"])
def test_at_must_be_an_iso_date_time(command, value):
    with pytest.raises(CommandError, match="not an ISO 8601 date-time"):
        run(command, "--at", value)


def test_both_commands_read_a_naive_instant_in_the_portal_time_zone(settings, time_machine):
    settings.PORTAL_TIME_ZONE = "Europe/Berlin"
    time_machine.move_to(NOW, tick=False)

    scanned = run("scan_notifications", "--at", "2028-02-02T10:00")
    report = json.loads(run("run_schedules", "--at", "2028-02-02T10:00", "--json"))

    assert "2028-02-02T10:00:00+01:00" in scanned
    assert report["at"] == "2028-02-02T10:00:00+01:00"


def test_run_schedules_reports_a_refusal_of_the_service_in_one_line(monkeypatch, time_machine):
    time_machine.move_to(NOW, tick=False)

    def refuse(**kwargs):
        raise DomainError("future_instant", "Generation cannot run ahead of now.\nTry an earlier --at.")

    monkeypatch.setattr(services, "run_schedules", refuse)
    with pytest.raises(CommandError) as caught:
        run("run_schedules", "--at", "2028-02-02T10:00:00Z")

    assert single_line(caught.value) == "Generation cannot run ahead of now. Try an earlier --at."


def test_seed_v1_duties_refuses_a_non_member_assignee_in_one_line(outsider):
    with pytest.raises(CommandError) as caught:
        run("seed_v1_duties", "--assignee", outsider.username)

    assert single_line(caught.value)
