"""The notification filters are one FilterSet family shared by the API and the inbox page: both
list the same notifications for the same type, the API refuses what the page forgives."""

import pytest
from django.core.exceptions import ValidationError

from notifications.filters import InboxFilterSet, NotificationFilterSet
from notifications.models import Notification
from notifications.services import notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def notes(operator):
    due = notify("task-due", recipients=[operator], dedup_key="due", title="Due")
    stage = notify("stage-change", recipients=[operator], dedup_key="stage", title="Stage")
    stage[0].dismiss()
    return {"due": due[0], "stage": stage[0]}


def test_the_inbox_and_the_api_list_the_same_notifications_of_a_type(client, api, operator, notes):
    client.force_login(operator)
    page = client.get("/notifications/", {"state": "all", "type": "task-due"}).context["page"]
    listed = api.get("/api/v1/notifications/", {"type": "task-due", "dismissed": "false"}).json()["results"]
    assert [n.pk for n in page] == [notes["due"].pk]
    assert [n["id"] for n in listed] == [str(notes["due"].pk)]


def test_the_page_forgives_an_unknown_type_the_api_refuses(client, api, operator, notes):
    client.force_login(operator)
    page = client.get("/notifications/", {"state": "all", "type": "task_due"}).context["page"]
    assert [n.pk for n in page] == [notes["due"].pk]
    assert api.get("/api/v1/notifications/", {"type": "task_due"}).json()["code"] == "validation_error"


@pytest.mark.parametrize(
    ("query", "name"),
    [({"typ": "task-due"}, "typ"), ({"type": ""}, "type"), ({"dismissed": "maybe"}, "dismissed")],
)
def test_a_filterset_names_the_filter_it_refuses(query, name):
    with pytest.raises(ValidationError) as info:
        NotificationFilterSet(query, queryset=Notification.objects.all()).filtered()
    assert list(info.value.message_dict) == [name]


def test_a_blank_flag_means_any(notes):
    listed = NotificationFilterSet({"unread": ""}, queryset=Notification.objects.all()).filtered()
    assert set(listed) == {notes["due"], notes["stage"]}
    assert list(InboxFilterSet({"state": "dismissed"}, queryset=Notification.objects.all()).filtered()) == [
        notes["stage"]
    ]
