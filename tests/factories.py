"""factory-boy factories for the portal's models."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from workflows.members import ADMINS, OPERATORS
from workflows.models import Proof, ProofKind, Run, Task, TemplateTask, WorkflowTemplate

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
