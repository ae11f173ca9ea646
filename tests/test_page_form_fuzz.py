"""A small fuzzer over every form an operator page posts (task and run actions, Home filters,
the recurring config form, preview and backfill, the template editor, launch and clone,
acknowledging a notification, Start today's actions): NUL and other control characters, a
megabyte of text, dates off the portal's calendar and malformed dates, one field at a time and in
seeded random combinations, as plain and as HTMX requests. Never a server error; a refusal
changes nothing; no control character is ever stored.

Seeded and bounded: the single-field cases are enumerated, the combinations drawn from a fixed
seed, every request rolled back afterwards; the whole run takes a few seconds.
"""

from __future__ import annotations

import hashlib
import logging
import random

import pytest
from django.db import transaction
from django.urls import reverse

from notifications.models import Notification, NotificationType
from portal.today_views import TODAY_ACTIONS
from recurring.models import GenerationRun, RecurringConfig
from tests.factories import failed_generation, launch, make_config, make_template, spec, task_of
from workflows.forms import TASK_PAGE_FORMS
from workflows.models import Proof, Run, RunLink, Task, TaskComment, TemplateTask, WorkflowTemplate

pytestmark = pytest.mark.django_db

SEED = 20261205
COMBINATIONS = 60
HUGE = "x" * 1_000_000
TEXT_PAYLOADS = {"nul": "a\x00b", "bell": "a\x07b", "huge": HUGE, "year-1": "0001-01-01"}
DATE_PAYLOADS = {
    "nul": "2028-02-0\x00",
    "year-1": "0001-01-01",
    "year-9999": "9999-12-31",
    "malformed-date": "2028-02-30",
    "not-a-date": "01/02/2028",
    "far-instant": "0001-01-01T00:00+14:00",
    "huge": HUGE,
}
PAYLOADS = {**TEXT_PAYLOADS, **DATE_PAYLOADS, "bell": "a\x07b", "number-overflow": "9" * 40}


def payloads_for(field: str) -> dict[str, str]:
    """Dates get every kind of bad date; other fields bad text, one far date and a huge number."""
    if "date" in field or field in ("starts_on", "follow_up_at", "next_follow_up_at"):
        return DATE_PAYLOADS
    return {**TEXT_PAYLOADS, "number-overflow": "9" * 40}


TEXT_COLUMNS = {
    Task: ["title", "instructions", "waiting_for", "area"],
    TaskComment: ["body"],
    Proof: ["label", "url", "note"],
    Run: ["title", "cancel_reason"],
    RunLink: ["name", "url"],
    WorkflowTemplate: ["name", "description", "category"],
    TemplateTask: ["title", "instructions", "ref"],
    RecurringConfig: ["title", "instructions", "area"],
    Notification: ["acknowledgement_note"],
}


def snapshot() -> str:
    """A digest of everything a page form can change."""
    digest = hashlib.sha256()
    for model in (*TEXT_COLUMNS, GenerationRun):
        for row in model.objects.order_by("pk").values():
            digest.update(repr(sorted(row.items())).encode())
    return digest.hexdigest()


def control_characters_stored() -> list[str]:
    """The models holding a NUL or a BEL in one of their text columns (read in Python: a
    database's LIKE is no judge of NUL)."""
    found = []
    for model, columns in TEXT_COLUMNS.items():
        for row in model.objects.values_list(*columns):
            if any(isinstance(value, str) and ("\x00" in value or "\x07" in value) for value in row):
                found.append(model.__name__)
                break
    return found


