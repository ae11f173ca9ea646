"""``run_schedules`` and ``backfill`` management commands (``docs/api.md``): exact JSON shape, human
output, and a one-line refusal with a non-zero exit on bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command

from recurring.models import GenerationRun
from tests.factories import make_automatic_template, make_recurring_config, utc
from workflows.models import Run, Task

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE_KEYS = {
    "kind",
    "id",
    "title",
    "generated",
    "skipped",
    "missed",
    "recovered",
    "failed",
    "windows",
    "task_ids",
    "run_ids",
    "error",
}
TOTAL_KEYS = {"generated", "skipped", "missed", "recovered", "failed"}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_run_schedules_json_has_the_documented_shape():
    config = make_recurring_config(created=utc(2028, 12, 20, 12), title="Daily check")
    template = make_automatic_template(created=utc(2028, 12, 27, 12), name="Weekly newsletter")

    with time_machine.travel(utc(2029, 1, 3, 12), tick=False):
        report = json.loads(run("run_schedules", "--at", "2029-01-02T09:30:00+00:00", "--json"))

    assert set(report) == {"at", "schedules", "totals"}
    assert report["at"] == "2029-01-02T09:30:00+00:00"
    assert all(set(entry) == SCHEDULE_KEYS for entry in report["schedules"])
    config_entry, template_entry = report["schedules"]
    task = Task.objects.get(recurring_config=config)
    run_ = Run.objects.get(template=template)
    assert config_entry == {
        "kind": "recurring",
        "id": str(config.pk),
        "title": "Daily check",
        "generated": 1,
        "skipped": 0,
        "missed": 12,  # 20 December was the creation day; 21 December – 1 January were never run
        "recovered": 0,
        "failed": 0,
        "windows": ["2029-01-02"],
        "task_ids": [str(task.pk)],
        "run_ids": [],
        "error": None,
    }
    assert (template_entry["kind"], template_entry["id"], template_entry["windows"]) == (
        "template",
        str(template.pk),
        ["2029-01-02"],
    )
    assert template_entry["run_ids"] == [str(run_.pk)]
    assert report["totals"] == {"generated": 2, "skipped": 0, "missed": 12, "recovered": 0, "failed": 0}
    assert set(report["totals"]) == TOTAL_KEYS


def test_run_schedules_without_an_offset_reads_the_instant_in_the_portal_time_zone(settings):
    settings.PORTAL_TIME_ZONE = "Europe/Berlin"
    make_recurring_config(created=utc(2028, 2, 1, 12))

    with time_machine.travel(utc(2028, 2, 3, 12), tick=False):
        report = json.loads(run("run_schedules", "--at", "2028-02-02T10:00", "--json"))

    assert report["at"] == "2028-02-02T10:00:00+01:00"
    assert report["totals"]["generated"] == 1


def test_run_schedules_prints_one_line_per_schedule_and_totals():
    make_recurring_config(created=utc(2028, 2, 1, 12), title="Slack invites")

    with time_machine.travel(utc(2028, 2, 3, 12), tick=False):
        text = run("run_schedules", "--at", "2028-02-02T09:00:00Z")

    assert "“Slack invites”: 1 generated, 0 skipped, 0 missed, 0 recovered, 0 failed [windows: 2028-02-02]" in text
    assert "Totals: 1 generated, 0 skipped, 0 missed, 0 recovered, 0 failed" in text


def test_run_schedules_defaults_to_now():
    make_recurring_config(created=utc(2028, 2, 1, 12))

    with time_machine.travel(utc(2028, 2, 2, 9, 5), tick=False):
        report = json.loads(run("run_schedules", "--json"))

    assert report["at"] == "2028-02-02T09:05:00+00:00" and report["totals"]["generated"] == 1


def test_run_schedules_refuses_a_malformed_instant():
    with pytest.raises(CommandError, match="not an ISO 8601 date-time"):
        run("run_schedules", "--at", "tomorrow morning")


def test_backfill_dry_run_json_adds_dry_run_and_writes_nothing():
    config = make_recurring_config(created=utc(2028, 1, 1, 8))
    Task.objects.all().delete()

    with time_machine.travel(utc(2028, 1, 20, 12), tick=False):
        report = json.loads(
            run(
                "backfill",
                "--config",
                str(config.pk),
                "--start",
                "2028-01-02",
                "--end",
                "2028-01-04",
                "--dry-run",
                "--json",
            )
        )

    assert set(report) == {"at", "dry_run", "notes", "schedules", "totals"}
    assert report["dry_run"] is True and report["notes"] == []
    [entry] = report["schedules"]
    assert set(entry) == SCHEDULE_KEYS
    assert (entry["generated"], entry["windows"]) == (3, ["2028-01-02", "2028-01-03", "2028-01-04"])
    assert not Task.objects.exists() and not GenerationRun.objects.exists()


def test_backfill_of_a_template_creates_runs_and_reports_them():
    template = make_automatic_template(created=utc(2028, 12, 1, 12))

    with time_machine.travel(utc(2029, 1, 20, 12), tick=False):
        report = json.loads(
            run("backfill", "--template", str(template.pk), "--start", "2029-01-01", "--end", "2029-01-10", "--json")
        )

    assert report["dry_run"] is False
    [entry] = report["schedules"]
    assert (entry["kind"], entry["generated"], entry["windows"]) == ("template", 2, ["2029-01-02", "2029-01-09"])
    assert sorted(entry["run_ids"]) == sorted(str(pk) for pk in Run.objects.values_list("pk", flat=True))


def test_backfill_prints_what_it_did_in_words():
    config = make_recurring_config(created=utc(2028, 1, 1, 8), title="Slack invites")

    with time_machine.travel(utc(2028, 1, 3, 8), tick=False):
        text = run("backfill", "--config", str(config.pk), "--start", "2028-01-01", "--end", "2028-01-05")

    assert "Backfill of 2028-01-01 to 2028-01-05:" in text
    assert "2 generated" in text and "note: 3 window(s) from 2028-01-03 on are left out" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2028-01-01", "--end", "2028-01-02"], "exactly one of --config ID or --template ID"),
        (["--config", "X", "--template", "Y", "--start", "2028-01-01", "--end", "2028-01-02"], "exactly one"),
        (
            ["--config", "{config}", "--start", "2028-13-01", "--end", "2028-01-02"],
            "--start: '2028-13-01' is not a date",
        ),
        (["--config", "not-a-uuid", "--start", "2028-01-01", "--end", "2028-01-02"], "no recurring config with id"),
        (
            ["--template", "00000000-0000-0000-0000-000000000000", "--start", "2028-01-01", "--end", "2028-01-02"],
            "no workflow template with id",
        ),
        (["--config", "{config}", "--start", "2028-01-05", "--end", "2028-01-02"], "before the start date"),
        (["--config", "{config}", "--start", "2026-01-01", "--end", "2028-01-02"], "at most 366 days"),
    ],
)
def test_backfill_refuses_bad_input_with_one_clear_line(args, message):
    config = make_recurring_config(created=utc(2028, 1, 1, 8))

    with pytest.raises(CommandError) as refused:
        run("backfill", *[arg.format(config=config.pk) for arg in args])

    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert not Task.objects.exists()


def test_bad_input_exits_non_zero_from_the_shell(tmp_path):
    completed = subprocess.run(
        [sys.executable, "manage.py", "backfill", "--start", "2028-01-01", "--end", "2028-01-02"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PORTAL_VAR_DIR": str(tmp_path)},
        check=False,
    )

    assert completed.returncode != 0
    assert (
        completed.stderr.strip().splitlines()[-1] == "CommandError: Give exactly one of --config ID or --template ID."
    )
