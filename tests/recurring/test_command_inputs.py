"""Input of the scheduler's commands: strict dates and instants, one-line errors on stderr, and
reports that say why nothing was generated."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from recurring import services
from recurring.models import GenerationRun
from tests.factories import make_recurring_config, utc
from workflows.errors import DomainError

pytestmark = pytest.mark.django_db

NOW = utc(2028, 3, 1, 12)
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def single_line(exc: CommandError) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


@pytest.fixture
def daily(time_machine):
    time_machine.move_to(NOW, tick=False)
    return make_recurring_config(created=utc(2028, 1, 1, 8), cron="0 23 * * *", tz="America/New_York")


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
