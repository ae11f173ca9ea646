"""Saving, validating and cloning workflow templates (``docs/concepts.md``, ``docs/api.md``)."""

from __future__ import annotations

import pytest

from tests.conftest import refused
from tests.factories import make_template, spec
from workflows.models import TemplateTask, TriggerType, WorkflowTemplate, find_dependency_cycle
from workflows.services import clone_template, save_template, template_task_specs

pytestmark = pytest.mark.django_db


def save(*tasks, **data):
    return save_template(
        data={"name": "Tax report", "stages": ["collect", "prepare", "submit"], **data}, tasks=list(tasks)
    )


# ---- cycles -------------------------------------------------------------------------------------------


def test_a_dependency_cycle_is_refused_naming_the_cycle():
    error = refused(
        lambda: save(
            spec("receipts", stage="collect"),
            spec("invoices", stage="collect", depends_on=["report"]),
            spec("totals", stage="prepare", depends_on=["invoices", "receipts"]),
            spec("report", stage="submit", depends_on=["totals"]),
        ),
        "dependency_cycle",
    )
    assert error.extra["cycle"] == ["invoices", "report", "totals", "invoices"]
    assert "invoices → report → totals → invoices" in error.detail
    assert not WorkflowTemplate.objects.exists() and not TemplateTask.objects.exists()


def test_a_task_depending_on_itself_is_a_cycle():
    error = refused(lambda: save(spec("a", depends_on=["a"])), "dependency_cycle")
    assert error.extra["cycle"] == ["a", "a"]


def test_introducing_a_cycle_into_a_saved_template_changes_nothing():
    template = save(spec("a"), spec("b", depends_on=["a"]))
    refused(
        lambda: save_template(
            template=template, data={}, tasks=[spec("a", depends_on=["b"]), spec("b", depends_on=["a"])]
        ),
        "dependency_cycle",
    )
    assert dict(template.tasks.values_list("ref", "depends_on")) == {"a": [], "b": ["a"]}


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": [], "b": ["a"], "c": ["a", "b"]}, None),
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, ["a", "b", "c", "a"]),
        ({"a": ["unknown"]}, None),
        ({"x": ["y"], "y": ["x"], "a": []}, ["x", "y", "x"]),
    ],
)
def test_find_dependency_cycle(graph, cycle):
    assert find_dependency_cycle(graph) == cycle


# ---- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tasks", "data", "words"),
    [
        ([spec("a", depends_on=["ghost"])], {}, ["a", "unknown task ref 'ghost'"]),
        ([spec("a", stage="archive")], {}, ["stage 'archive'", "collect, prepare, submit"]),
        ([spec("a", requires_run_links=["Dropbox"])], {}, ["run link 'Dropbox'"]),
        ([spec("a"), spec("a")], {}, ["Duplicate task refs: a"]),
        ([spec("bad ref!")], {}, ["ref must be"]),
        ([{"ref": "a", "title": "  "}], {}, ["needs a title"]),
        ([spec("a", depends_on="b"), spec("b")], {}, ["depends_on must be a list"]),
        ([spec("a", depends_on=["b", "b"]), spec("b")], {}, ["duplicates: b"]),
        ([spec("a", offset_days="soon")], {}, ["offset_days must be a whole number"]),
        ([spec("a", priority="asap")], {}, ["unknown priority 'asap'"]),
        ([], {"stages": ["a", "a"]}, ["stages has duplicates"]),
        ([], {"name": " "}, ["needs a name"]),
        ([], {"trigger_lead_days": -1}, ["trigger_lead_days must be 0 or more"]),
        ([], {"trigger_type": "automatic"}, ["needs a trigger_schedule"]),
        ([], {"colour": "blue"}, ["Unknown template field 'colour'"]),
    ],
)
def test_inconsistent_definitions_are_refused_with_the_reason(tasks, data, words):
    error = refused(lambda: save(*tasks, **data), "validation_error")
    for word in words:
        assert word in error.detail
    assert not WorkflowTemplate.objects.exists()


def test_an_invalid_trigger_schedule_is_refused_with_the_cron_reason():
    error = refused(lambda: save(trigger_type="automatic", trigger_schedule="@weekly"), "invalid_schedule")
    assert error.extra["field"] == "trigger_schedule"
    assert not WorkflowTemplate.objects.exists()


def test_a_second_template_with_the_same_name_is_refused():
    save()
    error = refused(lambda: save(), "validation_error")
    assert "already exists" in error.detail


def test_removing_a_run_link_that_a_task_requires_is_refused():
    template = make_template(spec("a", requires_run_links=["LinkedIn"]), run_links=("LinkedIn",))
    refused(lambda: save_template(template=template, data={"run_links": []}), "validation_error")
    assert WorkflowTemplate.objects.get(pk=template.pk).run_links == ["LinkedIn"]


