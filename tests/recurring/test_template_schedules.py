"""A template's schedule: read in the portal zone when it names none, starting on its creation date
in its own zone."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.factories import make_automatic_template, utc
from workflows.models import WorkflowTemplate
from workflows.services import save_template

pytestmark = pytest.mark.django_db

D = dt.date


def test_a_template_without_a_zone_reads_its_schedule_in_the_portal_zone(settings):
    settings.PORTAL_TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(utc(2041, 1, 1, 8), tick=False):
        template = save_template(
            data={"name": "Zoneless", "stages": ["a"], "trigger_type": "automatic", "trigger_schedule": "0 9 * * TUE"},
            tasks=[{"ref": "x", "title": "X", "stage": "a", "offset_days": 0}],
        )

    assert template.trigger_timezone == "Europe/Berlin"
    assert WorkflowTemplate().trigger_timezone == "Europe/Berlin"


def test_a_template_starts_on_its_creation_date_in_its_own_zone():
    # 23:30 UTC on 31 December is already 1 January in Berlin
    template = make_automatic_template(created=utc(2040, 12, 31, 23, 30), tz="Europe/Berlin")

    assert template.starts_on == D(2041, 1, 1)
