"""factory-boy factories for the portal's models."""

from __future__ import annotations

import datetime as dt
import itertools

import factory
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from recurring.services import save_config
from workflows.members import ADMINS, OPERATORS
from workflows.models import (
    Proof,
    ProofKind,
    Run,
    Task,
    TaskSource,
    TaskStatus,
    TemplateTask,
    WorkflowTemplate,
)
from workflows.services import RunResult, instantiate_run, save_template

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            for name in extracted:
                self.groups.add(Group.objects.get_or_create(name=name)[0])
        if create:
            self.save()


def _role(name: str):
    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get_or_create(name=name)[0])

    return role


class OperatorFactory(UserFactory):
    role = _role(OPERATORS)


class AdminFactory(UserFactory):
    is_staff = True
    role = _role(ADMINS)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    title = factory.Sequence(lambda n: f"Task {n}")
    due_date = factory.LazyFunction(lambda: dt.date(2028, 2, 2))


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkflowTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    stages = factory.LazyFunction(lambda: ["draft", "review"])


class TemplateTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TemplateTask

    template = factory.SubFactory(TemplateFactory)
    ref = factory.Sequence(lambda n: f"t{n}")
    title = factory.Sequence(lambda n: f"Template task {n}")
    stage = "draft"


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run

    template = factory.SubFactory(TemplateFactory)
    anchor_date = factory.Sequence(lambda n: dt.date(2028, 1, 1) + dt.timedelta(days=n))
    title = factory.LazyAttribute(lambda r: f"{r.template.name} — {r.anchor_date.isoformat()}")


class ProofFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Proof

    task = factory.SubFactory(TaskFactory)
    kind = ProofKind.NOTE
    note = "Done and checked."


# ============================================================================================
# Work engine and API builders: templates through ``save_template`` and runs through
# ``instantiate_run`` (valid the way the product makes them), tasks in any status, recurring
# tasks and failed generations, uploaded proof files.
# ============================================================================================

#: The day most tests are set on (a Wednesday).
DAY = dt.date(2028, 2, 9)
#: A run's anchor date in the work-engine tests: the same day.
ANCHOR = DAY
_numbers = itertools.count(1)


def spec(ref: str, **values) -> dict:
    """One template task definition; the title defaults to ``Task <ref>``."""
    return {"ref": ref, "title": values.pop("title", f"Task {ref}"), **values}


def make_template(
    *tasks: dict,
    name: str | None = None,
    stages: tuple[str, ...] = ("draft", "review", "publish"),
    run_links: tuple[str, ...] = (),
    archived_at: dt.datetime | None = None,
    **data,
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


def launch_result(template: WorkflowTemplate, anchor: dt.date = DAY, by=None) -> RunResult:
    return instantiate_run(template=template, anchor_date=anchor, by=by)


def launch(template: WorkflowTemplate, anchor: dt.date = DAY, by=None) -> Run:
    return launch_result(template, anchor, by=by).run


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


#: One task of each Operations Home group on DAY, numbered ``n`` (title prefix by group).
HOME_GROUP_TASKS = {
    "follow_ups_due": lambda n: task_in("waiting", title=f"chase {n:02d}", follow_up_at=DAY - dt.timedelta(days=1)),
    "overdue": lambda n: task_in("todo", title=f"late {n:02d}", due_date=DAY - dt.timedelta(days=1 + n)),
    "missing_evidence": lambda n: task_in("todo", title=f"proofless {n:02d}", requires_proof_note=True),
    "today": lambda n: task_in("in_progress", title=f"today {n:02d}"),
    "waiting": lambda n: task_in("waiting", title=f"patient {n:02d}", follow_up_at=DAY + dt.timedelta(days=2)),
    "upcoming": lambda n: task_in("todo", title=f"soon {n:02d}", due_date=DAY + dt.timedelta(days=1 + n % 7)),
}


def duty_occurrences(count: int, *, assignee, today: dt.date, spread: int) -> None:
    """``count`` recurring duties with one occurrence each, assigned to ``assignee`` and due on
    one of the ``spread`` days up to ``today`` (Start today and Insights at two sizes)."""
    for i in range(count):
        config = make_config(f"Duty {next(_numbers)}")
        day = today - dt.timedelta(days=i % spread)
        TaskFactory(
            source=TaskSource.RECURRING, recurring_config=config, window_date=day, due_date=day, assignee=assignee
        )


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


def upload(
    name: str = "report.pdf", content: bytes = b"%PDF-1.4 quarterly report", content_type: str = "application/pdf"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


# =============================================================================================
# Recurring: schedules made the way the product makes them (``save_config`` / ``save_template``)
# at a chosen creation instant, since creation counts as a resume and so decides which windows
# are due.
# =============================================================================================

_schedule_numbers = itertools.count(1)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def make_recurring_config(*, created: dt.datetime, cron: str = "0 9 * * *", tz: str = "UTC", **data) -> RecurringConfig:
    """A config saved through the service as if at ``created``."""
    values = {
        "title": data.pop("title", f"Duty {next(_schedule_numbers)}"),
        "cron_expression": cron,
        "timezone": tz,
        **data,
    }
    with time_machine.travel(created, tick=False):
        return save_config(data=values)


def make_automatic_template(
    *,
    created: dt.datetime,
    cron: str = "0 9 * * TUE",
    tz: str = "UTC",
    lead_days: int = 7,
    tasks: list[dict] | None = None,
    **data,
) -> WorkflowTemplate:
    """An automatic template (draft → send) saved through ``save_template`` as if at ``created``."""
    values = {
        "name": data.pop("name", f"Newsletter {next(_schedule_numbers)}"),
        "stages": ["draft", "send"],
        "trigger_type": "automatic",
        "trigger_schedule": cron,
        "trigger_timezone": tz,
        "trigger_lead_days": lead_days,
        **data,
    }
    if tasks is None:
        tasks = [
            {"ref": "draft", "title": "Write the draft", "stage": "draft", "offset_days": -2},
            {"ref": "send", "title": "Send it", "stage": "send", "offset_days": 0, "depends_on": ["draft"]},
        ]
    with time_machine.travel(created, tick=False):
        return save_template(data=values, tasks=tasks)
