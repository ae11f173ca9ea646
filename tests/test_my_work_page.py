"""Operations Home's scope: ``mine`` (the page's default) is my work and unassigned work;
``all`` is everyone's. Waiting work is governed by its follow-up date, never its due date."""

import datetime as dt

import pytest
import time_machine

from portal.templatetags.portal_format import human_date
from tests.factories import TaskFactory

DAY = dt.date(2028, 2, 10)


@pytest.mark.django_db
@time_machine.travel(dt.datetime(2028, 2, 10, 12, tzinfo=dt.UTC), tick=False)
def test_waiting_work_is_never_shown_overdue_by_its_due_date(client, operator):
    TaskFactory(title="Late todo", assignee=operator, due_date=dt.date(2028, 2, 7))
    waiting = TaskFactory(title="Waiting one", assignee=operator, due_date=dt.date(2028, 2, 1))
    waiting.mark_waiting(by=operator, waiting_for="Sponsor", follow_up_at=dt.date(2028, 2, 9), note="Asked")
    client.force_login(operator)
    body = client.get("/").content.decode()
    assert body.count("overdue by") == 1
    assert "overdue by 3 days" in body
    assert f"follow-up due {human_date(dt.date(2028, 2, 9))}" in body  # "yesterday"
    assert "waiting for Sponsor" in body


@pytest.mark.django_db
def test_scope_mine_is_the_default_and_shows_mine_and_unassigned_only(client, operator, admin_user):
    TaskFactory(title="Mine", assignee=operator, due_date=DAY)
    TaskFactory(title="Nobody's", due_date=DAY)
    TaskFactory(title="The admin's", assignee=admin_user, due_date=DAY)
    client.force_login(operator)
    body = client.get("/", {"date": DAY.isoformat()}).content.decode()
    assert "Mine" in body and "Nobody&#x27;s" in body and "The admin&#x27;s" not in body
    everyone = client.get("/", {"date": DAY.isoformat(), "scope": "all"}).content.decode()
    assert "The admin&#x27;s" in everyone and "Mine" in everyone


@pytest.mark.django_db
def test_unknown_scope_is_named_and_falls_back_to_mine(client, operator, admin_user):
    TaskFactory(title="The admin's", assignee=admin_user, due_date=DAY)
    client.force_login(operator)
    response = client.get("/", {"date": DAY.isoformat(), "scope": "team"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "scope: &#x27;team&#x27; is not one of" in body
    assert "The admin&#x27;s" not in body
