"""Input of the operator pages of the portal itself (Operations Home)."""

from __future__ import annotations

from django import forms

from workflows.inputs import PlainTextFormMixin, StrictDateFormField


class HomeQueryForm(PlainTextFormMixin, forms.Form):
    """``?date=`` and ``?scope=`` of Operations Home; the date in the portal's calendar
    (``docs/api.md``), like every date the portal reads."""

    date = StrictDateFormField(required=False, label="date")
    scope = forms.CharField(required=False)
