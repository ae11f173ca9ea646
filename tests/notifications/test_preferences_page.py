import pytest

from notifications.models import ChannelPreference, NotificationType

URL = "/notifications/preferences/"


@pytest.mark.django_db
def test_preferences_page_requires_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_outsider_is_refused(client, outsider):
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


@pytest.mark.django_db
def test_operator_saves_own_email_choices(client, operator, admin_user):
    client.force_login(operator)
    page = client.get(URL)
    assert page.status_code == 200
    assert "Automation failure" in page.content.decode()
    data = dict.fromkeys(NotificationType.values, "off")
    data[NotificationType.TASK_OVERDUE] = "immediate"
    data[NotificationType.FOLLOW_UP_DUE] = "digest"
    response = client.post(URL, data)
    assert response.status_code == 302
    prefs = dict(ChannelPreference.objects.filter(user=operator).values_list("type", "email"))
    assert prefs[NotificationType.TASK_OVERDUE] == "immediate"
    assert prefs[NotificationType.FOLLOW_UP_DUE] == "digest"
    assert not ChannelPreference.objects.filter(user=admin_user).exists()


@pytest.mark.django_db
def test_invalid_choice_changes_nothing(client, operator):
    client.force_login(operator)
    data = dict.fromkeys(NotificationType.values, "off")
    data[NotificationType.TASK_DUE] = "carrier-pigeon"
    response = client.post(URL, data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ChannelPreference.objects.filter(user=operator).exists()


@pytest.mark.django_db
def test_unread_badge_counts_only_own_unread(client, operator, admin_user):
    from notifications.services import notify

    notify("task-due", recipients=[operator], dedup_key="k1", title="One")
    notify("task-due", recipients=[operator], dedup_key="k2", title="Two")
    notify("task-due", recipients=[admin_user], dedup_key="k3", title="Not yours")
    first = operator.notifications.get(dedup_key="k1")
    first.mark_read()
    client.force_login(operator)
    response = client.get("/notifications/unread-count/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'aria-label="1 unread"' in body
