from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .forms import PreferencesForm
from .models import ChannelPreference, Notification


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """The signed-in person's delivery channels per notification type (their own only)."""
    current = dict(ChannelPreference.objects.filter(user=request.user).values_list("type", "email"))
    form = PreferencesForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            for type_, email in form.cleaned_data.items():
                ChannelPreference.objects.update_or_create(user=request.user, type=type_, defaults={"email": email})
        messages.success(request, "Notification preferences saved.")
        return redirect("notification-preferences")
    return render(
        request,
        "notifications/preferences.html",
        {"form": form, "has_email": bool(request.user.email)},
    )


def unread_count(request: HttpRequest) -> HttpResponse:
    """The header badge: the signed-in person's unread notifications (polled by htmx)."""
    count = Notification.objects.for_user(request.user).unread().count()
    return render(request, "notifications/unread_badge.html", {"unread_count": count})
