from django import forms

from workflows.forms import PageActionForm
from workflows.inputs import PlainTextFormMixin

from .models import ChannelPreference, NotificationType


class PreferencesForm(PlainTextFormMixin, forms.Form):
    """One e-mail choice per notification type; in-app delivery is always on."""

    def __init__(self, *args, current: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for value, label in NotificationType.choices:
            self.fields[value] = forms.ChoiceField(
                label=label,
                choices=ChannelPreference.Email.choices,
                initial=current.get(value, ChannelPreference.Email.OFF),
                widget=forms.Select,
            )


class AcknowledgePageForm(PageActionForm):
    """Acknowledging a failure from the inbox; ``Notification.acknowledge`` requires the note."""

    note = forms.CharField(required=False)