@pytest.fixture
def world(admin_user):
    run = launch(make_template(spec("a"), spec("b", depends_on=["a"]), run_links=("Doc",), name="Monthly close"))
    task = task_of(run, "a")
    task.assignee = admin_user
    task.save()
    config = make_config("Check backups", assignee=admin_user)
    generation = failed_generation(config)
    notification = Notification.objects.create(
        recipient=admin_user,
        type=NotificationType.AUTOMATION_FAILURE,
        title="Check backups failed",
        recurring_config=config,
        dedup_key=f"failure:{generation.pk}",
    )
    template = run.template
    task_form = {
        "tasks-TOTAL_FORMS": "1",
        "tasks-INITIAL_FORMS": "1",
        "tasks-0-ref": "a",
        "tasks-0-title": "A",
        "tasks-0-offset_days": "0",
    }
    task_fields = {
        "note": "n",
        "reason": "r",
        "body": "b",
        "waiting_for": "Sam",
        "follow_up_at": "2028-02-10",
        "next_follow_up_at": "2028-02-12",
        "kind": "note",
        "label": "L",
        "url": "https://example.com",
        "cascade": "false",
    }
    home = {"home": "1", "home_date": "2028-02-02", "home_scope": "all"}
    forms = {}
    for action, form in TASK_PAGE_FORMS.items():
        base = {name: task_fields[name] for name in form.base_fields if name in task_fields}
        forms[f"task-{action}"] = (f"/tasks/{task.pk}/{action}/", {**base, **(home if action == "comment" else {})})
        if action in TODAY_ACTIONS:
            forms[f"today-{action}"] = (f"/today/{task.pk}/{action}/", {**base, "later": str(task.pk)})
    for action in ("links", "pause", "resume", "cancel"):
        base = {"links": {"name": "Doc", "url": "https://example.com"}, "cancel": {"reason": "r"}}.get(action)
        forms[f"run-{action}"] = (f"/runs/{run.pk}/{action}/", base or {"reason": "r"})
    return {
        **forms,
        "config-create": (
            reverse("recurring-config-create"),
            {
                "title": "T",
                "cron_expression": "0 9 * * *",
                "timezone": "UTC",
                "starts_on": "2028-03-01",
                "instructions": "i",
                "instructions_url": "https://example.com",
                "area": "A",
                "priority": "normal",
                "catch_up": "latest",
                "estimate_minutes": "5",
                "enabled": "on",
            },
        ),
        "config-edit": (
            reverse("recurring-config-edit", args=[config.pk]),
            {
                "title": "T",
                "cron_expression": "0 9 * * *",
                "timezone": "UTC",
                "starts_on": "2028-03-01",
                "priority": "normal",
                "catch_up": "latest",
            },
        ),
        "backfill": (
            reverse("recurring-backfill", args=["configs", config.pk]),
            {"start_date": "2028-01-01", "end_date": "2028-01-03"},
        ),
        "template-edit": (
            reverse("template-edit", args=[template.pk]),
            {
                "name": "Monthly close",
                "description": "d",
                "category": "c",
                "stages": "draft",
                "run_links": "Doc",
                **task_form,
            },
        ),
        "template-add-task": (
            reverse("template-edit", args=[template.pk]),
            {"name": "Monthly close", "stages": "draft", "add_task": "1", **task_form},
        ),
        "launch": (reverse("run-launch", args=[template.pk]), {"anchor_date": "2028-04-01"}),
        "clone": (reverse("template-clone", args=[template.pk]), {"name": "Copy"}),
        "acknowledge": (reverse("notification-acknowledge", args=[notification.pk]), {"note": "handled"}),
    }


GETS = {
    "home": ("/", {"date": "2028-02-02", "scope": "all"}),
    "preview": (
        reverse("recurring-preview"),
        {"cron_expression": "0 9 * * *", "timezone": "UTC", "starts_on": "2028-03-01"},
    ),
    "launch-preview": (None, {"anchor_date": "2028-04-01"}),
    "run-list": ("/workflows/", {"q": "close", "status": "active", "at_risk": ""}),
    "template-library": ("/workflows/templates/", {"q": "close"}),
    "recurring-list": ("/recurring/", {"state": "active", "archived": "include", "failing": "true"}),
    "inbox": ("/notifications/", {"state": "unread", "type": "task-due"}),
    "start-today": ("/today/", {"later": ""}),
}


def cases(world) -> list[tuple[str, str, dict]]:
    """(label, path, data): each field of each form given each payload alone, then seeded random
    combinations of several fields at once."""
    rng = random.Random(SEED)
    single, combined = [], []
    for name, (path, base) in world.items():
        for field in base:
            for payload_name, payload in payloads_for(field).items():
                single.append((f"{name}/{field}={payload_name}", path, {**base, field: payload}))
    names = sorted(world)
    for _ in range(COMBINATIONS):
        name = rng.choice(names)
        path, base = world[name]
        fields = rng.sample(sorted(base), k=min(len(base), rng.randint(1, 4)))
        data = {**base, **{field: rng.choice(list(PAYLOADS.values())) for field in fields}}
        combined.append((f"{name}/combination", path, data))
    return single + combined


def test_page_forms_survive_bad_input_and_refusals_change_nothing(client, admin_user, world, caplog):
    caplog.set_level(logging.CRITICAL, logger="django.request")
    client.force_login(admin_user)
    client.raise_request_exception = False
    all_cases = cases(world)
    faults: list[str] = []
    before = snapshot()  # every request is rolled back, so each one starts from this state
    for index, (label, path, data) in enumerate(all_cases):
        htmx = index % 2 == 1
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        with transaction.atomic():
            response = client.post(path, data, **headers)
            if response.status_code >= 500:
                faults.append(f"{label} ({'htmx' if htmx else 'plain'}): {response.status_code}")
            elif response.status_code >= 400 and snapshot() != before:
                faults.append(f"{label}: refused with {response.status_code} but changed data")
            stored = control_characters_stored() if "\x00" in str(data) or "\x07" in str(data) else []
            if stored:
                faults.append(f"{label}: control characters stored in {', '.join(stored)}")
            transaction.set_rollback(True)
    assert len(all_cases) > 500
    assert not faults, "\n".join(faults[:40])


def test_page_queries_survive_bad_input(client, admin_user, world, caplog):
    caplog.set_level(logging.CRITICAL, logger="django.request")
    client.force_login(admin_user)
    client.raise_request_exception = False
    launch_path = world["launch"][0]
    faults = []
    for name, (path, base) in GETS.items():
        path = path or launch_path
        for field in base:
            for payload_name, payload in payloads_for(field).items():
                for htmx in (False, True):
                    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
                    response = client.get(path, {**base, field: payload}, **headers)
                    if response.status_code >= 500:
                        faults.append(f"{name}/{field}={payload_name}: {response.status_code}")
    assert not faults, "\n".join(faults)
