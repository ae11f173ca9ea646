"""The V1 workflow templates , created idempotently by ``seed_v1_duties``.

Each is an automatic template: its cron trigger fires on the run date and the run's anchor date is
run date + lead days; each task is due on anchor + its offset, so lead days cover the earliest
offset and the first task is due on the day the run is generated.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from .models import WorkflowTemplate
from .services import save_template

NEWSLETTER = "Weekly newsletter preparation"
SOCIAL_MEDIA = "Weekly social media schedule"
TAX_REPORT = "Monthly tax report"

V1_TEMPLATES: list[dict] = [
    {
        "data": {
            "name": NEWSLETTER,
            "description": "Collect, write, review and schedule the weekly newsletter; it goes out on the anchor "
            "date (a Tuesday).",
            "category": "Community",
            "stages": ["draft", "review", "scheduled"],
            "run_links": ["Mailchimp newsletter"],
            "trigger_type": "automatic",
            "trigger_schedule": "0 9 * * TUE",
            "trigger_lead_days": 7,
        },
        "tasks": [
            {
                "ref": "collect",
                "title": "Collect news, events and sponsor slots",
                "instructions": "Gather this week's news, upcoming events and the booked sponsor slots.",
                "stage": "draft",
                "offset_days": -7,
                "area": "Community",
                "estimate_minutes": 30,
            },
            {
                "ref": "draft",
                "title": "Write the newsletter draft in Mailchimp",
                "instructions": "Create the campaign in Mailchimp and fill the run link 'Mailchimp newsletter'.",
                "stage": "draft",
                "offset_days": -5,
                "depends_on": ["collect"],
                "requires_run_links": ["Mailchimp newsletter"],
                "area": "Community",
                "estimate_minutes": 90,
            },
            {
                "ref": "review",
                "title": "Review and proofread the draft",
                "instructions": "Check links, spelling and sponsor copy; note what you changed.",
                "stage": "review",
                "offset_days": -4,
                "depends_on": ["draft"],
                "requires_proof_note": True,
                "area": "Community",
                "estimate_minutes": 30,
            },
            {
                "ref": "schedule",
                "title": "Schedule the newsletter",
                "instructions": "Schedule the campaign for Tuesday morning and attach the newsletter link.",
                "stage": "scheduled",
                "offset_days": -1,
                "depends_on": ["review"],
                "requires_link": "newsletter link",
                "requires_run_links": ["Mailchimp newsletter"],
                "priority": "high",
                "area": "Community",
                "estimate_minutes": 10,
            },
        ],
    },
    {
        "data": {
            "name": SOCIAL_MEDIA,
            "description": "Plan, write and publish next week's social media posts; the anchor date is the "
            "Monday they go out.",
            "category": "Marketing",
            "stages": ["plan", "publish"],
            "run_links": ["Content calendar"],
            "trigger_type": "automatic",
            "trigger_schedule": "0 9 * * THU",
            "trigger_lead_days": 4,
        },
        "tasks": [
            {
                "ref": "plan",
                "title": "Plan next week's posts",
                "instructions": "Pick topics and dates in the content calendar and fill its run link.",
                "stage": "plan",
                "offset_days": -4,
                "requires_run_links": ["Content calendar"],
                "area": "Marketing",
                "estimate_minutes": 30,
            },
            {
                "ref": "write",
                "title": "Write and design the posts",
                "instructions": "Write the copy and prepare the images for each planned post.",
                "stage": "plan",
                "offset_days": -3,
                "depends_on": ["plan"],
                "area": "Marketing",
                "estimate_minutes": 60,
            },
            {
                "ref": "linkedin",
                "title": "Publish the LinkedIn post",
                "instructions": "Publish the post on the company page and attach its URL.",
                "stage": "publish",
                "offset_days": 0,
                "depends_on": ["write"],
                "requires_link": "LinkedIn post URL",
                "area": "Marketing",
                "estimate_minutes": 10,
            },
            {
                "ref": "other-channels",
                "title": "Schedule the posts on the other channels",
                "instructions": "Schedule the remaining posts and note where each one went.",
                "stage": "publish",
                "offset_days": 0,
                "depends_on": ["write"],
                "requires_proof_note": True,
                "area": "Marketing",
                "estimate_minutes": 15,
            },
        ],
    },
    {
        "data": {
            "name": TAX_REPORT,
            "description": "Collect last month's paperwork, prepare the tax report and submit it by the "
            "anchor date (the 10th).",
            "category": "Finance",
            "stages": ["collect", "prepare", "submit"],
            "run_links": [],
            "trigger_type": "automatic",
            "trigger_schedule": "0 9 1 * *",
            "trigger_lead_days": 9,
        },
        "tasks": [
            {
                "ref": "invoices",
                "title": "Collect last month's sales invoices",
                "instructions": "Export every invoice issued last month into the tax folder.",
                "stage": "collect",
                "offset_days": -9,
                "area": "Finance",
                "estimate_minutes": 20,
            },
            {
                "ref": "receipts",
                "title": "Collect last month's receipts and bank statements",
                "instructions": "Match receipts to bank lines; chase missing receipts.",
                "stage": "collect",
                "offset_days": -9,
                "area": "Finance",
                "estimate_minutes": 40,
            },
            {
                "ref": "prepare",
                "title": "Prepare the tax report",
                "instructions": "Fill in the report from the collected paperwork and attach the report file.",
                "stage": "prepare",
                "offset_days": -4,
                "depends_on": ["invoices", "receipts"],
                "requires_file": True,
                "area": "Finance",
                "estimate_minutes": 60,
            },
            {
                "ref": "submit",
                "title": "Submit the tax report",
                "instructions": "Submit the report to the tax office and note the confirmation number.",
                "stage": "submit",
                "offset_days": 0,
                "depends_on": ["prepare"],
                "requires_proof_note": True,
                "priority": "high",
                "area": "Finance",
                "estimate_minutes": 15,
            },
        ],
    },
]


@transaction.atomic
def ensure_v1_templates(*, timezone: str | None = None) -> tuple[list[WorkflowTemplate], int]:
    """Create the missing V1 templates (matched by name, case-insensitively) and return every V1
    template with the number created. An existing template is left exactly as it is, so an admin's
    customisation survives re-seeding."""
    zone = timezone or settings.PORTAL_TIME_ZONE
    templates: list[WorkflowTemplate] = []
    created = 0
    for spec in V1_TEMPLATES:
        existing = WorkflowTemplate.objects.filter(name__iexact=spec["data"]["name"]).first()
        if existing:
            templates.append(existing)
            continue
        data = dict(spec["data"], trigger_timezone=zone)
        templates.append(save_template(data=data, tasks=[dict(task) for task in spec["tasks"]]))
        created += 1
    return templates, created
