"""Task life cycle and dependencies (``docs/task-states.md``) through the model methods."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction

from tests.conftest import refused
from tests.factories import TaskFactory, launch_result, make_template, spec, task_of
from workflows.models import CommentKind, Task, TaskComment, TaskStatus, add_proof
from workflows.services import create_manual_task

pytestmark = pytest.mark.django_db

FOLLOW_UP = dt.date(2028, 2, 5)


def status_entries(task: Task) -> list[tuple[str, str]]:
    return list(task.history.exclude(from_status="").values_list("from_status", "to_status"))


def make_in(status: str, **fields) -> Task:
    """A task already in ``status``, reached through the real transitions."""
    task = TaskFactory(**fields)
    if status == TaskStatus.IN_PROGRESS:
        task.start()
    elif status == TaskStatus.WAITING:
        task.mark_waiting(waiting_for="Sponsor", follow_up_at=FOLLOW_UP, note="Asked for the logo")
    elif status == TaskStatus.DONE:
        task.complete()
    elif status == TaskStatus.SKIPPED:
        task.skip(reason="Not this week")
    task.refresh_from_db()
    assert task.status == status
    return task


# ---- the happy path and its history ----------------------------------------------------------


def test_start_moves_todo_to_in_progress_and_stamps_started_at(operator):
    task = TaskFactory()
    with time_machine.travel(dt.datetime(2028, 2, 2, 9, 30, tzinfo=dt.UTC), tick=False):
        task.start(by=operator)
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS
    assert task.started_at == dt.datetime(2028, 2, 2, 9, 30, tzinfo=dt.UTC)


def test_complete_from_in_progress_records_who_and_when(operator):
    task = make_in(TaskStatus.IN_PROGRESS)
    with time_machine.travel(dt.datetime(2028, 2, 2, 11, 0, tzinfo=dt.UTC), tick=False):
        task.complete(by=operator, note="Sent")
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert task.completed_at == dt.datetime(2028, 2, 2, 11, 0, tzinfo=dt.UTC)
    assert task.completed_by == operator


def test_complete_straight_from_todo_is_allowed_and_sets_started_at():
    task = TaskFactory()
    task.complete()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert task.started_at == task.completed_at


def test_every_transition_writes_a_history_entry_with_who_when_from_to_and_note(operator):
    task = TaskFactory()
    steps = [
        (lambda: task.start(by=operator), "", TaskStatus.TODO, TaskStatus.IN_PROGRESS),
        (
            lambda: task.mark_waiting(by=operator, waiting_for="Sponsor", follow_up_at=FOLLOW_UP, note="Asked"),
            "Asked",
            TaskStatus.IN_PROGRESS,
            TaskStatus.WAITING,
        ),
        (lambda: task.response_received(by=operator, note="They replied"), "They replied", "waiting", "todo"),
        (lambda: task.complete(by=operator, note="All good"), "All good", TaskStatus.TODO, TaskStatus.DONE),
        (lambda: task.reopen(by=operator, reason="Typo found"), "Typo found", TaskStatus.DONE, TaskStatus.TODO),
        (lambda: task.skip(by=operator, reason="Cancelled"), "Cancelled", TaskStatus.TODO, TaskStatus.SKIPPED),
    ]
    for index, (action, note, from_status, to_status) in enumerate(steps):
        moment = dt.datetime(2028, 2, 2, 9, index, tzinfo=dt.UTC)
        with time_machine.travel(moment, tick=False):
            action()
        entry = task.history.order_by("-created_at").first()
        assert (entry.author, entry.created_at, entry.from_status, entry.to_status, entry.body) == (
            operator,
            moment,
            from_status,
            to_status,
            note,
        )
    assert len(status_entries(task)) == len(steps)


def test_history_entry_of_a_script_without_a_person_has_no_author():
    task = TaskFactory()
    task.start(by=None)
    assert task.history.get().author is None


# ---- waiting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"follow_up_at": FOLLOW_UP, "note": "Asked"}, ["waiting_for"]),
        ({"waiting_for": "Sponsor", "note": "Asked"}, ["follow_up_at"]),
        ({"waiting_for": "Sponsor", "follow_up_at": FOLLOW_UP}, ["note"]),
        ({"waiting_for": "  ", "follow_up_at": FOLLOW_UP, "note": " "}, ["waiting_for", "note"]),
        ({}, ["waiting_for", "follow_up_at", "note"]),
    ],
)
def test_waiting_refused_naming_each_missing_field(fields, missing):
    task = TaskFactory()
    error = refused(lambda: task.mark_waiting(**fields), "waiting_fields_required")
    assert error.extra["missing"] == missing
    for name in missing:
        assert name in error.detail
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO
    assert not task.history.exists()


@pytest.mark.parametrize("start_status", [TaskStatus.TODO, TaskStatus.IN_PROGRESS])
def test_waiting_stores_who_we_wait_on_and_the_follow_up_date(start_status, operator):
    task = make_in(start_status)
    task.mark_waiting(by=operator, waiting_for=" Sponsor ACME ", follow_up_at=FOLLOW_UP, note="Asked for logo")
    task.refresh_from_db()
    assert (task.status, task.waiting_for, task.follow_up_at) == (TaskStatus.WAITING, "Sponsor ACME", FOLLOW_UP)


def test_waiting_accepts_an_iso_date_string_and_refuses_garbage():
    task = TaskFactory()
    error = refused(
        lambda: task.mark_waiting(waiting_for="Sponsor", follow_up_at="next week", note="Asked"), "validation_error"
    )
    assert "follow_up_at" in error.detail
    task.mark_waiting(waiting_for="Sponsor", follow_up_at="2028-02-05", note="Asked")
    task.refresh_from_db()
    assert task.follow_up_at == FOLLOW_UP


def test_marking_a_waiting_task_waiting_again_points_to_follow_up_or_response():
    task = make_in(TaskStatus.WAITING)
    error = refused(
        lambda: task.mark_waiting(waiting_for="x", follow_up_at=FOLLOW_UP, note="again"), "invalid_transition"
    )
    assert "follow-up" in error.detail and "response" in error.detail


def test_database_refuses_a_waiting_task_without_follow_up_date():
    task = TaskFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.WAITING, waiting_for="Sponsor", follow_up_at=None)


def test_database_refuses_a_done_task_without_completed_at():
    task = TaskFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.DONE)


# ---- follow-up sent / response received --------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"next_follow_up_at": dt.date(2028, 2, 8)}, ["note"]),
        ({"note": "Pinged again"}, ["next_follow_up_at"]),
        ({}, ["note", "next_follow_up_at"]),
    ],
)
def test_follow_up_sent_needs_a_note_and_the_next_date(fields, missing):
    task = make_in(TaskStatus.WAITING)
    error = refused(lambda: task.follow_up_sent(**fields), "follow_up_fields_required")
    assert error.extra["missing"] == missing
    task.refresh_from_db()
    assert task.follow_up_at == FOLLOW_UP


def test_follow_up_sent_moves_the_date_keeps_waiting_and_stores_a_timestamped_comment(operator):
    task = make_in(TaskStatus.WAITING)
    moment = dt.datetime(2028, 2, 5, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(moment, tick=False):
        task.follow_up_sent(by=operator, note="Pinged on Slack", next_follow_up_at=dt.date(2028, 2, 8))
    task.refresh_from_db()
    assert task.status == TaskStatus.WAITING
    assert task.follow_up_at == dt.date(2028, 2, 8)
    assert task.waiting_for == "Sponsor"
    comment = task.history.get(kind=CommentKind.FOLLOW_UP)
    assert (comment.body, comment.author, comment.created_at) == ("Pinged on Slack", operator, moment)
    assert comment.data == {"previous_follow_up_at": "2028-02-05", "next_follow_up_at": "2028-02-08"}


@pytest.mark.parametrize("status", [TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.SKIPPED])
def test_follow_up_and_response_only_apply_to_waiting_tasks(status):
    task = make_in(status)
    refused(lambda: task.follow_up_sent(note="n", next_follow_up_at=FOLLOW_UP), "invalid_transition")
    error = refused(lambda: task.response_received(note="n"), "invalid_transition")
    assert "waiting" in error.detail
    assert error.extra["task_status"] == status


def test_response_received_needs_a_note():
    task = make_in(TaskStatus.WAITING)
    error = refused(lambda: task.response_received(note="  "), "note_required")
    assert error.extra["missing"] == ["note"]
    task.refresh_from_db()
    assert task.status == TaskStatus.WAITING


def test_response_received_returns_the_task_to_todo_and_keeps_the_note(operator):
    task = make_in(TaskStatus.WAITING)
    task.response_received(by=operator, note="Logo arrived")
    task.refresh_from_db()
    assert (task.status, task.waiting_for, task.follow_up_at) == (TaskStatus.TODO, "", None)
    entry = task.history.get(kind=CommentKind.RESPONSE)
    assert (entry.body, entry.from_status, entry.to_status, entry.author) == (
        "Logo arrived",
        TaskStatus.WAITING,
        TaskStatus.TODO,
        operator,
    )


# ---- skip and reopen -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.WAITING])
def test_any_open_task_can_be_skipped_with_a_reason(status, operator):
    task = make_in(status)
    task.skip(by=operator, reason="Sponsor cancelled")
    task.refresh_from_db()
    assert task.status == TaskStatus.SKIPPED
    assert task.history.order_by("-created_at").first().body == "Sponsor cancelled"
    assert (task.waiting_for, task.follow_up_at) == ("", None)


def test_skip_without_a_reason_is_refused():
    task = TaskFactory()
    error = refused(lambda: task.skip(reason=" "), "reason_required")
    assert error.extra["missing"] == ["reason"]
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO


@pytest.mark.parametrize("status", [TaskStatus.DONE, TaskStatus.SKIPPED])
def test_reopen_brings_a_resolved_task_back_to_todo(status, operator):
    task = make_in(status)
    task.reopen(by=operator, reason="Numbers were wrong")
    task.refresh_from_db()
    assert (task.status, task.completed_at, task.completed_by) == (TaskStatus.TODO, None, None)
    assert task.history.order_by("-created_at").first().body == "Numbers were wrong"


def test_reopen_without_a_reason_is_refused():
    task = make_in(TaskStatus.DONE)
    refused(lambda: task.reopen(reason=""), "reason_required")
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


# ---- invalid transitions -------------------------------------------------------------------------

ACTIONS = {
    "start": lambda t: t.start(),
    "complete": lambda t: t.complete(),
    "wait": lambda t: t.mark_waiting(waiting_for="x", follow_up_at=FOLLOW_UP, note="n"),
    "follow-up": lambda t: t.follow_up_sent(note="n", next_follow_up_at=FOLLOW_UP),
    "response": lambda t: t.response_received(note="n"),
    "skip": lambda t: t.skip(reason="r"),
    "reopen": lambda t: t.reopen(reason="r"),
}
INVALID = [
    (TaskStatus.TODO, ["follow-up", "response", "reopen"]),
    (TaskStatus.IN_PROGRESS, ["start", "follow-up", "response", "reopen"]),
    (TaskStatus.WAITING, ["start", "complete", "wait", "reopen"]),
    (TaskStatus.DONE, ["start", "complete", "wait", "follow-up", "response", "skip"]),
    (TaskStatus.SKIPPED, ["start", "complete", "wait", "follow-up", "response", "skip"]),
]


@pytest.mark.parametrize(("status", "action"), [(status, action) for status, actions in INVALID for action in actions])
def test_invalid_transitions_are_refused_with_a_reason_and_change_nothing(status, action):
    task = make_in(status)
    history_before = task.history.count()
    error = refused(lambda: ACTIONS[action](task), "invalid_transition")
    assert TaskStatus(status).label.lower() in error.detail
    assert error.status == 400
    task.refresh_from_db()
    assert task.status == status
    assert task.history.count() == history_before


def test_a_stale_copy_acts_on_the_current_row_not_on_its_memory():
    task = TaskFactory()
    stale = Task.objects.get(pk=task.pk)
    task.complete()
    error = refused(stale.start, "invalid_transition")
    assert "done" in error.detail
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DONE


# ---- dependencies ----------------------------------------------------------------------------------


@pytest.fixture
def chain():
    """collect → draft → (review, send); report depends on nothing."""
    template = make_template(
        spec("collect", stage="draft"),
        spec("draft", stage="draft", depends_on=["collect"]),
        spec("review", stage="review", depends_on=["draft"]),
        spec("send", stage="publish", depends_on=["draft"], requires_proof_note=True),
        spec("report", stage="publish"),
    )
    run = launch_result(template).run
    return {ref: task_of(run, ref) for ref in ("collect", "draft", "review", "send", "report")}


def test_start_is_refused_while_a_prerequisite_is_open(chain):
    error = refused(chain["draft"].start, "blocked_by_dependencies")
    assert error.extra["blocked_by"] == [
        {"id": str(chain["collect"].pk), "title": "Task collect", "status": TaskStatus.TODO}
    ]
    assert "Task collect" in error.detail
    assert Task.objects.get(pk=chain["draft"].pk).status == TaskStatus.TODO


def test_complete_lists_every_open_prerequisite():
    template = make_template(spec("a"), spec("b"), spec("c", depends_on=["a", "b"]))
    run = launch_result(template).run
    error = refused(task_of(run, "c").complete, "blocked_by_dependencies")
    assert sorted(b["title"] for b in error.extra["blocked_by"]) == ["Task a", "Task b"]


def test_blocked_is_reported_before_missing_evidence(chain):
    # send is blocked by draft AND lacks its proof note: the blocker is what the operator hears.
    error = refused(chain["send"].complete, "blocked_by_dependencies")
    assert "missing" not in error.extra


@pytest.mark.parametrize("resolve", ["complete", "skip"])
def test_a_done_or_skipped_prerequisite_unblocks(chain, resolve):
    getattr(chain["collect"], resolve)(**({"reason": "Not needed"} if resolve == "skip" else {}))
    chain["draft"].start()
    assert Task.objects.get(pk=chain["draft"].pk).status == TaskStatus.IN_PROGRESS


def test_a_prerequisite_may_be_marked_waiting_while_its_dependent_stays_blocked(chain):
    chain["collect"].mark_waiting(waiting_for="Data team", follow_up_at=FOLLOW_UP, note="Asked")
    refused(chain["draft"].start, "blocked_by_dependencies")
    flags = Task.objects.with_flags().get(pk=chain["draft"].pk)
    assert flags.is_blocked is True


def test_skip_with_cascade_skips_every_open_transitive_dependent(chain, operator):
    cascaded = chain["collect"].skip(by=operator, reason="Issue cancelled", cascade=True)
    assert {t.template_task_ref for t in cascaded} == {"draft", "review", "send"}
    statuses = dict(Task.objects.values_list("template_task_ref", "status"))
    assert statuses == {
        "collect": "skipped",
        "draft": "skipped",
        "review": "skipped",
        "send": "skipped",
        "report": "todo",
    }
    entry = Task.objects.get(pk=chain["send"].pk).history.get()
    assert entry.author == operator
    assert "Task collect" in entry.body and "Issue cancelled" in entry.body


def test_cascade_leaves_resolved_dependents_alone_and_goes_through_them(chain):
    chain["collect"].complete()
    chain["draft"].complete()
    chain["review"].skip(reason="Editor away")
    chain["send"].mark_waiting(waiting_for="Sponsor", follow_up_at=FOLLOW_UP, note="Need the logo")
    chain["collect"].reopen(reason="Wrong export")  # collect todo, draft done, review skipped, send waiting
    cascaded = chain["collect"].skip(reason="Dropped", cascade=True)
    assert [t.template_task_ref for t in cascaded] == ["send"]
    assert Task.objects.get(pk=chain["draft"].pk).status == TaskStatus.DONE
    assert status_entries(Task.objects.get(pk=chain["review"].pk)) == [("todo", "skipped")]
    send = Task.objects.get(pk=chain["send"].pk)
    assert (send.status, send.waiting_for, send.follow_up_at) == (TaskStatus.SKIPPED, "", None)


def test_skip_without_cascade_makes_dependents_actionable_and_shows_the_skipped_prerequisite(chain):
    cascaded = chain["collect"].skip(reason="Data not needed")
    assert cascaded == []
    draft = Task.objects.with_flags().get(pk=chain["draft"].pk)
    assert draft.status == TaskStatus.TODO
    assert draft.is_blocked is False
    assert draft.open_prerequisites() == []
    assert [t.pk for t in draft.skipped_prerequisites] == [chain["collect"].pk]
    draft.start()
    assert Task.objects.get(pk=draft.pk).status == TaskStatus.IN_PROGRESS


def test_reopening_a_prerequisite_blocks_its_dependent_again(chain):
    chain["collect"].complete()
    chain["collect"].reopen(reason="Wrong export")
    refused(chain["draft"].start, "blocked_by_dependencies")


# ---- comments, archive -----------------------------------------------------------------------------


def test_comment_needs_a_body_and_is_stored_in_history(operator):
    task = TaskFactory()
    refused(lambda: task.add_comment(by=operator, body="   "), "validation_error")
    comment = task.add_comment(by=operator, body="Called the printer")
    assert (comment.kind, comment.author, comment.body) == (CommentKind.COMMENT, operator, "Called the printer")
    assert task.status == TaskStatus.TODO


def test_archive_hides_the_task_from_home_and_keeps_history(operator):
    task = TaskFactory()
    task.add_comment(by=operator, body="Context")
    task.archive(by=operator)
    task.refresh_from_db()
    assert task.archived_at is not None
    assert not Task.objects.on_home().filter(pk=task.pk).exists()
    assert list(task.history.values_list("kind", flat=True)) == [CommentKind.COMMENT, CommentKind.EVENT]


# ---- querysets --------------------------------------------------------------------------------------


def test_open_actionable_and_overdue_querysets():
    today = dt.date(2028, 2, 10)
    late_todo = TaskFactory(due_date=dt.date(2028, 2, 9))
    late_waiting = make_in(TaskStatus.WAITING, due_date=dt.date(2028, 2, 1))
    late_done = make_in(TaskStatus.DONE, due_date=dt.date(2028, 2, 1))
    due_today = TaskFactory(due_date=today)
    assert set(Task.objects.open()) == {late_todo, late_waiting, due_today}
    assert set(Task.objects.actionable()) == {late_todo, due_today}
    assert set(Task.objects.overdue(today)) == {late_todo}
    assert late_done not in Task.objects.open()


def test_home_keeps_tasks_of_active_runs_and_drops_paused_and_cancelled_ones():
    template = make_template(spec("a"))
    active, paused, cancelled = (launch_result(template, dt.date(2028, 2, d)).run for d in (1, 2, 3))
    paused.pause()
    cancelled.cancel(reason="Sponsor left")
    manual = TaskFactory()
    home = set(Task.objects.on_home())
    assert home == {task_of(active, "a"), manual}
    assert task_of(paused, "a").status == TaskStatus.TODO


def test_with_flags_matches_the_python_rules():
    template = make_template(
        spec("a"),
        spec("b", depends_on=["a"], requires_link="LinkedIn post URL"),
        spec("c", requires_file=True),
    )
    run = launch_result(template).run
    flags = {t.template_task_ref: (t.is_blocked, t.evidence_missing) for t in Task.objects.with_flags()}
    assert flags == {"a": (False, False), "b": (True, True), "c": (False, True)}
    add_proof(task_of(run, "b"), kind="link", url="https://linkedin.com/p/1")
    assert Task.objects.with_flags().get(template_task_ref="b").evidence_missing is False


@pytest.mark.parametrize("listed", [False, True], ids=["prefetched", "listed"])
def test_requirement_checks_cost_no_query_when_loaded(django_assert_num_queries, listed):
    template = make_template(spec("a"), spec("b", depends_on=["a"], requires_link="URL", requires_proof_note=True))
    launch_result(template)
    loading = Task.objects.listing_prefetches() if listed else ["proofs", "required_run_links", "dependencies"]
    tasks = {task.template_task_ref: task for task in Task.objects.prefetch_related(*loading)}
    with django_assert_num_queries(0):
        checks = {
            ref: (task.missing_requirements(), [t.pk for t in task.open_prerequisites()]) for ref, task in tasks.items()
        }
        for task in tasks.values():
            task.requirements()
            task.skipped_prerequisites  # noqa: B018
    assert checks == {"a": ([], []), "b": (["URL", "proof note"], [tasks["a"].pk])}


def test_requirement_checks_of_a_task_without_requirements_cost_no_query(django_assert_num_queries):
    task = TaskFactory()
    with django_assert_num_queries(0):
        assert task.missing_requirements() == []
        assert task.requirements() == []


def test_requirements_checklist_names_each_requirement_and_whether_it_is_met():
    task = TaskFactory(requires_link="LinkedIn post URL", requires_file=True, requires_proof_note=True)
    add_proof(task, kind="note", note="Posted at 9:00")
    assert task.requirements() == [
        {"kind": "link", "name": "LinkedIn post URL", "met": False},
        {"kind": "file", "name": "file", "met": False},
        {"kind": "note", "name": "proof note", "met": True},
    ]


# ---- manual tasks ------------------------------------------------------------------------------------


def test_create_manual_task_validates_and_records_the_creator(operator):
    refused(lambda: create_manual_task(by=operator, title=" ", due_date=dt.date(2028, 2, 2)), "validation_error")
    refused(lambda: create_manual_task(by=operator, title="Call bank"), "validation_error")
    refused(lambda: create_manual_task(title="x", due_date=dt.date(2028, 2, 2), colour="red"), "validation_error")
    task = create_manual_task(by=operator, title=" Call bank ", due_date=dt.date(2028, 2, 2), assignee=operator)
    assert (task.title, task.source, task.created_by, task.status) == ("Call bank", "manual", operator, "todo")
    assert not TaskComment.objects.exists()


# ---- plain-field edits ------------------------------------------------------------------------


def test_edit_writes_the_changed_fields_and_one_history_entry_naming_old_and_new_values(operator):
    task = TaskFactory(title="Draft", area="Ops")
    task.edit({"title": "Draft the newsletter", "area": "Ops", "assignee": operator}, by=operator)
    task.refresh_from_db()
    assert (task.title, task.assignee) == ("Draft the newsletter", operator)
    (entry,) = task.history.filter(kind=CommentKind.EVENT)
    assert entry.body == "Edited title, assignee."
    assert entry.data == {"changes": {"title": ["Draft", "Draft the newsletter"], "assignee": [None, "olivia"]}}


def test_edit_refuses_a_requirement_change_on_a_done_task_and_changes_nothing():
    task = make_in(TaskStatus.DONE)
    error = refused(lambda: task.edit({"requires_file": True, "title": "New"}), "task_resolved")
    assert (error.status, error.extra["fields"]) == (409, ["requires_file"])
    task.refresh_from_db()
    assert (task.requires_file, task.history.filter(kind=CommentKind.EVENT).exists()) == (False, False)


def test_edit_refuses_an_assignee_outside_the_portal(outsider):
    task = TaskFactory()
    refused(lambda: task.edit({"assignee": outsider}), "validation_error")
    assert Task.objects.get(pk=task.pk).assignee is None


def test_a_task_url_is_remembered_per_script_prefix():
    """Task URLs are reversed once and remembered (Home lists the same rows on every visit),
    but an application mounted under a path still gets URLs under that path."""
    from django.urls import reverse, set_script_prefix

    task = TaskFactory()
    assert task.get_absolute_url() == reverse("task-detail", args=[task.pk]) == f"/tasks/{task.pk}/"
    assert task.home_actions_url() == reverse("task-home-actions", args=[task.pk])
    try:
        set_script_prefix("/ops/")
        assert task.get_absolute_url() == f"/ops/tasks/{task.pk}/"
    finally:
        set_script_prefix("/")
    assert task.get_absolute_url() == f"/tasks/{task.pk}/"
