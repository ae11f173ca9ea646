"""Operator pages for notifications: the inbox, its actions, preferences and the header badge.

Every view works on the signed-in person's own notifications only; an HTMX request gets the
updated row fragment, a plain form post is redirected back to the list.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from workflows.errors import DomainError
from workflows.members import is_admin

from .filters import STATE_FILTERS, InboxFilterSet
from .forms import AcknowledgePageForm, PreferencesForm
from .models import ChannelPreference, Notification, NotificationType

PAGE_SIZE = 50


def _inbox_context(request: HttpRequest, query) -> dict:
    """The inbox for the ``state``, ``type`` and ``page`` in ``query`` (GET, or the hidden fields
    of a form posted from the inbox): the signed-in person's notifications only."""
    state = query.get("state", "unread")
    if state not in STATE_FILTERS:
        state = "unread"
    type_ = query.get("type", "")
    if type_ not in NotificationType.values:
        type_ = ""
    filters = InboxFilterSet(
        {"state": state, **({"type": type_} if type_ else {})},
        queryset=Notification.objects.for_user(request.user).select_related("task", "run"),
    )
    page = Paginator(filters.filtered(), PAGE_SIZE).get_page(query.get("page"))
    return {
        "page": page,
        "state": state,
        "state_label": STATE_FILTERS[state],
        "type": type_,
        "states": STATE_FILTERS,
        "types": NotificationType.choices,
        "can_admin": is_admin(request.user),
        "unread_count": Notification.objects.for_user(request.user).unread().count(),
    }


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "notifications/inbox.html", _inbox_context(request, request.GET))


@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    """Mark every unread notification of the signed-in person read (never anyone else's). HTMX:
    the refreshed list with the confirmation; plain post: back to the inbox with a message."""
    count = Notification.objects.for_user(request.user).mark_all_read()
    message = f"Marked {count} notification{'s' if count != 1 else ''} as read." if count else "Nothing was unread."
    if request.htmx:
        context = _inbox_context(request, request.POST)
        response = render(request, "notifications/inbox.html#notification-list", {**context, "flash": message})
        return trigger_client_event(response, "notifications-changed")
    messages.success(request, message)
    return _back(request)


def _own(request: HttpRequest, pk) -> Notification:
    # Someone else's notification is a 404, never a 403: its existence is not ours to reveal.
    return get_object_or_404(Notification.objects.for_user(request.user), pk=pk)


def _back(request: HttpRequest) -> HttpResponse:
    """Back to where the form was posted from, but only to a page of this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("notification-inbox")


def _after_action(request: HttpRequest, notification: Notification, message: str) -> HttpResponse:
    if request.htmx:
        response = render(
            request,
            "notifications/inbox.html#row",
            {"n": notification, "flash": message, "can_admin": is_admin(request.user)},
        )
        return trigger_client_event(response, "notifications-changed")
    messages.success(request, message)
    return _back(request)


@require_POST
def mark_read(request: HttpRequest, pk) -> HttpResponse:
    notification = _own(request, pk)
    notification.mark_read()
    return _after_action(request, notification, "Marked as read.")


@require_POST
def dismiss(request: HttpRequest, pk) -> HttpResponse:
    notification = _own(request, pk)
    notification.dismiss()
    return _after_action(request, notification, "Dismissed. What it talks about is unchanged.")


@require_POST
def acknowledge(request: HttpRequest, pk) -> HttpResponse:
    notification = _own(request, pk)
    try:
        data = AcknowledgePageForm(request.POST).values()
        notification.acknowledge(by=request.user, note=data["note"])
    except DomainError as exc:
        if request.htmx:
            response = render(
                request,
                "notifications/inbox.html#row",
                {"n": notification, "error": exc.detail, "can_admin": is_admin(request.user)},
                status=400,
            )
            # htmx does not swap 4xx by default; retarget so the error shows in place.
            response["HX-Reswap"] = "outerHTML"
            return response
        messages.error(request, exc.detail)
        return _back(request)
    return _after_action(request, notification, "Acknowledged.")


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


@require_GET
def unread_count(request: HttpRequest) -> HttpResponse:
    """The header badge: the signed-in person's unread notifications (polled by htmx)."""
    count = Notification.objects.for_user(request.user).unread().count()
    return render(request, "notifications/unread_badge.html", {"unread_count": count})
