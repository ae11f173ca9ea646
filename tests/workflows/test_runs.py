"""Runs from templates (``docs/concepts.md``; schedules aside): instantiation, top-up recovery, current
stage with its notifications, completion, pause/resume/cancel."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from notifications.models import Notification, NotificationType
from tests.conftest import refused
from tests.factories import ANCHOR, OperatorFactory, UserFactory, launch_result, make_template, spec, task_of
from workflows.models import Run, RunStatus, Task, TaskDependency, TaskStatus
from workflows.services import save_template, template_task_specs
from workflows.signals import run_instantiated

pytestmark = pytest.mark.django_db


def deps(run) -> set[tuple[str, str]]:
    return set(
        TaskDependency.objects.filter(task__run=run).values_list(
            "task__template_task_ref", "depends_on__template_task_ref"
        )
    )


def stage_changes(run) -> list[Notification]:
    return list(Notification.objects.filter(run=run, type=NotificationType.STAGE_CHANGE).order_by("created_at"))


@pytest.fixture
def writer(db):
    return OperatorFactory(username="wendy")


@pytest.fixture
def editor(db):
    return OperatorFactory(username="eddie")


@pytest.fixture
def newsletter(writer, editor):
    return make_template(
        spec("collect", title="Collect news", stage="draft", offset_days=-5, assignee=writer),
        spec("write", title="Write draft", stage="draft", offset_days=-3, depends_on=["collect"], assignee=writer),
        spec("review", title="Review draft", stage="review", offset_days=-2, depends_on=["write"], assignee=editor),
        spec(
            "schedule",
            title="Schedule in Mailchimp",
            stage="publish",
            offset_days=-1,
            depends_on=["review"],
            requires_run_links=["Mailchimp newsletter"],
            assignee=writer,
        ),
        spec("announce", title="Announce", stage="publish", offset_days=0, depends_on=["schedule", "review"]),
        name="Weekly newsletter",
        run_links=("Mailchimp newsletter",),
    )


# ---- instantiate ------------------------------------------------------------------------------------


def test_instantiate_creates_every_task_due_at_anchor_plus_offset(newsletter, writer):
    result = launch_result(newsletter, by=writer)
    run = result.run
    assert (result.created, result.recovered, len(result.task_ids)) == (True, 0, 5)
    assert (run.title, run.anchor_date, run.status, run.created_by) == (
        "Weekly newsletter — 2028-02-09",
        ANCHOR,
        RunStatus.ACTIVE,
        writer,
    )
    dues = dict(run.tasks.values_list("template_task_ref", "due_date"))
    assert dues == {
        "collect": dt.date(2028, 2, 4),
        "write": dt.date(2028, 2, 6),
        "review": dt.date(2028, 2, 7),
        "schedule": dt.date(2028, 2, 8),
        "announce": dt.date(2028, 2, 9),
    }
    write = task_of(run, "write")
    assert (write.source, write.stage, write.assignee, write.created_by) == ("template", "draft", writer, writer)


def test_instantiate_wires_dependencies_run_links_and_starts_in_the_first_stage(newsletter):
    run = launch_result(newsletter).run
    assert deps(run) == {
        ("write", "collect"),
        ("review", "write"),
        ("schedule", "review"),
        ("announce", "schedule"),
        ("announce", "review"),
    }
    assert run.current_stage == "draft"
    assert list(run.links.values_list("name", "url")) == [("Mailchimp newsletter", "")]
    assert [link.name for link in task_of(run, "schedule").required_run_links.all()] == ["Mailchimp newsletter"]


def test_a_run_starts_in_the_earliest_stage_that_has_tasks_without_a_stage_change():
    template = make_template(spec("check", stage="review"), spec("send", stage="publish"))
    run = launch_result(template).run
    assert run.current_stage == "review"
    assert stage_changes(run) == []


def test_instantiating_twice_gives_one_run(newsletter):
    first = launch_result(newsletter)
    second = launch_result(newsletter)
    assert (second.created, second.recovered, second.task_ids) == (False, 0, [])
    assert second.run.pk == first.run.pk
    assert Run.objects.count() == 1
    assert Task.objects.count() == 5


def test_a_deleted_task_is_restored_with_its_dependencies(newsletter):
    run = launch_result(newsletter).run
    review = task_of(run, "review")
    review.delete()  # its dependency links go with it
    assert ("review", "write") not in deps(run) and ("schedule", "review") not in deps(run)
    result = launch_result(newsletter)
    assert (result.created, result.recovered) == (False, 1)
    restored = task_of(run, "review")
    assert result.task_ids == [restored.pk]
    assert restored.pk != review.pk
    assert {("review", "write"), ("schedule", "review"), ("announce", "review")} <= deps(run)
    assert Run.objects.count() == 1 and run.tasks.count() == 5


def test_a_restored_task_gets_its_run_link_requirement_back(newsletter):
    run = launch_result(newsletter).run
    task_of(run, "schedule").delete()
    launch_result(newsletter)
    assert [link.name for link in task_of(run, "schedule").required_run_links.all()] == ["Mailchimp newsletter"]


def test_an_archived_task_counts_as_present(newsletter):
    run = launch_result(newsletter).run
    task_of(run, "review").archive()
    result = launch_result(newsletter)
    assert result.recovered == 0
    assert run.tasks.filter(template_task_ref="review").count() == 1


def test_editing_the_template_leaves_existing_runs_alone_except_top_up(newsletter):
    run = launch_result(newsletter).run
    before = {t.template_task_ref: (t.title, t.due_date) for t in run.tasks.all()}
    specs = [s for s in template_task_specs(newsletter) if s["ref"] != "announce"]
    specs[0]["title"] = "Collect news and events"
    specs[0]["offset_days"] = -10
    specs.append({"ref": "thank", "title": "Thank sponsors", "stage": "publish", "offset_days": 1})
    save_template(template=newsletter, data={}, tasks=specs)

    after = {t.template_task_ref: (t.title, t.due_date) for t in run.tasks.all()}
    assert after == before
    result = launch_result(newsletter)
    assert result.recovered == 1
    assert task_of(run, "thank").due_date == dt.date(2028, 2, 10)
    assert task_of(run, "collect").title == "Collect news"
    assert run.tasks.filter(template_task_ref="announce").exists()


def test_top_up_adds_a_run_link_the_template_gained():
    template = make_template(spec("a"))
    run = launch_result(template).run
    save_template(template=template, data={"run_links": ["LinkedIn"]})
    launch_result(template)
    assert list(run.links.values_list("name", flat=True)) == ["LinkedIn"]


def test_an_archived_template_cannot_launch(newsletter):
    from django.utils import timezone

    newsletter.archived_at = timezone.now()
    newsletter.save()
    error = refused(lambda: launch_result(newsletter), "template_archived")
    assert error.status == 409
    assert not Run.objects.exists()


def test_run_and_tasks_are_created_in_one_transaction(newsletter):
    def explode(**kwargs):
        raise RuntimeError("receiver failed")

    run_instantiated.connect(explode, dispatch_uid="test-explode")
    try:
        with pytest.raises(RuntimeError):
            launch_result(newsletter)
    finally:
        run_instantiated.disconnect(dispatch_uid="test-explode")
    assert not Run.objects.exists() and not Task.objects.exists()


def test_the_database_refuses_a_second_run_for_the_same_anchor(newsletter):
    launch_result(newsletter)
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(template=newsletter, anchor_date=ANCHOR, title="dup")


def test_the_database_refuses_two_tasks_for_one_ref(newsletter):
    run = launch_result(newsletter).run
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(run=run, template_task_ref="write", source="template", title="dup", due_date=ANCHOR)


def test_losing_the_creation_race_reuses_the_winners_run(newsletter, monkeypatch):
    """Another process creates the run between our look-up and our insert: our insert hits the
    unique constraint and we carry on with the winner's run instead of failing."""
    from workflows import services

    winner = launch_result(newsletter).run

    class MissesOnce:
        calls = 0

        def select_for_update(self, **options):
            MissesOnce.calls += 1
            if MissesOnce.calls == 1:
                return Run.objects.none()
            return Run.objects.select_for_update(**options)

        def create(self, **values):
            return Run.objects.create(**values)

    monkeypatch.setattr(services, "Run", type("Run", (), {"objects": MissesOnce()}))
    result = services.instantiate_run(template=newsletter, anchor_date=ANCHOR)
    assert (result.created, result.run.pk, result.recovered) == (False, winner.pk, 0)
    assert Run.objects.count() == 1 and Task.objects.count() == 5


