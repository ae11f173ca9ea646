"""The V1 standalone duties (``docs/concepts.md``), created idempotently by ``seed_v1_duties``."""

from __future__ import annotations

V1_CONFIGS: list[dict] = [
    {
        "title": "Handle new Slack invite requests from Airtable",
        "instructions": "Open the Airtable invite requests view, invite each approved person to Slack, "
        "and mark the rows as handled.",
        "cron_expression": "0 9 * * *",
        "area": "Community",
        "estimate_minutes": 15,
    },
    {
        "title": "Review new task and card intake",
        "instructions": "Triage new cards in the intake board: assign, schedule or close each one.",
        "cron_expression": "30 9 * * 1-5",
        "area": "Operations",
        "estimate_minutes": 20,
    },
    {
        "title": "Back up the Mailchimp mailing list",
        "instructions": "Export the audience from Mailchimp as CSV and attach the export.",
        "cron_expression": "0 10 * * WED",
        "area": "Community",
        "estimate_minutes": 10,
        "requires_file": True,
    },
    {
        "title": "Dump Slack workspace",
        "instructions": "Request the monthly Slack export and store the archive in the shared drive.",
        "cron_expression": "0 10 1 * *",
        "area": "Community",
        "estimate_minutes": 20,
        "requires_link": "Slack export location",
    },
    {
        "title": "Sponsor performance follow-up",
        "instructions": "Check sponsor placements' results and send each sponsor a short performance update.",
        "cron_expression": "0 11 * * MON",
        "area": "Sponsorship",
        "estimate_minutes": 30,
        "requires_proof_note": True,
    },
    {
        "title": "Invoice, receipt, Dropbox and bookkeeping checks",
        "instructions": "Match invoices and receipts, file them in Dropbox and reconcile the bookkeeping.",
        "cron_expression": "0 15 * * FRI",
        "area": "Finance",
        "estimate_minutes": 45,
    },
]


def ensure_v1_configs(*, assignee=None, timezone: str | None = None) -> list:
    """Create the missing V1 duties (matched by title); existing ones are left as they are.
    Goes through ``save_config`` so celery-beat rows are kept in sync."""
    from .models import RecurringConfig
    from .services import save_config

    configs = []
    for spec in V1_CONFIGS:
        existing = RecurringConfig.objects.filter(title=spec["title"]).first()
        if existing:
            configs.append(existing)
            continue
        data = dict(spec, assignee=assignee)
        if timezone:
            data["timezone"] = timezone
        configs.append(save_config(data=data))
    return configs
