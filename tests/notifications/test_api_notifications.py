"""``/api/v1/notifications/``: each person sees and acts on their own notifications only."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from notifications.models import Notification, NotificationType
from notifications.services import notify
from tests.conftest import refused
from tests.factories import AdminFactory, OperatorFactory, task_in

pytestmark = pytest.mark.django_db

NOTIFICATIONS = "/api/v1/notifications/"


def note(recipient, type=NotificationType.TASK_OVERDUE, key: str | None = None, **values) -> Notification:
    key = key or f"{type}:{Notification.objects.count()}"
    (created,) = notify(
        type, recipients=[recipient], dedup_key=key, title=values.pop("title", f"About {key}"), **values
    )
    return created


def test_list_shows_only_my_notifications_newest_first(api, operator):
    someone_else = OperatorFactory()
    task = task_in("todo")
    with time_machine.travel(dt.datetime(2028, 2, 1, 9, tzinfo=dt.UTC)):
        older = note(operator, task=task)
    with time_machine.travel(dt.datetime(2028, 2, 2, 9, tzinfo=dt.UTC)):
        newer = note(operator, NotificationType.FOLLOW_UP_DUE)
    note(someone_else)

    body = api.get(NOTIFICATIONS).json()

    assert [n["id"] for n in body["results"]] == [str(newer.pk), str(older.pk)]
    row = body["results"][1]
    assert row["type"] == "task-overdue"
    assert row["task"] == str(task.pk)
    assert row["created_at"] == "2028-02-01T09:00:00Z"
    assert row["read_at"] is None and row["dismissed_at"] is None


def test_filters(api, operator):
    unread = note(operator, NotificationType.TASK_DUE)
    read = note(operator, NotificationType.TASK_DUE)
    read.mark_read()
    dismissed = note(operator, NotificationType.STAGE_CHANGE)
    dismissed.dismiss()

    def ids(**query) -> set[str]:
        response = api.get(NOTIFICATIONS, query)
        assert response.status_code == 200, response.content
        return {n["id"] for n in response.json()["results"]}

    assert ids(type="task-due") == {str(unread.pk), str(read.pk)}
    assert ids(unread="true") == {str(unread.pk)}
    assert ids(unread="false") == {str(read.pk), str(dismissed.pk)}
    assert ids(dismissed="true") == {str(dismissed.pk)}
    assert ids(dismissed="false") == {str(unread.pk), str(read.pk)}
    assert ids(type="task-due", unread="true") == {str(unread.pk)}


@pytest.mark.parametrize(("query", "field"), [({"type": "task_due"}, "type"), ({"unread": "maybe"}, "unread")])
def test_bad_filters_are_refused(api, query, field):
    body = refused(api.get(NOTIFICATIONS, query), "validation_error")
    assert body["detail"].startswith(f"{field}:")


def test_read_and_dismiss(api, operator):
    notification = note(operator)

    read = api.post(f"{NOTIFICATIONS}{notification.pk}/read/")
    assert read.status_code == 200 and read.json()["read_at"]
    dismissed = api.post(f"{NOTIFICATIONS}{notification.pk}/dismiss/").json()
    assert dismissed["dismissed_at"] and dismissed["read_at"] == read.json()["read_at"]


def test_dismissing_never_changes_the_task(api, operator):
    task = task_in("todo", due_date=dt.date(2028, 2, 1))
    notification = note(operator, task=task)
    api.post(f"{NOTIFICATIONS}{notification.pk}/dismiss/")
    task.refresh_from_db()
    assert task.status == "todo" and task.archived_at is None


@pytest.mark.parametrize("action", ["read", "dismiss", "acknowledge"])
def test_someone_elses_notification_is_404(api, action):
    other = note(OperatorFactory(), NotificationType.AUTOMATION_FAILURE)
    refused(api.post(f"{NOTIFICATIONS}{other.pk}/{action}/", {"note": "Seen"}, format="json"), "not_found", 404)
    refused(api.get(f"{NOTIFICATIONS}{other.pk}/"), "not_found", 404)
    other.refresh_from_db()
    assert other.read_at is None and other.dismissed_at is None and other.acknowledged_at is None


def test_acknowledge_closes_the_failure_for_every_recipient(api, operator):
    admin = AdminFactory()
    mine, theirs = notify(
        NotificationType.AUTOMATION_FAILURE,
        recipients=[operator, admin],
        dedup_key="automation-failure:cfg:2028-02-09",
        title="Generation failed",
    )
    if mine.recipient != operator:
        mine, theirs = theirs, mine

    response = api.post(f"{NOTIFICATIONS}{mine.pk}/acknowledge/", {"note": "Fixed the cron."}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["acknowledged_by"] == operator.username
    assert body["acknowledgement_note"] == "Fixed the cron."
    theirs.refresh_from_db()
    assert theirs.acknowledged_at is not None


def test_acknowledge_needs_a_note(api, operator):
    notification = note(operator, NotificationType.AUTOMATION_FAILURE)
    body = refused(api.post(f"{NOTIFICATIONS}{notification.pk}/acknowledge/", {}, format="json"), "note_required")
    assert body["missing"] == ["note"]
    notification.refresh_from_db()
    assert notification.acknowledged_at is None


def test_only_failures_can_be_acknowledged(api, operator):
    notification = note(operator, NotificationType.TASK_DUE)
    refused(
        api.post(f"{NOTIFICATIONS}{notification.pk}/acknowledge/", {"note": "ok"}, format="json"), "invalid_transition"
    )


def test_acknowledging_twice_is_refused(api, operator):
    notification = note(operator, NotificationType.MISSED_WINDOWS)
    assert api.post(f"{NOTIFICATIONS}{notification.pk}/acknowledge/", {"note": "ok"}, format="json").status_code == 200
    refused(
        api.post(f"{NOTIFICATIONS}{notification.pk}/acknowledge/", {"note": "again"}, format="json"),
        "invalid_transition",
    )


@pytest.mark.parametrize("size", [3, 30])
def test_list_uses_a_constant_number_of_queries(api, operator, django_assert_max_num_queries, size):
    admin = AdminFactory()
    for index in range(size):
        (n,) = notify(NotificationType.AUTOMATION_FAILURE, recipients=[operator], dedup_key=f"k{index}", title="t")
        n.acknowledge(by=admin, note="seen")
    with django_assert_max_num_queries(3):
        response = api.get(NOTIFICATIONS)
    assert len(response.json()["results"]) == size