# ---- notifications on creation --------------------------------------------------------------------


def test_workflow_created_names_template_anchor_and_first_due_task(newsletter, writer, editor):
    run = launch_result(newsletter).run
    created = Notification.objects.filter(type=NotificationType.WORKFLOW_CREATED)
    assert {n.recipient for n in created} == {writer, editor}
    note = created.first()
    assert "Weekly newsletter" in note.title and "2028-02-09" in note.title
    assert "Collect news" in note.body and "2028-02-04" in note.body
    assert (note.run, note.template, note.data["first_task_id"]) == (run, newsletter, str(task_of(run, "collect").pk))
    launch_result(newsletter)
    assert created.count() == 2


def test_workflow_created_goes_to_every_member_when_nobody_is_assigned(operator, admin_user, outsider):
    run = launch_result(make_template(spec("a"))).run
    recipients = set(Notification.objects.filter(run=run).values_list("recipient__username", flat=True))
    assert recipients == {"olivia", "adam"}


# ---- stage and completion ----------------------------------------------------------------------------


def test_the_stage_moves_when_the_earliest_stage_resolves_and_notifies_assignees(newsletter, writer, editor):
    run = launch_result(newsletter).run
    task_of(run, "collect").complete()
    run.refresh_from_db()
    assert run.current_stage == "draft"
    assert stage_changes(run) == []
    task_of(run, "write").complete()
    run.refresh_from_db()
    assert run.current_stage == "review"
    moved = stage_changes(run)
    assert {n.recipient for n in moved} == {writer, editor}
    assert "review" in moved[0].title


