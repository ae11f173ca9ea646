import pytest

from notifications.models import Notification
from notifications.services import notify
from tests.factories import TaskFactory

INBOX = "/notifications/"


def _failure(recipients, key="automation-failure:recurring:x:2028-02-02"):
    return notify("automation-failure", recipients=recipients, dedup_key=key, title="Generation failed", body="boom")


@pytest.mark.django_db
def test_inbox_requires_login(client):
    assert client.get(INBOX).status_code == 302


@pytest.mark.django_db
def test_inbox_lists_only_own_unread(client, operator, admin_user):
    notify("task-due", recipients=[operator], dedup_key="a", title="Mine")
    notify("task-due", recipients=[admin_user], dedup_key="b", title="Theirs")
    client.force_login(operator)
    body = client.get(INBOX).content.decode()
    assert "Mine" in body and "Theirs" not in body


@pytest.mark.django_db
def test_inbox_empty_state(client, operator):
    client.force_login(operator)
    assert "No unread notifications." in client.get(INBOX).content.decode()


@pytest.mark.django_db
def test_inbox_query_count_is_constant(client, operator, django_assert_max_num_queries):
    client.force_login(operator)
    for size in (2, 40):
        for i in range(size):
            task = TaskFactory(assignee=operator)
            notify("task-due", recipients=[operator], dedup_key=f"k{size}-{i}", title=f"N{i}", task=task)
        with django_assert_max_num_queries(8):
            assert client.get(INBOX + "?state=all").status_code == 200


@pytest.mark.django_db
def test_dismiss_by_htmx_returns_row_fragment_and_keeps_task(client, operator):
    task = TaskFactory(assignee=operator)
    [n] = notify("task-overdue", recipients=[operator], dedup_key="o", title="Overdue", task=task)
    client.force_login(operator)
    response = client.post(f"{INBOX}{n.pk}/dismiss/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="notification-{n.pk}"' in body and "<html" not in body
    assert "notifications-changed" in response["HX-Trigger"]
    n.refresh_from_db()
    task.refresh_from_db()
    assert n.dismissed_at is not None
    assert task.status == "todo" and task.archived_at is None


@pytest.mark.django_db
def test_plain_post_redirects_back(client, operator):
    [n] = notify("task-due", recipients=[operator], dedup_key="r", title="Read me")
    client.force_login(operator)
    response = client.post(f"{INBOX}{n.pk}/read/")
    assert response.status_code == 302
    n.refresh_from_db()
    assert n.read_at is not None


@pytest.mark.django_db
def test_someone_elses_notification_is_not_found(client, operator, admin_user):
    [n] = notify("task-due", recipients=[admin_user], dedup_key="x", title="Admin's")
    client.force_login(operator)
    for action in ("read", "dismiss", "acknowledge"):
        assert client.post(f"{INBOX}{n.pk}/{action}/").status_code == 404
    n.refresh_from_db()
    assert n.read_at is None and n.dismissed_at is None


@pytest.mark.django_db
def test_acknowledge_needs_a_note_and_closes_for_everyone(client, operator, admin_user):
    created = _failure([operator, admin_user])
    mine = next(n for n in created if n.recipient == operator)
    client.force_login(operator)
    refused = client.post(f"{INBOX}{mine.pk}/acknowledge/", {"note": "  "}, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    assert "needs a note" in refused.content.decode()
    assert not Notification.objects.filter(acknowledged_at__isnull=False).exists()
    ok = client.post(f"{INBOX}{mine.pk}/acknowledge/", {"note": "Fixed the cron expression"})
    assert ok.status_code == 302
    assert Notification.objects.filter(acknowledged_at__isnull=False).count() == 2
    body = client.get(INBOX + "?state=failures").content.decode()
    assert "No automation failures." in body


@pytest.mark.django_db
def test_action_never_redirects_off_site(client, operator):
    [n] = notify("task-due", recipients=[operator], dedup_key="off", title="Read me")
    client.force_login(operator)
    response = client.post(f"{INBOX}{n.pk}/read/", {"next": "https://evil.example.com/"})
    assert response["Location"] == INBOX
    [m] = notify("task-due", recipients=[operator], dedup_key="on", title="Read me too")
    response = client.post(f"{INBOX}{m.pk}/read/", {"next": "/notifications/?state=all"})
    assert response["Location"] == "/notifications/?state=all"


@pytest.mark.django_db
def test_admin_links_are_offered_only_to_admins(client, operator, admin_user):
    link = "/admin/recurring/recurringconfig/x/backfill/"
    for person in (operator, admin_user):
        notify("missed-windows", recipients=[person], dedup_key=f"m-{person.pk}", title="Missed windows", link=link)
    client.force_login(operator)
    body = client.get(INBOX).content.decode()
    assert link not in body and "An admin can act on this" in body
    client.force_login(admin_user)
    assert link in client.get(INBOX).content.decode()


@pytest.mark.django_db
def test_mark_all_read_by_htmx_reads_only_own_unread_and_answers_the_list(client, operator, admin_user):
    mine = [notify("task-due", recipients=[operator], dedup_key=f"m{i}", title=f"Mine {i}")[0] for i in range(3)]
    [theirs] = notify("task-due", recipients=[admin_user], dedup_key="t", title="Theirs")
    client.force_login(operator)
    assert "Mark all read" in client.get(INBOX).content.decode()

    response = client.post(f"{INBOX}read-all/", {"state": "unread"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="notification-list"' in body and "Marked 3 notifications as read." in body
    assert "No unread notifications." in body and "Mark all read" not in body
    assert "notifications-changed" in response["HX-Trigger"]
    assert all(Notification.objects.get(pk=n.pk).read_at is not None for n in mine)
    assert Notification.objects.get(pk=theirs.pk).read_at is None


@pytest.mark.django_db
def test_mark_all_read_by_plain_post_redirects_back_with_a_message(client, operator):
    notify("task-due", recipients=[operator], dedup_key="p", title="Plain")
    client.force_login(operator)
    response = client.post(f"{INBOX}read-all/", {"next": INBOX + "?state=all"}, follow=True)
    assert response.redirect_chain[0][0] == INBOX + "?state=all"
    assert "Marked 1 notification as read." in response.content.decode()
    assert not Notification.objects.for_user(operator).unread().exists()


@pytest.mark.django_db
def test_mark_all_read_refuses_get_and_anonymous(client, operator):
    assert client.post(f"{INBOX}read-all/").status_code == 302  # to the login page
    client.force_login(operator)
    assert client.get(f"{INBOX}read-all/").status_code == 405
