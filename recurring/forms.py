"""Forms of the scheduler, shared by the admin and the Recurring pages: the recurring config form
(cron and time zone checked with the reason shown, assignees limited to portal members), the
backfill date range and the acknowledgement note of a failed generation run."""

from __future__ import annotations

import datetime as dt

from django import forms

from workflows.forms import assignee_field_options, keep_current_assignee, portal_formfield
from workflows.inputs import PlainTextFormMixin, StrictDateFormField

from . import cron
from .models import RecurringConfig
from .services import CONFIG_FIELDS

# The fields an admin edits; everything else (watermarks, next fire time, archive stamp) is kept
# by ``services.save_config`` and the pause/resume/archive actions.
CONFIG_FORM_FIELDS = list(CONFIG_FIELDS)


class RecurringConfigForm(PlainTextFormMixin, forms.ModelForm):
    """Validates the schedule with ``recurring.cron`` (the same check the API and the services
    apply), so a refused expression shows the reason next to the field."""

    instructions_url = forms.URLField(label="Instructions link", required=False, max_length=2000, assume_scheme="https")

    class Meta:
        model = RecurringConfig
        formfield_callback = portal_formfield
        fields = CONFIG_FORM_FIELDS
        labels = {
            "timezone": "Time zone",
            "estimate_minutes": "Estimate (minutes)",
            "requires_link": "Requires a link",
            "requires_file": "Requires a file",
            "requires_proof_note": "Requires a proof note",
            "enabled": "Active",
            "catch_up": "After an outage, generate",
        }
        help_texts = {
            "cron_expression": "Five fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * MON-FRI'. "
            "When both day fields are restricted a day matches if either matches.",
            "timezone": "IANA name, e.g. Europe/Berlin. Windows are calendar dates in this zone.",
            "enabled": "Untick to pause: no new work; history stays. Re-enabling resumes from now on.",
            "estimate_minutes": "How long one occurrence usually takes.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Work goes to portal members only (the rule of ``services.resolve_assignee``); a
        # config's own assignee who has since left stays selectable on that config.
        assignee = self.fields.get("assignee")
        if assignee is not None:
            options = assignee_field_options()
            assignee.queryset = options["queryset"]
            assignee.error_messages.update(options["error_messages"])
            assignee.empty_label = "Unassigned"
            keep_current_assignee(self)

    def clean_cron_expression(self) -> str:
        value = self.cleaned_data["cron_expression"]
        try:
            return cron.validate(value)
        except cron.CronError as exc:
            raise forms.ValidationError(f"This schedule is refused: {exc}.", code="invalid_schedule")

    def clean_timezone(self) -> str:
        try:
            return cron.validate_timezone(self.cleaned_data["timezone"])
        except cron.CronError as exc:
            raise forms.ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", code="invalid_timezone")


class BackfillForm(PlainTextFormMixin, forms.Form):
    """A backfill date range. The range rules (at most 366 days, end not before start, no window
    in the future, bounded by the start date) are the services' and come back as form errors."""

    start_date = StrictDateFormField(
        label="Start date", widget=forms.DateInput(attrs={"type": "date"}), help_text="First window date."
    )
    end_date = StrictDateFormField(
        label="End date", widget=forms.DateInput(attrs={"type": "date"}), help_text="Last window date."
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        start: dt.date | None = cleaned.get("start_date")
        end: dt.date | None = cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The end date is before the start date.")
        return cleaned


class AcknowledgeForm(PlainTextFormMixin, forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What was done about the failure (required; kept with the generation run).",
    )

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("A note is required to acknowledge a failure.")
        return note
