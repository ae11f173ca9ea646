"""Builders for work-engine tests: templates through ``save_template`` (so they are valid the
way the product makes them), runs through ``instantiate_run``, and uploaded proof files."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from workflows.models import Task, WorkflowTemplate
from workflows.services import RunResult, instantiate_run, save_template

ANCHOR = dt.date(2028, 2, 9)
_names = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Users made by the factories get a password; real PBKDF2 costs ~0.4 s each. Import this
    fixture into a test module to make that cost vanish there."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def spec(ref: str, **values) -> dict:
    """One template task definition; the title defaults to ``Task <ref>``."""
    return {"ref": ref, "title": values.pop("title", f"Task {ref}"), **values}


def make_template(
    *tasks: dict,
    name: str | None = None,
    stages: tuple[str, ...] = ("draft", "review", "publish"),
    run_links: tuple[str, ...] = (),
    **data,
) -> WorkflowTemplate:
    return save_template(
        data={
            "name": name or f"Newsletter {next(_names)}",
            "stages": list(stages),
            "run_links": list(run_links),
            **data,
        },
        tasks=list(tasks),
    )


def launch(template: WorkflowTemplate, anchor: dt.date = ANCHOR, by=None) -> RunResult:
    return instantiate_run(template=template, anchor_date=anchor, by=by)


def task_of(run, ref: str) -> Task:
    return Task.objects.get(run=run, template_task_ref=ref)


def upload(
    name: str = "report.pdf", content: bytes = b"%PDF-1.4 quarterly report", content_type: str = "application/pdf"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)
