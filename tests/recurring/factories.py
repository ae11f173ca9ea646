"""Schedules made the way the product makes them (``save_config`` / ``save_template``) at a chosen
creation instant, since creation counts as a resume and so decides which windows are due."""

from __future__ import annotations

import datetime as dt
import itertools

import time_machine

from recurring.models import RecurringConfig
from recurring.services import save_config
from workflows.models import WorkflowTemplate
from workflows.services import save_template

UTC = dt.UTC
_numbers = itertools.count(1)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def make_config(*, created: dt.datetime, cron: str = "0 9 * * *", tz: str = "UTC", **data) -> RecurringConfig:
    """A config saved through the service as if at ``created``."""
    values = {"title": data.pop("title", f"Duty {next(_numbers)}"), "cron_expression": cron, "timezone": tz, **data}
    with time_machine.travel(created, tick=False):
        return save_config(data=values)


def make_template(
    *,
    created: dt.datetime,
    cron: str = "0 9 * * TUE",
    tz: str = "UTC",
    lead_days: int = 7,
    tasks: list[dict] | None = None,
    **data,
) -> WorkflowTemplate:
    """An automatic template (draft → send) saved through ``save_template`` as if at ``created``."""
    values = {
        "name": data.pop("name", f"Newsletter {next(_numbers)}"),
        "stages": ["draft", "send"],
        "trigger_type": "automatic",
        "trigger_schedule": cron,
        "trigger_timezone": tz,
        "trigger_lead_days": lead_days,
        **data,
    }
    if tasks is None:
        tasks = [
            {"ref": "draft", "title": "Write the draft", "stage": "draft", "offset_days": -2},
            {"ref": "send", "title": "Send it", "stage": "send", "offset_days": 0, "depends_on": ["draft"]},
        ]
    with time_machine.travel(created, tick=False):
        return save_template(data=values, tasks=tasks)
