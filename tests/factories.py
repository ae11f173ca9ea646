"""factory-boy factories for the portal's models."""

from __future__ import annotations

import datetime as dt
import itertools

import factory
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from recurring.models import RecurringConfig
from recurring.services import save_config
from workflows.members import ADMINS, OPERATORS
from workflows.models import Proof, ProofKind, Run, Task, TemplateTask, WorkflowTemplate
from workflows.services import save_template

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
