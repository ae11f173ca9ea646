"""Bad input on PostgreSQL, where it once ended in a ``DataError``: an instant off the portal's
calendar never reaches a timestamp column (every read afterwards still works), and NUL never
reaches a text column or a lookup.

These tests run inside the PostgreSQL pass (see ``conftest.py``)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from recurring.models import GenerationRun, RecurringConfig
from tests.factories import TaskFactory, launch_result, make_recurring_config, make_template, spec, utc
from tests.integration.conftest import on_postgres
from workflows.models import Proof, RunStatus, Task, TaskComment, TaskStatus

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

NOW = utc(2028, 3, 1, 12)


@pytest.mark.parametrize("value", ["0001-01-01T00:00+14:00", "0001-01-01T00:00", "9999-12-31T23:59-12:00"])
def test_run_schedules_off_the_calendar_writes_nothing_and_every_read_still_works(api, time_machine, value):
    assert on_postgres(), "this test needs the PostgreSQL pass"
    time_machine.move_to(NOW, tick=False)
    for zone in ("UTC", "Pacific/Kiritimati", "Etc/GMT+12"):
        make_recurring_config(created=utc(2028, 2, 1, 8), tz=zone)
    before = list(RecurringConfig.objects.order_by("pk").values_list("next_fire_at", "retry_at"))

    with pytest.raises(CommandError) as refused:
        call_command("run_schedules", "--at", value)

    assert "outside the portal's calendar" in str(refused.value) and "\n" not in str(refused.value)
    assert not GenerationRun.objects.exists()
    assert list(RecurringConfig.objects.order_by("pk").values_list("next_fire_at", "retry_at")) == before
    for path in ("/api/v1/home/", "/api/v1/recurring-configs/", "/api/v1/generation-runs/"):
        assert api.get(path).status_code == 200, path
    call_command("run_schedules")


@pytest.mark.parametrize("htmx", [False, True])
def test_nul_in_page_forms_is_refused_not_a_database_error(client, operator, htmx):
    assert on_postgres(), "this test needs the PostgreSQL pass"
    task = TaskFactory(assignee=operator)
    run = launch_result(make_template(spec("a"), run_links=("Doc",))).run
    client.force_login(operator)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    posts = [
        (reverse("task-action", args=[task.pk, "comment"]), {"body": "x\x00y"}),
        (
            reverse("task-action", args=[task.pk, "wait"]),
            {"waiting_for": "S\x00", "follow_up_at": "2028-02-10", "note": "n"},
        ),
        (reverse("task-action", args=[task.pk, "skip"]), {"reason": "r\x00"}),
        (reverse("task-action", args=[task.pk, "complete"]), {"note": "n\x00"}),
        (reverse("task-action", args=[task.pk, "proof"]), {"kind": "note", "note": "n\x00"}),
        (reverse("run-action", args=[run.pk, "links"]), {"name": "Doc\x00", "url": "https://example.com"}),
        (reverse("run-action", args=[run.pk, "cancel"]), {"reason": "r\x00"}),
    ]
    for path, data in posts:
        response = client.post(path, data, **headers)
        assert response.status_code < 500, (path, data)
    task.refresh_from_db()
    run.refresh_from_db()
    assert task.status == TaskStatus.TODO and not TaskComment.objects.exists() and not Proof.objects.exists()
    assert run.status == RunStatus.ACTIVE


def test_nul_in_usernames_and_filters_is_a_400_on_postgresql(api):
    assert on_postgres(), "this test needs the PostgreSQL pass"
    assert api.get("/api/v1/tasks/", {"assignee": "\x00"}).status_code == 400
    response = api.post("/api/v1/tasks/", {"title": "T", "due_date": "2028-02-09", "assignee": "o\x00"}, format="json")
    assert response.status_code == 400
    body = {"name": "N", "tasks": [{"ref": "a", "title": "A", "assignee": "o\x00"}]}
    assert api.post("/api/v1/templates/", body, format="json").status_code == 400
    assert not Task.objects.exists()
