"""``schedule_of``: configs and automatic templates answer the scheduler's questions through one
interface, so no other part of the scheduler tells them apart."""

from __future__ import annotations

import datetime as dt

import pytest

from recurring.services import load_schedule, schedule_kind, schedule_of, scheduled_templates
from tests.factories import OperatorFactory, make_automatic_template, make_recurring_config, utc
from workflows.models import WorkflowTemplate
from workflows.services import save_template

pytestmark = pytest.mark.django_db


def test_a_config_and_a_template_answer_the_same_questions():
    person = OperatorFactory()
    config = make_recurring_config(
        created=utc(2028, 2, 1, 23), title="Nightly check", cron="0 9 * * *", tz="Asia/Tokyo", assignee=person
    )
    template = make_automatic_template(created=utc(2028, 2, 1, 12), name="Newsletter", cron="0 8 * * FRI", tz="UTC")

    as_config, as_template = schedule_of(config), schedule_of(template)

    assert (as_config.kind, as_config.title, as_config.expression, as_config.zone_name) == (
        "recurring",
        "Nightly check",
        "0 9 * * *",
        "Asia/Tokyo",
    )
    assert (as_template.kind, as_template.title, as_template.expression, as_template.zone_name) == (
        "template",
        "Newsletter",
        "0 8 * * FRI",
        "UTC",
    )
    assert as_config.starts_on == dt.date(2028, 2, 2)  # the creation date in Tokyo
    assert as_config.subject == {"recurring_config": config}
    assert as_template.subject == {"template": template}
    assert as_config.assignees() == [person]
    assert as_template.assignees() == []
    assert as_config.compile().fire_time(dt.date(2028, 2, 3)) == utc(2028, 2, 3, 0)
    assert (schedule_kind(config), schedule_kind(template)) == ("recurring", "template")


def test_a_beat_entry_names_its_schedule_by_kind_and_id():
    config = make_recurring_config(created=utc(2028, 2, 1, 12))
    template = make_automatic_template(created=utc(2028, 2, 1, 12))

    assert load_schedule("recurring", str(config.pk)) == config
    assert load_schedule("template", template.pk) == template
    assert load_schedule("recurring", "not-a-uuid") is None
    with pytest.raises(ValueError, match="unknown schedule kind"):
        load_schedule("cron", str(config.pk))


def test_the_scheduler_looks_at_automatic_enabled_unarchived_templates_only():
    watched = make_automatic_template(created=utc(2028, 2, 1, 12), name="Watched")
    paused = make_automatic_template(created=utc(2028, 2, 1, 12), name="Paused")
    manual = make_automatic_template(created=utc(2028, 2, 1, 12), name="Manual")
    archived = make_automatic_template(created=utc(2028, 2, 1, 12), name="Archived")
    save_template(template=paused, data={"trigger_enabled": False})
    save_template(template=manual, data={"trigger_type": "manual"})
    WorkflowTemplate.objects.filter(pk=archived.pk).update(archived_at=utc(2028, 2, 2, 12))

    assert list(scheduled_templates()) == [watched]