# ---- saving ----------------------------------------------------------------------------------------------


def test_save_stores_tasks_in_order_with_a_default_stage_and_leaves_the_input_alone(operator):
    given = [
        spec("receipts", offset_days="-3", assignee=operator),
        spec("report", stage="submit", depends_on=["receipts"]),
    ]
    template = save(*given)
    rows = list(template.tasks.values_list("ref", "stage", "position", "offset_days", "depends_on", "assignee"))
    assert rows == [("receipts", "collect", 0, -3, [], operator.pk), ("report", "submit", 1, 0, ["receipts"], None)]
    assert "stage" not in given[0]


def test_saving_tasks_replaces_the_definitions():
    template = save(spec("a"), spec("b"))
    save_template(template=template, data={"description": "Monthly"}, tasks=[spec("b", title="Renamed"), spec("c")])
    assert dict(template.tasks.values_list("ref", "title")) == {"b": "Renamed", "c": "Task c"}
    assert WorkflowTemplate.objects.get(pk=template.pk).description == "Monthly"


def test_saving_without_tasks_keeps_them_and_checks_them_against_new_stages():
    template = save(spec("a", stage="prepare"))
    refused(lambda: save_template(template=template, data={"stages": ["collect", "submit"]}), "validation_error")
    save_template(template=template, data={"description": "Still here"})
    assert list(template.tasks.values_list("ref", flat=True)) == ["a"]


def test_switching_an_existing_template_to_automatic_counts_as_a_resume():
    template = save()
    assert template.resumed_at is None
    save_template(template=template, data={"trigger_type": "automatic", "trigger_schedule": "0 9 * * TUE"})
    assert WorkflowTemplate.objects.get(pk=template.pk).resumed_at is not None


def test_a_new_automatic_template_has_no_resume_mark_creation_is_the_watermark():
    template = save(trigger_type="automatic", trigger_schedule="0 9 * * TUE", trigger_lead_days=7)
    assert template.resumed_at is None
    assert template.schedule_watermark == template.created_at


# ---- clone ----------------------------------------------------------------------------------------------


def test_clone_copies_tasks_and_starts_manual(operator):
    original = save(
        spec("receipts", stage="collect", offset_days=-5, assignee=operator, requires_file=True),
        spec("report", stage="submit", depends_on=["receipts"], requires_run_links=["Portal"], requires_link="Receipt"),
        trigger_type="automatic",
        trigger_schedule="0 10 1 * *",
        trigger_lead_days=3,
        run_links=["Portal"],
        category="Finance",
    )
    clone = clone_template(template=original, name="Tax report (Q2)", by=operator)
    assert clone.pk != original.pk
    assert (clone.trigger_type, clone.trigger_enabled) == (TriggerType.MANUAL, False)
    assert (clone.stages, clone.run_links, clone.category) == (original.stages, original.run_links, "Finance")

    assert template_task_specs(clone) == template_task_specs(original)
    assert original.tasks.count() == 2
    assert WorkflowTemplate.objects.get(pk=original.pk).trigger_type == TriggerType.AUTOMATIC


def test_clone_needs_a_fresh_name():
    original = save(spec("a"))
    refused(lambda: clone_template(template=original, name=""), "validation_error")
    refused(lambda: clone_template(template=original, name="tax REPORT"), "validation_error")
    assert WorkflowTemplate.objects.count() == 1


# ---- lifecycle: archive, restore, trigger -------------------------------------------------------------


@pytest.fixture
def announcements():
    from workflows.signals import template_saved

    heard: list = []

    def listen(sender, template, **kwargs):
        heard.append(template.pk)

    template_saved.connect(listen, dispatch_uid="test.template_saved")
    yield heard
    template_saved.disconnect(dispatch_uid="test.template_saved")


def test_archive_and_restore_announce_the_template_once_each_and_only_on_a_change(announcements):
    template = make_template(spec("a"))
    announcements.clear()
    template.archive()
    template.archive()  # already archived: nothing happens, nothing is announced
    assert WorkflowTemplate.objects.get(pk=template.pk).archived_at is not None
    template.restore()
    assert WorkflowTemplate.objects.get(pk=template.pk).archived_at is None
    assert announcements == [template.pk, template.pk]


def test_pausing_an_automatic_trigger_announces_once_and_a_manual_template_has_none_to_pause(announcements):
    automatic = make_template(spec("a"), trigger_type=TriggerType.AUTOMATIC, trigger_schedule="0 9 * * 1")
    manual = make_template(spec("a"))
    announcements.clear()
    automatic.set_trigger_enabled(False)
    assert WorkflowTemplate.objects.get(pk=automatic.pk).trigger_enabled is False
    assert announcements == [automatic.pk]
    refused(lambda: manual.set_trigger_enabled(False), "invalid_transition")
    assert announcements == [automatic.pk]
