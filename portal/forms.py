"""Input of the operator pages of the portal itself (Operations Home)."""

from __future__ import annotations

import datetime as dt

from django import forms

from workflows.inputs import StrictDateFormField


class HomeQueryForm(forms.Form):
    """``?date=`` and ``?scope=`` of Operations Home. Home is bounded by its own last date (a week
    ahead of the day must stay on the calendar), which the view checks and names."""

    date = StrictDateFormField(required=False, label="date", max_year=dt.MAXYEAR)
    scope = forms.CharField(required=False)
