"""The Start today and Insights pages: one task at a time, plain posts, access and query counts."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from recurring.models import RecurringConfig
from tests.factories import TaskFactory, duty_occurrences
from workflows.models import Priority, TaskSource, TaskStatus

pytestmark = pytest.mark.django_db

TODAY = dt.date(2028, 2, 9)


@pytest.fixture(autouse=True)
def _noon(settings):
    settings.PORTAL_TIME_ZONE = "UTC"
    with time_machine.travel(dt.datetime(2028, 2, 9, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


def test_the_page_shows_the_first_task_and_what_comes_next(signed_in, operator):
    TaskFactory(
        title="Send invoices",
        due_date=TODAY,
        priority=Priority.URGENT,
        assignee=operator,
        instructions="Use the template",
    )
    TaskFactory(title="Water plants", due_date=TODAY, assignee=operator)

    page = signed_in.get("/today/").content.decode()

    assert "Send invoices" in page and "Use the template" in page
    assert "Up next" in page and "Water plants" in page
    assert "0 of 2 done today" in page
    assert "Skip for now" in page


def test_completing_by_plain_post_comes_back_to_the_next_task(signed_in, operator):
    first = TaskFactory(title="First", due_date=TODAY, priority=Priority.URGENT, assignee=operator)
    TaskFactory(title="Second", due_date=TODAY, assignee=operator)

    response = signed_in.post(f"/today/{first.pk}/complete/", {"later": ""})

    assert response.status_code == 302 and response["Location"] == "/today/"
    first.refresh_from_db()
    assert first.status == TaskStatus.DONE
    page = signed_in.get("/today/").content.decode()
    assert "First: Completed." in page
    assert "1 of 2 done today" in page


def test_a_refusal_is_shown_and_changes_nothing(signed_in, operator):
    task = TaskFactory(title="Post on LinkedIn", due_date=TODAY, assignee=operator, requires_link="LinkedIn post URL")

    signed_in.post(f"/today/{task.pk}/complete/")

    task.refresh_from_db()
    assert task.status == TaskStatus.TODO
    assert "LinkedIn post URL" in signed_in.get("/today/").content.decode()


def test_skip_for_now_is_a_link_that_keeps_the_task_unchanged(signed_in, operator):
    first = TaskFactory(title="First", due_date=TODAY, priority=Priority.URGENT, assignee=operator)
    TaskFactory(title="Second", due_date=TODAY, assignee=operator)

    page = signed_in.get(f"/today/?later={first.pk}").content.decode()

    assert page.index("Second") < page.index("First")
    first.refresh_from_db()
    assert first.status == TaskStatus.TODO
    response = signed_in.post(f"/today/{first.pk}/start/", {"later": str(first.pk)})
    assert response["Location"] == f"/today/?later={first.pk}"


def test_malformed_later_ids_are_ignored(signed_in, operator):
    TaskFactory(title="Only", due_date=TODAY, assignee=operator)
    assert signed_in.get("/today/?later=nonsense,%00,").status_code == 200


def test_an_empty_queue_shows_the_summary_and_the_streak(signed_in, operator):
    yesterday = TODAY - dt.timedelta(days=1)
    task = TaskFactory(title="Yesterday's", due_date=yesterday, assignee=operator)
    with time_machine.travel(dt.datetime(2028, 2, 8, 10, tzinfo=dt.UTC), tick=False):
        task.complete(by=operator)
    done = TaskFactory(title="Today's", due_date=TODAY, assignee=operator)
    done.complete(by=operator)

    page = signed_in.get("/today/").content.decode()

    assert "All done for today" in page
    assert "You resolved 1 task today" in page
    assert "2-day streak" in page


def test_insights_switch_between_30_and_90_days_and_drill_into_a_config(signed_in, operator):
    config = RecurringConfig.objects.create(title="Mailing list backup", cron_expression="0 10 * * WED")
    day = TODAY - dt.timedelta(days=7)
    task = TaskFactory(
        source=TaskSource.RECURRING, recurring_config=config, window_date=day, due_date=day, assignee=operator
    )
    task.complete(by=operator)

    page = signed_in.get("/insights/?days=90").content.decode()
    assert "Mailing list backup" in page and 'role="button" aria-current="page">Last 90 days' in page
    assert signed_in.get("/insights/?days=7").status_code == 200  # unknown periods fall back to 30

    detail = signed_in.get(f"/insights/configs/{config.pk}/").content.decode()
    assert "Done 7 days late" in detail


@pytest.mark.parametrize("path", ["/today/", "/insights/"])
def test_pages_refuse_anonymous_and_outsiders(client, outsider, path):
    response = client.get(path)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(outsider)
    assert client.get(path).status_code == 403
    assert client.get(path, headers={"HX-Request": "true"}).status_code == 403


def test_actions_refuse_outsiders_and_unknown_actions(client, outsider, operator):
    task = TaskFactory(due_date=TODAY, assignee=operator)
    client.force_login(outsider)
    assert client.post(f"/today/{task.pk}/complete/").status_code == 403
    client.force_login(operator)
    assert client.post(f"/today/{task.pk}/reopen/").status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO


def test_pages_keep_a_constant_number_of_queries(signed_in, operator, django_assert_max_num_queries):
    def build(n):
        duty_occurrences(n, assignee=operator, today=TODAY, spread=4)

    build(2)
    with django_assert_max_num_queries(40) as today_small:
        signed_in.get("/today/")
    with django_assert_max_num_queries(40) as insights_small:
        signed_in.get("/insights/")
    build(25)
    with django_assert_max_num_queries(len(today_small.captured_queries)):
        signed_in.get("/today/")
    with django_assert_max_num_queries(len(insights_small.captured_queries)):
        signed_in.get("/insights/")
