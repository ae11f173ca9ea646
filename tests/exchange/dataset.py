"""A portal holding every entity and relationship an export must carry, made the way the product
makes them (services and model methods), plus the secrets that must never leave it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import time_machine
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token

from notifications.models import ChannelPreference, Notification, NotificationType
from notifications.services import notify
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger
from recurring.services import backfill, pause_config
from tests.factories import AdminFactory, OperatorFactory
from tests.recurring.factories import make_config, make_template, utc
from workflows.models import Task, TaskStatus, add_proof
from workflows.services import instantiate_run

FILE_CONTENT = b"bank statement 2028-01 :: content-that-must-never-be-exported\n"


@dataclass
class Secrets:
    """Values that exist in the portal and must appear in no exported byte."""

    values: list[str] = field(default_factory=list)


def build_portal() -> Secrets:
    """Users (operator, admin, superuser), a recurring duty with generated tasks, a paused one,
    an automatic template with a run (dependencies, run links, a file proof, a waiting task with
    a follow-up), a manual task, notifications of every type, generation runs including a
    failure, and delivery preferences."""
    secrets = Secrets()
    User = get_user_model()
    operator = OperatorFactory(username="olivia", first_name="Olivia", email="olivia@example.com")
    admin = AdminFactory(username="adam", email="adam@example.com")
    root = User.objects.create_superuser("root", "root@example.com", "root-password-1")
    for user in (operator, admin, root):
        user.refresh_from_db()
        secrets.values.append(user.password)
    secrets.values.append(Token.objects.create(user=operator).key)
    session = SessionStore()
    session["_auth_user_id"] = str(operator.pk)
    session.create()
    secrets.values.append(session.session_key)

    # A recurring duty with five generated windows, one completed with a note proof.
    config = make_config(
        created=utc(2028, 1, 1, 8),
        title="Handle Slack invites",
        cron="0 9 * * *",
        assignee=operator,
        area="Community",
        requires_proof_note=True,
        instructions="Open the Airtable view and invite everyone approved.",
    )
    with time_machine.travel(utc(2028, 1, 6, 12), tick=False):
        backfill(config, start=dt.date(2028, 1, 1), end=dt.date(2028, 1, 5), by=admin)
        first = Task.objects.get(recurring_config=config, window_date=dt.date(2028, 1, 1))
        add_proof(first, by=operator, kind="note", note="Invited 4 people.")
        first.complete(by=operator)
        paused = make_config(created=utc(2028, 1, 2, 8), title="Back up the mailing list", cron="0 10 * * WED")
        pause_config(paused, by=admin)

    # An automatic template and one of its runs.
    template = make_template(
        created=utc(2028, 1, 1, 8),
        name="Weekly newsletter",
        run_links=["Mailchimp newsletter"],
        tasks=[
            {"ref": "collect", "title": "Collect items", "stage": "draft", "offset_days": -4},
            {
                "ref": "draft",
                "title": "Write the draft",
                "stage": "draft",
                "offset_days": -2,
                "depends_on": ["collect"],
                "requires_file": True,
            },
            {
                "ref": "send",
                "title": "Send it",
                "stage": "send",
                "offset_days": 0,
                "depends_on": ["draft"],
                "requires_run_links": ["Mailchimp newsletter"],
                "requires_link": "Newsletter link",
            },
        ],
    )
    with time_machine.travel(utc(2028, 1, 10, 9), tick=False):
        run = instantiate_run(template=template, anchor_date=dt.date(2028, 1, 16), by=admin).run
        run.fill_link(name="Mailchimp newsletter", url="https://mailchimp.com/campaigns/123?tab=edit", by=admin)
        collect = run.tasks.get(template_task_ref="collect")
        collect.start(by=operator)
        collect.add_comment(by=operator, body="Three items so far.")
        collect.complete(by=operator)
        draft = run.tasks.get(template_task_ref="draft")
        upload = SimpleUploadedFile("statement.txt", FILE_CONTENT, content_type="text/plain")
        add_proof(draft, by=operator, kind="file", file=upload)
        draft.mark_waiting(
            by=operator, waiting_for="Sponsor copy", follow_up_at=dt.date(2028, 1, 12), note="Asked the sponsor."
        )
        draft.follow_up_sent(by=operator, note="Reminded them.", next_follow_up_at=dt.date(2028, 1, 13))

        manual = Task.objects.create(
            title="Renew the domain",
            due_date=dt.date(2028, 1, 20),
            due_time=dt.time(14, 30),
            priority="high",
            requires_link="Receipt",
            created_by=admin,
        )
        add_proof(manual, by=admin, kind="link", label="Receipt", url="https://registrar.example/receipts/77")
        manual.complete(by=admin)
        skipped = Task.objects.create(title="Old chore", due_date=dt.date(2028, 1, 3))
        skipped.skip(by=admin, reason="No longer needed")
        archived = Task.objects.create(title="Duplicate", due_date=dt.date(2028, 1, 4))
        archived.archive(by=admin)

        # Notifications of every type (the product raised some already; make sure of each).
        subjects = {
            NotificationType.TASK_DUE: {"task": manual},
            NotificationType.TASK_OVERDUE: {"task": first},
            NotificationType.FOLLOW_UP_DUE: {"task": draft},
            NotificationType.RECURRING_DUE: {"task": first, "recurring_config": config},
            NotificationType.WORKFLOW_CREATED: {"run": run, "template": template},
            NotificationType.STAGE_CHANGE: {"run": run},
            NotificationType.MISSING_EVIDENCE: {"task": draft},
            NotificationType.AUTOMATION_FAILURE: {"recurring_config": config, "window_date": dt.date(2028, 1, 9)},
            NotificationType.MISSED_WINDOWS: {"template": template},
        }
        for kind, subject in subjects.items():
            notify(
                kind,
                recipients=[operator, admin],
                dedup_key=f"{kind}:export-test",
                title=f"{kind.label}",
                body="Something needs attention.",
                link="/",
                data={"reason": kind.value, "windows": ["2028-01-09"]},
                **subject,
            )
        Notification.objects.filter(type=NotificationType.TASK_DUE, recipient=operator).first().dismiss()
        failure = Notification.objects.filter(type=NotificationType.MISSED_WINDOWS, recipient=admin).first()
        failure.acknowledge(by=admin, note="Backfilled by hand.")

        GenerationRun.objects.create(
            recurring_config=config,
            trigger=GenerationTrigger.BEAT,
            status=GenerationStatus.FAILED,
            at=utc(2028, 1, 9, 9),
            failed=1,
            failed_window=dt.date(2028, 1, 9),
            error="OperationalError: database is locked",
            failure_key=f"automation-failure:recurring:{config.pk}:2028-01-09",
            finished_at=utc(2028, 1, 9, 9, 0, 1),
        )
        ChannelPreference.objects.create(user=operator, type=NotificationType.TASK_OVERDUE, email="immediate")
        ChannelPreference.objects.create(user=operator, type=NotificationType.FOLLOW_UP_DUE, email="digest")
        ChannelPreference.objects.create(user=admin, type=NotificationType.AUTOMATION_FAILURE, email="immediate")
    assert draft.status == TaskStatus.WAITING
    return secrets


def wipe_portal() -> None:
    """Remove every portal record (children first), leaving an empty installation."""
    from django.contrib.sessions.models import Session

    from notifications.models import ChannelPreference as Preference
    from recurring.models import RecurringConfig
    from workflows.models import Proof, Run, RunLink, TaskComment, TaskDependency, TemplateTask, WorkflowTemplate

    for model in (
        Notification,
        Preference,
        GenerationRun,
        Proof,
        TaskComment,
        TaskDependency,
        Task,
        RunLink,
        Run,
        TemplateTask,
        WorkflowTemplate,
        RecurringConfig,
        Token,
        Session,
    ):
        model._default_manager.all().delete()
    get_user_model().objects.all().delete()
