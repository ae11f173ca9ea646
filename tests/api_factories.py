"""Builders for the REST API tests: templates and runs made the way the product makes them
(``save_template`` / ``instantiate_run``), tasks in any status, recurring tasks, upload files."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from tests.factories import TaskFactory
from workflows.models import Run, Task, TaskSource, TaskStatus, WorkflowTemplate
from workflows.services import instantiate_run, save_template

DAY = dt.date(2028, 2, 9)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every test user gets a password and real PBKDF2 costs ~0.4 s each; import this fixture
    into a test module to make that cost vanish there."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def spec(ref: str, **values) -> dict:
    """One template task definition; the title defaults to ``Task <ref>``."""
    return {"ref": ref, "title": values.pop("title", f"Task {ref}"), **values}


def make_template(
    *tasks: dict, name: str | None = None, stages=("draft", "review"), run_links=(), archived_at=None, **data
) -> WorkflowTemplate:
    template = save_template(
        data={
            "name": name or f"Newsletter {next(_numbers)}",
            "stages": list(stages),
            "run_links": list(run_links),
            **data,
        },
        tasks=list(tasks),
    )
    if archived_at:
        WorkflowTemplate.objects.filter(pk=template.pk).update(archived_at=archived_at)
        template.refresh_from_db()
    return template


def launch(template: WorkflowTemplate, anchor: dt.date = DAY) -> Run:
    return instantiate_run(template=template, anchor_date=anchor).run


def task_of(run: Run, ref: str) -> Task:
    return Task.objects.get(run=run, template_task_ref=ref)


def task_in(status: str, **values) -> Task:
    """A manual task already in ``status`` (with the fields that status needs)."""
    extra: dict = {}
    if status == TaskStatus.WAITING:
        extra = {"waiting_for": "Sponsor reply", "follow_up_at": DAY + dt.timedelta(days=3)}
    elif status == TaskStatus.DONE:
        extra = {"completed_at": timezone.now()}
    return TaskFactory(status=status, **{"due_date": DAY, **extra, **values})


def make_config(title: str | None = None, **values) -> RecurringConfig:
    return RecurringConfig.objects.create(
        title=title or f"Daily duty {next(_numbers)}", cron_expression="0 9 * * *", timezone="UTC", **values
    )


def recurring_task(config: RecurringConfig, window: dt.date = DAY, **values) -> Task:
    return TaskFactory(
        title=config.title,
        source=TaskSource.RECURRING,
        recurring_config=config,
        window_date=window,
        due_date=window,
        **values,
    )


def failed_generation(config: RecurringConfig, window: dt.date = DAY, **values) -> GenerationRun:
    return GenerationRun.objects.create(
        recurring_config=config,
        **{
            "trigger": GenerationTrigger.RECONCILE,
            "status": GenerationStatus.FAILED,
            "at": timezone.now(),
            "failed_window": window,
            "failed": 1,
            "error": "boom",
            **values,
        },
    )


def upload(name: str = "report.pdf", content: bytes = b"%PDF-1.4 report", content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)
