"""``seed_v1_duties`` and ``seed_demo``: what they create, and that re-running them
changes nothing."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from recurring.models import RecurringConfig
from workflows.errors import DomainError
from workflows.models import Run, RunStatus, Task, TaskStatus, TemplateTask, WorkflowTemplate
from workflows.seeds import NEWSLETTER, SOCIAL_MEDIA, TAX_REPORT
from workflows.services import instantiate_run

pytestmark = pytest.mark.django_db

TODAY = dt.date(2028, 2, 2)


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "templates": WorkflowTemplate.objects.count(),
        "template_tasks": TemplateTask.objects.count(),
        "configs": RecurringConfig.objects.count(),
        "runs": Run.objects.count(),
        "tasks": Task.objects.count(),
    }


# ---- seed_v1_duties ------------------------------------------------------------------------


def test_seed_v1_duties_creates_the_three_automatic_templates(settings):
    settings.PORTAL_TIME_ZONE = "Europe/Berlin"

    _run("seed_v1_duties")

    templates = {t.name: t for t in WorkflowTemplate.objects.all()}
    assert set(templates) == {NEWSLETTER, SOCIAL_MEDIA, TAX_REPORT}
    for template in templates.values():
        assert template.trigger_type == "automatic" and template.trigger_enabled
        assert template.trigger_timezone == "Europe/Berlin"
    assert templates[NEWSLETTER].stages == ["draft", "review", "scheduled"]
    assert templates[TAX_REPORT].stages == ["collect", "prepare", "submit"]
    assert (templates[NEWSLETTER].trigger_schedule, templates[NEWSLETTER].trigger_lead_days) == ("0 9 * * TUE", 7)
    assert templates[TAX_REPORT].trigger_schedule == "0 9 1 * *"


def test_seeded_templates_carry_the_v1_proof_requirements_and_dependencies():
    _run("seed_v1_duties")

    newsletter = {t.ref: t for t in TemplateTask.objects.filter(template__name=NEWSLETTER)}
    assert newsletter["schedule"].requires_link == "newsletter link"
    assert newsletter["schedule"].requires_run_links == ["Mailchimp newsletter"]
    assert newsletter["draft"].depends_on == ["collect"]
    assert newsletter["schedule"].depends_on == ["review"]
    social = {t.ref: t for t in TemplateTask.objects.filter(template__name=SOCIAL_MEDIA)}
    assert social["linkedin"].requires_link == "LinkedIn post URL"
    tax = {t.ref: t for t in TemplateTask.objects.filter(template__name=TAX_REPORT)}
    assert tax["prepare"].requires_file
    assert sorted(tax["prepare"].depends_on) == ["invoices", "receipts"]


def test_every_seeded_task_is_due_on_or_after_its_trigger_date():
    """Lead days cover the earliest offset, so no run is born with overdue work."""
    _run("seed_v1_duties")

    for template in WorkflowTemplate.objects.all():
        earliest = min(template.tasks.values_list("offset_days", flat=True))
        assert template.trigger_lead_days + earliest >= 0, template.name


def test_seeded_newsletter_run_refuses_completion_without_its_proof(operator):
    _run("seed_v1_duties")
    template = WorkflowTemplate.objects.get(name=NEWSLETTER)

    run = instantiate_run(template=template, anchor_date=dt.date(2029, 1, 9)).run

    tasks = {t.template_task_ref: t for t in run.tasks.all()}
    assert tasks["collect"].due_date == dt.date(2029, 1, 2)
    assert tasks["schedule"].due_date == dt.date(2029, 1, 8)
    for ref in ("collect", "draft", "review"):
        Task.objects.filter(pk=tasks[ref].pk).update(status=TaskStatus.SKIPPED)
    with pytest.raises(DomainError) as refused:
        tasks["schedule"].complete(by=operator)
    assert refused.value.code == "missing_evidence"
    assert refused.value.extra["missing"] == ["newsletter link", "run link 'Mailchimp newsletter'"]


def test_seed_v1_duties_creates_the_six_v1_recurring_duties():
    _run("seed_v1_duties")

    crons = set(RecurringConfig.objects.values_list("cron_expression", flat=True))
    assert crons == {"0 9 * * *", "30 9 * * 1-5", "0 10 * * WED", "0 10 1 * *", "0 11 * * MON", "0 15 * * FRI"}
    assert RecurringConfig.objects.get(cron_expression="0 11 * * MON").requires_proof_note


def test_seed_v1_duties_twice_creates_nothing_more():
    _run("seed_v1_duties")
    first = _counts()

    output = _run("seed_v1_duties")

    assert _counts() == first
    assert "(0 created)" in output


def test_seed_v1_duties_leaves_a_customised_template_alone():
    _run("seed_v1_duties")
    WorkflowTemplate.objects.filter(name=NEWSLETTER).update(trigger_schedule="0 8 * * MON", trigger_lead_days=8)

    _run("seed_v1_duties")

    template = WorkflowTemplate.objects.get(name=NEWSLETTER)
    assert (template.trigger_schedule, template.trigger_lead_days) == ("0 8 * * MON", 8)


def test_seed_v1_duties_assigns_new_duties_to_the_named_user(operator):
    _run("seed_v1_duties", "--assignee", "olivia")

    assert set(RecurringConfig.objects.values_list("assignee__username", flat=True)) == {"olivia"}


def test_seed_v1_duties_refuses_an_unknown_assignee():
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        _run("seed_v1_duties", "--assignee", "nobody")
    assert WorkflowTemplate.objects.count() == 0


# ---- seed_demo -----------------------------------------------------------------------------


@pytest.fixture
def demo():
    with time_machine.travel(dt.datetime(2028, 2, 2, 8, 0, tzinfo=dt.UTC), tick=False):
        yield _run("seed_demo")


def test_seed_demo_creates_an_operator_who_owns_the_duties_and_a_manager(demo):
    passwords = dict(re.findall(r"username '(\w+)', password '([^']+)'", demo))

    assert set(passwords) == {"operator", "manager"}
    operator = authenticate(username="operator", password=passwords["operator"])
    manager = authenticate(username="manager", password=passwords["manager"])
    assert operator is not None and manager is not None
    assert list(operator.groups.values_list("name", flat=True)) == ["Operators"]
    assert manager.is_staff and list(manager.groups.values_list("name", flat=True)) == ["Admins"]
    assert set(RecurringConfig.objects.values_list("assignee__username", flat=True)) == {"operator"}


def test_seed_demo_uses_the_documented_password_only_in_debug(settings):
    settings.DEBUG = True
    from portal.management.commands.seed_demo import DEMO_PASSWORD

    _run("seed_demo")

    assert authenticate(username="operator", password=DEMO_PASSWORD) is not None


def test_seed_demo_without_debug_never_uses_the_documented_password(demo):
    from portal.management.commands.seed_demo import DEMO_PASSWORD

    assert authenticate(username="operator", password=DEMO_PASSWORD) is None


def test_seed_demo_builds_runs_at_different_stages(demo):
    runs = list(Run.objects.with_risk(TODAY))

    assert {run.status for run in runs} == {RunStatus.ACTIVE, RunStatus.PAUSED, RunStatus.COMPLETED}
    active_stages = {run.current_stage for run in runs if run.status == RunStatus.ACTIVE}
    assert {"draft", "review", "plan", "prepare"} <= active_stages
    assert any(run.risk()["at_risk"] for run in runs)
    assert {run.template.name for run in runs} == {NEWSLETTER, SOCIAL_MEDIA, TAX_REPORT}


def test_seed_demo_has_overdue_waiting_and_missing_proof_work(demo):
    open_tasks = Task.objects.on_home().with_flags()

    assert open_tasks.overdue(TODAY).exists()
    assert open_tasks.filter(status=TaskStatus.WAITING, follow_up_at__lte=TODAY).exists()
    assert open_tasks.filter(status=TaskStatus.WAITING, follow_up_at__gt=TODAY).exists()
    assert open_tasks.actionable().filter(due_date=TODAY, evidence_missing=True).count() >= 2
    assert open_tasks.filter(is_blocked=True).exists()
    assert Task.objects.filter(source="manual").count() >= 5
    assert Task.objects.filter(status=TaskStatus.DONE, proofs__kind="file").exists()


def test_seed_demo_twice_changes_nothing(demo):
    first = _counts()

    with time_machine.travel(dt.datetime(2028, 2, 9, 8, 0, tzinfo=dt.UTC), tick=False):
        output = _run("seed_demo")

    assert _counts() == first
    assert "left as it is" in output


def test_seed_demo_adds_no_demo_work_to_a_portal_with_tasks(operator):
    Task.objects.create(title="Real work", due_date=TODAY)

    _run("seed_demo")

    assert Task.objects.count() == 1
    assert Run.objects.count() == 0