def test_skipping_a_whole_chain_raises_one_stage_change(newsletter, writer, editor):
    run = launch_result(newsletter).run
    task_of(run, "collect").skip(reason="No issue this week", cascade=True)
    run.refresh_from_db()
    assert (run.status, run.current_stage) == (RunStatus.COMPLETED, "")
    assert len(stage_changes(run)) == 2  # one per recipient, one move
    assert {n.recipient for n in stage_changes(run)} == {writer, editor}


def test_the_run_completes_when_every_task_is_resolved_and_reopening_reactivates_it(newsletter):
    run = launch_result(newsletter).run
    run.fill_link(name="Mailchimp newsletter", url="https://mailchi.mp/acme/feb")
    for ref in ("collect", "write", "review", "schedule"):
        task_of(run, ref).complete()
    run.refresh_from_db()
    assert (run.status, run.current_stage) == (RunStatus.ACTIVE, "publish")
    task_of(run, "announce").skip(reason="Nothing to announce")
    run.refresh_from_db()
    assert (run.status, run.current_stage) == (RunStatus.COMPLETED, "")
    assert run.completed_at is not None
    assert "all tasks resolved" in stage_changes(run)[-1].title

    task_of(run, "review").reopen(reason="Typo in headline")
    run.refresh_from_db()
    assert (run.status, run.current_stage, run.completed_at) == (RunStatus.ACTIVE, "review", None)


def test_archiving_the_last_open_task_of_a_stage_moves_the_stage():
    template = make_template(spec("a", stage="draft"), spec("b", stage="review"))
    run = launch_result(template).run
    task_of(run, "a").archive()
    run.refresh_from_db()
    assert run.current_stage == "review"


def test_a_top_up_that_reopens_an_earlier_stage_moves_the_stage_back(newsletter):
    run = launch_result(newsletter).run
    task_of(run, "collect").delete()
    task_of(run, "write").delete()
    run.refresh_stage()
    assert run.current_stage == "review"
    launch_result(newsletter)
    run.refresh_from_db()
    assert run.current_stage == "draft"


# ---- pause / resume / cancel ---------------------------------------------------------------------------


def test_pause_and_resume(newsletter):
    run = launch_result(newsletter).run
    run.pause()
    assert Run.objects.get(pk=run.pk).status == RunStatus.PAUSED
    refused(run.pause, "invalid_transition")
    assert not Task.objects.on_home().filter(run=run).exists()
    run.resume()
    assert Run.objects.get(pk=run.pk).status == RunStatus.ACTIVE
    error = refused(run.resume, "invalid_transition")
    assert "active" in error.detail
    assert Task.objects.on_home().filter(run=run).count() == 5


def test_cancel_needs_a_reason_keeps_tasks_and_is_final(newsletter):
    run = launch_result(newsletter).run
    refused(lambda: run.cancel(reason=" "), "reason_required")
    run.pause()
    run.cancel(reason="Newsletter discontinued")
    run = Run.objects.get(pk=run.pk)
    assert (run.status, run.cancel_reason) == (RunStatus.CANCELLED, "Newsletter discontinued")
    assert set(run.tasks.values_list("status", flat=True)) == {TaskStatus.TODO}
    refused(run.resume, "invalid_transition")
    refused(run.pause, "invalid_transition")
    refused(lambda: run.cancel(reason="again"), "invalid_transition")


def test_a_completed_run_cannot_be_paused_or_cancelled():
    template = make_template(spec("a"))
    run = launch_result(template).run
    task_of(run, "a").complete()
    run.refresh_from_db()
    refused(run.pause, "invalid_transition")
    refused(lambda: run.cancel(reason="late"), "invalid_transition")


def test_a_cancelled_run_stays_cancelled_and_silent_when_its_tasks_are_resolved(newsletter):
    run = launch_result(newsletter).run
    run.cancel(reason="Dropped")
    task_of(run, "collect").skip(reason="Dropped", cascade=True)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert stage_changes(run) == []


def test_inactive_assignees_are_not_notified(writer, editor):
    gone = UserFactory(is_active=False)
    template = make_template(spec("a", assignee=gone), spec("b", assignee=editor))
    launch_result(template)
    assert set(Notification.objects.values_list("recipient", flat=True)) == {editor.pk}
