"""An archived task's status is frozen: every transition is refused, through the model and the
API; a cascading skip goes past an archived dependent without changing it."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import refused
from tests.factories import (
    ANCHOR,
    TaskFactory,
    launch_result,
    make_template,
    spec,
    task_of,
)
from workflows.models import (
    Task,
    TaskStatus,
)

pytestmark = pytest.mark.django_db


def _archived(status: str, **values) -> Task:
    task = TaskFactory(status=status, **values)
    task.archive()
    return task


TRANSITIONS = {
    "start": (TaskStatus.TODO, lambda t: t.start()),
    "complete": (TaskStatus.IN_PROGRESS, lambda t: t.complete()),
    "wait": (TaskStatus.TODO, lambda t: t.mark_waiting(waiting_for="Sam", follow_up_at=ANCHOR, note="asked")),
    "follow-up-sent": (TaskStatus.WAITING, lambda t: t.follow_up_sent(note="again", next_follow_up_at=ANCHOR)),
    "response-received": (TaskStatus.WAITING, lambda t: t.response_received(note="answered")),
    "skip": (TaskStatus.TODO, lambda t: t.skip(reason="not needed")),
    "reopen": (TaskStatus.DONE, lambda t: t.reopen(reason="again")),
}
WAITING_FIELDS = {"waiting_for": "Sam", "follow_up_at": ANCHOR}


def _values_for(status: str) -> dict:
    if status == TaskStatus.WAITING:
        return WAITING_FIELDS
    if status == TaskStatus.DONE:
        return {"completed_at": dt.datetime(2028, 2, 1, tzinfo=dt.UTC)}
    return {}


@pytest.mark.parametrize("action", TRANSITIONS)
def test_an_archived_task_cannot_change_status(action):
    status, call = TRANSITIONS[action]
    task = _archived(status, **_values_for(status))
    error = refused(lambda: call(task), "invalid_transition")
    assert "archived" in error.detail
    assert Task.objects.get(pk=task.pk).status == status


@pytest.mark.parametrize("action", TRANSITIONS)
def test_the_api_refuses_status_changes_of_archived_tasks(api, action):
    status, _ = TRANSITIONS[action]
    task = _archived(status, **_values_for(status))
    bodies = {
        "wait": {"waiting_for": "Sam", "follow_up_at": "2028-02-10", "note": "asked"},
        "follow-up-sent": {"note": "again", "next_follow_up_at": "2028-02-10"},
        "response-received": {"note": "answered"},
        "skip": {"reason": "not needed"},
        "reopen": {"reason": "again"},
    }
    response = api.post(f"/api/v1/tasks/{task.pk}/{action}/", bodies.get(action, {}), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_transition"
    assert "archived" in response.json()["detail"]
    assert Task.objects.get(pk=task.pk).status == status


def test_a_cascading_skip_leaves_an_archived_dependent_alone_but_reaches_past_it():
    template = make_template(spec("a"), spec("b", depends_on=["a"]), spec("c", depends_on=["b"]))
    run = launch_result(template).run
    task_of(run, "b").archive()
    task_of(run, "a").skip(reason="cancelled", cascade=True)
    assert task_of(run, "b").status == TaskStatus.TODO
    assert task_of(run, "c").status == TaskStatus.SKIPPED


def test_archiving_an_archived_task_again_is_still_harmless():
    task = _archived(TaskStatus.TODO)
    task.archive()
    assert Task.objects.get(pk=task.pk).archived_at is not None
