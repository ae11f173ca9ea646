"""A template's trigger date has one run whatever its lead: reused when instantiated again, and
refused a second time by the database."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from recurring import services
from tests.factories import make_automatic_template, utc
from workflows.models import Run, WorkflowTemplate
from workflows.services import instantiate_run, save_template

pytestmark = pytest.mark.django_db

D = dt.date


def test_changing_the_lead_does_not_create_a_second_run_for_a_trigger_date():
    template = make_automatic_template(created=utc(2041, 1, 1, 8), lead_days=7)  # Tuesdays
    first = services.generate_due(template, at=utc(2041, 1, 1, 9), trigger="reconcile")
    with time_machine.travel(utc(2041, 1, 1, 10), tick=False):
        save_template(template=WorkflowTemplate.objects.get(pk=template.pk), data={"trigger_lead_days": 6})

    again = services.generate_due(
        WorkflowTemplate.objects.get(pk=template.pk), at=utc(2041, 1, 1, 11), trigger="reconcile"
    )

    assert first.generated == 1
    assert (again.generated, again.skipped, again.existing) == (0, 1, [D(2041, 1, 1)])
    assert list(Run.objects.filter(template=template).values_list("trigger_date", "anchor_date")) == [
        (D(2041, 1, 1), D(2041, 1, 8))
    ]


def test_the_database_refuses_two_runs_of_one_trigger_date():
    from django.db import IntegrityError, transaction

    template = make_automatic_template(created=utc(2041, 1, 1, 8))
    instantiate_run(template=template, anchor_date=D(2041, 1, 8), trigger_date=D(2041, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(template=template, anchor_date=D(2041, 1, 7), trigger_date=D(2041, 1, 1), title="again")


def test_instantiating_for_a_trigger_date_reuses_its_run_whatever_the_anchor():
    template = make_automatic_template(created=utc(2041, 1, 1, 8))
    made = instantiate_run(template=template, anchor_date=D(2041, 1, 8), trigger_date=D(2041, 1, 1))

    again = instantiate_run(template=template, anchor_date=D(2041, 1, 7), trigger_date=D(2041, 1, 1))

    assert (again.created, again.run.pk) == (False, made.run.pk)
