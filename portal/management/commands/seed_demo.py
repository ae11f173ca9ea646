"""``manage.py seed_demo``: demo users and a lively dataset for trying the portal."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from portal.management.commands.seed_v1_duties import seed_v1_duties
from workflows.members import ADMINS, OPERATORS
from workflows.models import Run, Task, WorkflowTemplate, add_proof, portal_today
from workflows.seeds import NEWSLETTER, SOCIAL_MEDIA, TAX_REPORT
from workflows.services import create_manual_task, instantiate_run

# Documented in the README; used only while DEBUG is on (a local portal). Anywhere else each demo
# user gets a random password, printed once.
DEMO_PASSWORD = "portal-demo-2028"
DEMO_USERS = (
    # username, group, is_staff, first name
    ("operator", OPERATORS, False, "Olivia"),
    ("manager", ADMINS, True, "Max"),
)


def _day(offset: int) -> dt.date:
    return portal_today() + dt.timedelta(days=offset)


class Command(BaseCommand):
    help = (
        "Create the demo users 'operator' and 'manager', the V1 duties and templates, and — when the "
        "portal holds no tasks yet — workflow runs at different stages, overdue and waiting work and "
        "tasks missing their proof. Safe to run again: nothing is duplicated."
    )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        operator, manager = self._ensure_users()
        counts = seed_v1_duties(assignee=operator)
        self.stdout.write(
            f"V1 duties: {counts['configs']} recurring configs, {counts['templates']} automatic templates."
        )
        # The dataset is made once, for an empty portal: real or already-seeded work is never mixed
        # with (or topped up by) demo work, and re-running on a later day adds nothing.
        if Task.objects.exists():
            self.stdout.write("Demo work: the portal already holds tasks; left as it is.")
            return
        self._create_runs(operator, manager)
        self._create_manual_tasks(operator, manager)
        self.stdout.write(
            f"Demo work: {Run.objects.count()} workflow runs and {Task.objects.count()} tasks created "
            f"around {portal_today().isoformat()}."
        )

    # ---- users ---------------------------------------------------------------------------
    def _ensure_users(self):
        User = get_user_model()
        users = []
        for username, group, is_staff, first_name in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                password = DEMO_PASSWORD if settings.DEBUG else secrets.token_urlsafe(12)
                user = User(username=username, email=f"{username}@example.com", first_name=first_name)
                user.is_staff = is_staff
                user.set_password(password)
                user.save()
                user.groups.add(Group.objects.get_or_create(name=group)[0])
                self.stdout.write(f"Demo user created: username '{username}', password '{password}' ({group}).")
            else:
                self.stdout.write(f"Demo user '{username}' exists; its password is unchanged.")
            users.append(user)
        return users

    # ---- workflow runs -------------------------------------------------------------------
    def _run(self, template: WorkflowTemplate, anchor_offset: int, assignee) -> tuple[Run, dict[str, Task]]:
        run = instantiate_run(template=template, anchor_date=_day(anchor_offset), by=assignee).run
        run.tasks.update(assignee=assignee)
        tasks = {task.template_task_ref: task for task in run.tasks.select_related("run")}
        return run, tasks

    def _create_runs(self, operator, manager) -> None:
        templates = {
            t.name: t for t in WorkflowTemplate.objects.filter(name__in=[NEWSLETTER, SOCIAL_MEDIA, TAX_REPORT])
        }
        newsletter, social, tax = templates[NEWSLETTER], templates[SOCIAL_MEDIA], templates[TAX_REPORT]
        by = operator

        # Last week's newsletter: everything done with its proof, so the run is completed.
        run, tasks = self._run(newsletter, -6, operator)
        run.fill_link(name="Mailchimp newsletter", url="https://mailchimp.example/campaigns/last-week", by=by)
        tasks["collect"].complete(by=by)
        tasks["draft"].complete(by=by)
        add_proof(tasks["review"], by=by, kind="note", note="Fixed two broken links and the sponsor name.")
        tasks["review"].complete(by=by)
        add_proof(tasks["schedule"], by=by, kind="link", label="newsletter link", url="https://news.example/last-week")
        tasks["schedule"].complete(by=by)

        # This week's newsletter: drafted, but the review is three days overdue (at risk, in review).
        run, tasks = self._run(newsletter, 1, operator)
        run.fill_link(name="Mailchimp newsletter", url="https://mailchimp.example/campaigns/this-week", by=by)
        tasks["collect"].complete(by=by)
        tasks["draft"].complete(by=by)
        tasks["review"].start(by=by)
        tasks["draft"].add_comment(by=by, body="Draft is in Mailchimp; sponsor copy still to confirm.")

        # Next week's newsletter: just generated, first task due tomorrow.
        self._run(newsletter, 8, operator)

        # Social media: planned, the posts wait on the design team (follow-up due today), the
        # LinkedIn post is blocked behind them.
        run, tasks = self._run(social, 2, operator)
        run.fill_link(name="Content calendar", url="https://calendar.example/social/next-week", by=by)
        tasks["plan"].complete(by=by)
        tasks["write"].mark_waiting(
            by=by, waiting_for="Design team (images)", follow_up_at=_day(0), note="Asked for the three post images."
        )

        # A later social media run someone paused: its tasks leave Operations Home.
        run, _tasks = self._run(social, 9, operator)
        run.pause(by=manager)

        # Last month's tax report, submitted with its report file and confirmation.
        run, tasks = self._run(tax, -20, manager)
        tasks["invoices"].complete(by=manager)
        tasks["receipts"].complete(by=manager)
        report = SimpleUploadedFile("tax-report.pdf", b"%PDF-1.4\n% demo tax report\n", content_type="application/pdf")
        add_proof(tasks["prepare"], by=manager, kind="file", file=report, label="report file")
        tasks["prepare"].complete(by=manager)
        add_proof(tasks["submit"], by=manager, kind="note", note="Submitted; confirmation number DEMO-2028-0042.")
        tasks["submit"].complete(by=manager)

        # This month's tax report: paperwork collected, the report is due today without its file.
        run, tasks = self._run(tax, 4, manager)
        tasks["invoices"].complete(by=manager)
        tasks["receipts"].complete(by=manager)
        tasks["prepare"].start(by=manager)

    # ---- manual tasks --------------------------------------------------------------------
    def _create_manual_tasks(self, operator, manager) -> None:
        create_manual_task(
            by=manager,
            title="Reply to the sponsorship enquiry from Acme",
            instructions="Send our sponsor deck and the open newsletter slots.",
            due_date=_day(-2),
            assignee=operator,
            priority="urgent",
            area="Sponsorship",
        )
        create_manual_task(
            by=manager,
            title="Renew the portal.example domain",
            due_date=_day(0),
            assignee=operator,
            priority="high",
            area="Operations",
            estimate_minutes=10,
        )
        create_manual_task(
            by=manager,
            title="Publish the job post for a community manager",
            instructions="Publish the post on the careers page and attach its URL.",
            due_date=_day(0),
            requires_link="Job post URL",
            area="Operations",
        )
        chairs = create_manual_task(
            by=operator, title="Order new office chairs", due_date=_day(5), assignee=operator, area="Operations"
        )
        chairs.mark_waiting(
            by=operator, waiting_for="Supplier quote", follow_up_at=_day(3), note="Asked two suppliers for quotes."
        )
        invoice = create_manual_task(
            by=manager,
            title="Chase unpaid invoice 2028-014",
            due_date=_day(-3),
            assignee=operator,
            area="Finance",
            priority="high",
        )
        invoice.mark_waiting(
            by=operator,
            waiting_for="Client accounts team",
            follow_up_at=_day(-1),
            note="Sent a friendly reminder with the invoice attached.",
        )
        create_manual_task(
            by=manager,
            title="Prepare the quarterly board summary",
            due_date=_day(5),
            assignee=manager,
            requires_proof_note=True,
            area="Operations",
            estimate_minutes=120,
        )
