import datetime as dt

import pytest
import time_machine

from tests.factories import TaskFactory


@pytest.mark.django_db
@time_machine.travel(dt.datetime(2028, 2, 10, 12, tzinfo=dt.UTC), tick=False)
def test_waiting_work_is_never_shown_overdue_by_its_due_date(client, operator):
    late = TaskFactory(title="Late todo", assignee=operator, due_date=dt.date(2028, 2, 7))
    waiting = TaskFactory(title="Waiting one", assignee=operator, due_date=dt.date(2028, 2, 1))
    waiting.mark_waiting(by=operator, waiting_for="Sponsor", follow_up_at=dt.date(2028, 2, 9), note="Asked")
    client.force_login(operator)
    body = client.get("/").content.decode()
    assert body.count("overdue by") == 1
    assert "overdue by 3 days" in body
    assert "follow-up due" in body
    assert late.title in body


@pytest.mark.django_db
def test_my_work_shows_mine_and_unassigned_only(client, operator, admin_user):
    TaskFactory(title="Mine", assignee=operator)
    TaskFactory(title="Nobody's")
    TaskFactory(title="The admin's", assignee=admin_user)
    client.force_login(operator)
    body = client.get("/").content.decode()
    assert "Mine" in body and "Nobody&#x27;s" in body and "The admin&#x27;s" not in body


@pytest.mark.django_db
def test_my_work_empty_state(client, operator):
    client.force_login(operator)
    assert "Nothing open for you" in client.get("/").content.decode()


@pytest.mark.django_db
def test_my_work_query_count_is_constant(client, operator, django_assert_max_num_queries):
    client.force_login(operator)
    for size in (2, 40):
        TaskFactory.create_batch(size, assignee=operator)
        with django_assert_max_num_queries(6):
            assert client.get("/").status_code == 200
