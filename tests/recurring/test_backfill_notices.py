"""What a backfill announces: one summary for the runs of a template backfill, while a scheduled
run still announces itself."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from notifications.models import Notification, NotificationType
from recurring import services
from tests.factories import make_automatic_template, utc

pytestmark = pytest.mark.django_db

D = dt.date


def test_a_template_backfill_raises_one_summary_instead_of_one_notice_per_run(operator):
    template = make_automatic_template(created=utc(2041, 1, 1, 8))
    with time_machine.travel(utc(2041, 2, 1, 12), tick=False):
        result = services.backfill(template, start=D(2041, 1, 1), end=D(2041, 1, 31))

    created = Notification.objects.filter(type=NotificationType.WORKFLOW_CREATED)
    assert result.generated == 5  # the Tuesdays of January
    assert created.filter(run__isnull=False).count() == 0
    assert created.filter(recipient=operator).count() == 1
    summary = created.get(recipient=operator)
    assert summary.template_id == template.pk
    assert "5 run(s) created by a backfill" in summary.title
    assert summary.data["windows"] == ["2041-01-01", "2041-01-08", "2041-01-15", "2041-01-22", "2041-01-29"]


def test_a_scheduled_template_run_still_announces_itself(operator):
    template = make_automatic_template(created=utc(2041, 1, 1, 8))

    services.generate_due(template, at=utc(2041, 1, 1, 9), trigger="reconcile")

    assert Notification.objects.filter(type=NotificationType.WORKFLOW_CREATED, run__isnull=False).exists()
