"""The notifications admin (``docs/notifications.md``): read-only records created by ``notify``, acknowledged
with a note, listed with a constant number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from notifications.models import ChannelPreference, Notification, NotificationType
from notifications.services import notify
from tests.factories import AdminFactory, TaskFactory, TemplateFactory, TemplateTaskFactory, UserFactory
from workflows.models import TaskStatus
from workflows.services import instantiate_run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Users are created in every test; the production hasher is deliberately slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


NOTIFICATIONS = reverse("admin:notifications_notification_changelist")
PREFERENCES = reverse("admin:notifications_channelpreference_changelist")


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def act(client, action: str, notifications, **data):
    payload = {"action": action, "_selected_action": [str(n.pk) for n in notifications]}
    if data:
        payload.update(data, apply="1")
    return client.post(NOTIFICATIONS, payload, follow=True)


def failure(*recipients, key: str = "automation-failure:template:2028-02-09") -> list[Notification]:
    return notify(
        NotificationType.AUTOMATION_FAILURE,
        recipients=recipients,
        dedup_key=key,
        title="Newsletter: generation failed",
        body="boom",
        template=TemplateFactory(),
        window_date=dt.date(2028, 2, 9),
    )


def populate(count: int) -> None:
    """Notifications about tasks, runs and templates for ``count`` people, with preferences."""
    template = TemplateFactory()
    TemplateTaskFactory(template=template, ref="draft")
    for index in range(count):
        person = UserFactory(password=None)
        task = TaskFactory(assignee=person)
        run = instantiate_run(template=template, anchor_date=dt.date(2028, 1, 1) + dt.timedelta(days=index)).run
        notify(NotificationType.TASK_DUE, recipients=[person], dedup_key=f"task-due:{task.pk}", title="Due", task=task)
        notify(NotificationType.STAGE_CHANGE, recipients=[person], dedup_key=f"stage:{run.pk}", title="Stage", run=run)
        failure(person, key=f"automation-failure:{index}")
        ChannelPreference.objects.create(user=person, type=NotificationType.TASK_DUE, email="digest")


def test_operator_is_refused_on_the_notifications_admin(client, operator):
    client.force_login(operator)

    assert client.get(NOTIFICATIONS).status_code == 403
    assert client.get(PREFERENCES).status_code == 403


@pytest.mark.parametrize("url", [NOTIFICATIONS, PREFERENCES], ids=["notifications", "channel-preferences"])
def test_change_list_renders_with_the_same_number_of_queries_for_more_rows(
    admin_client, url, django_assert_max_num_queries
):
    populate(2)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as small:
        response = admin_client.get(url)
    small_rows = response.context["cl"].result_count

    populate(8)
    with django_assert_max_num_queries(len(small)):
        response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count > small_rows


def test_notifications_are_created_only_by_the_domain_code(admin_client):
    assert admin_client.get(reverse("admin:notifications_notification_add")).status_code == 403


def test_acknowledge_needs_a_note_and_closes_the_failure_for_every_recipient(admin_client, admin_user):
    other_admin = AdminFactory(password=None)
    notifications = failure(admin_user, other_admin)
    mine = next(n for n in notifications if n.recipient == admin_user)

    without_note = act(admin_client, "acknowledge", [mine], note="")
    with_note = act(admin_client, "acknowledge", [mine], note="Fixed the schedule")

    assert without_note.context["form"].errors == {"note": ["This field is required."]}
    assert "Acknowledged 1 notification." in messages_of(with_note)
    for notification in Notification.objects.all():
        assert notification.acknowledged_at is not None
        assert (notification.acknowledged_by, notification.acknowledgement_note) == (admin_user, "Fixed the schedule")


def test_acknowledging_a_task_notification_is_refused_with_the_reason(admin_client, admin_user):
    task = TaskFactory()
    [notification] = notify(
        NotificationType.TASK_DUE, recipients=[admin_user], dedup_key="task-due:x", title="Due today", task=task
    )

    response = act(admin_client, "acknowledge", [notification], note="Seen")

    refusal = "task-due: Due today: Only automation failures and missed windows can be acknowledged."
    assert refusal in messages_of(response)
    notification.refresh_from_db()
    assert notification.acknowledged_at is None


def test_dismissing_a_notification_leaves_its_task_untouched(admin_client, admin_user):
    task = TaskFactory()
    [notification] = notify(
        NotificationType.TASK_OVERDUE, recipients=[admin_user], dedup_key="task-overdue:x", title="Overdue", task=task
    )

    response = act(admin_client, "dismiss", [notification])

    assert "Dismissed 1 notification." in messages_of(response)
    notification.refresh_from_db()
    task.refresh_from_db()
    assert notification.dismissed_at is not None and notification.read_at is not None
    assert task.status == TaskStatus.TODO and task.archived_at is None


def test_notification_page_links_to_its_subject(admin_client, admin_user):
    task = TaskFactory(title="Send the newsletter")
    [notification] = notify(
        NotificationType.TASK_DUE, recipients=[admin_user], dedup_key="task-due:y", title="Due", task=task
    )

    response = admin_client.get(reverse("admin:notifications_notification_change", args=[notification.pk]))

    assert response.status_code == 200
    assert reverse("admin:workflows_task_change", args=[task.pk]) in response.content.decode()


def test_channel_preference_is_edited_in_the_admin(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:notifications_channelpreference_add"),
        {"user": admin_user.pk, "type": NotificationType.TASK_OVERDUE, "email": "immediate", "_save": "Save"},
    )

    assert response.status_code == 302
    assert ChannelPreference.objects.get(user=admin_user).email == "immediate"
