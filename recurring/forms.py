"""Admin forms of the scheduler: the recurring config form (cron and time zone checked with the
reason shown), the backfill date range and the acknowledgement note of a failed generation run."""

from __future__ import annotations

import datetime as dt

from django import forms

from workflows.inputs import StrictDateFormField

from . import cron
from .models import RecurringConfig
from .services import CONFIG_FIELDS

# The fields an admin edits; everything else (watermarks, next fire time, archive stamp) is kept
# by ``services.save_config`` and the pause/resume/archive actions.
CONFIG_FORM_FIELDS = list(CONFIG_FIELDS)


class RecurringConfigForm(forms.ModelForm):
    """Validates the schedule with ``recurring.cron`` (the same check the API and the services
    apply), so a refused expression shows the reason next to the field."""

    instructions_url = forms.URLField(required=False, max_length=2000, assume_scheme="https")

    class Meta:
        model = RecurringConfig
        fields = CONFIG_FORM_FIELDS
        help_texts = {
            "cron_expression": "Five fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * MON-FRI'. "
            "When both day fields are restricted a day matches if either matches.",
            "timezone": "IANA name, e.g. Europe/Berlin. Windows are calendar dates in this zone.",
            "enabled": "Untick to pause: no new work; history stays. Re-enabling resumes from now on.",
        }

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


class BackfillForm(forms.Form):
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


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What was done about the failure (required; kept with the generation run).",
    )

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("A note is required to acknowledge a failure.")
        return note
