"""The conventions every admin of the portal follows (see the package docstring): domain
errors as messages, actions with an intermediate form, refusing to delete history, links."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import model_ngettext, unquote
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from ..errors import DomainError
from ..forms import (
    assignee_field_options,
)

#: Intermediate action pages list at most this many of the selected objects by name.
LISTED_OBJECTS = 50


# --------------------------------------------------------------------------------------------
# Domain errors as messages
# --------------------------------------------------------------------------------------------


class DomainErrorMessagesMixin:
    """A domain refusal raised while saving (e.g. a race the form could not foresee) rolls the
    whole save back and comes back as an error message on the same page. Dates are read by the
    one strict parser (``workflows.inputs``), like every other door's."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.DateField) and not isinstance(db_field, models.DateTimeField):
            from ..inputs import StrictDateFormField

            kwargs.setdefault("form_class", StrictDateFormField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def apply_to_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[models.Model],
    operation: Callable[[models.Model], Any],
    *,
    done: str,
) -> int:
    """Run ``operation`` on each object in its own transaction. Successes are counted in one
    message ("Started 3 tasks."); each refusal gets its own error message naming the object and
    the domain's reason. Returns the number of successes."""
    succeeded = 0
    for obj in objects:
        try:
            with transaction.atomic():
                operation(obj)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(
            request, f"{done} {succeeded} {model_ngettext(modeladmin.opts, succeeded)}.", messages.SUCCESS
        )
    return succeeded


# --------------------------------------------------------------------------------------------
# Actions with an intermediate form
# --------------------------------------------------------------------------------------------

APPLY_FIELD = "apply"


def form_action(
    *,
    form_class: type[forms.Form],
    description: str,
    explanation: str = "",
    submit_label: str = "Confirm",
    permissions: tuple[str, ...] = ("change",),
    single: bool = False,
) -> Callable:
    """Turn ``apply(modeladmin, request, queryset, cleaned_data)`` into an admin action that first
    shows ``form_class`` on an intermediate page (the selected objects listed) and applies only
    once the form is valid. ``single`` actions refuse a selection of more than one object."""

    def decorate(apply: Callable) -> Callable:
        def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: models.QuerySet):
            if single and queryset.count() != 1:
                modeladmin.message_user(
                    request, f"“{description}” works on one object at a time; select exactly one.", messages.WARNING
                )
                return None
            if APPLY_FIELD in request.POST:
                form = form_class(request.POST, request.FILES)
                if form.is_valid():
                    return apply(modeladmin, request, queryset, form.cleaned_data)
            else:
                form = form_class()
            return render_action_form(
                modeladmin,
                request,
                queryset,
                form=form,
                action=apply.__name__,
                title=description,
                explanation=explanation,
                submit_label=submit_label,
            )

        action.__name__ = apply.__name__
        action.__doc__ = apply.__doc__
        return admin.action(description=description, permissions=list(permissions))(action)

    return decorate


def render_action_form(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: models.QuerySet,
    *,
    form: forms.Form,
    action: str,
    title: str,
    explanation: str = "",
    submit_label: str = "Confirm",
) -> HttpResponse:
    opts = modeladmin.model._meta
    selected = list(queryset[: LISTED_OBJECTS + 1])
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": opts,
        "form": form,
        "explanation": explanation,
        "submit_label": submit_label,
        "action": action,
        "objects": selected[:LISTED_OBJECTS],
        "more_count": max(queryset.count() - LISTED_OBJECTS, 0) if len(selected) > LISTED_OBJECTS else 0,
        "selected_pks": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        "select_across": "1" if request.POST.get("select_across") in ("1", "True", "true") else "0",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "apply_field": APPLY_FIELD,
        "cancel_url": request.get_full_path(),
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/action_form.html", context)


# --------------------------------------------------------------------------------------------
# Refusing to delete history
# --------------------------------------------------------------------------------------------


class DeletionRefusalMixin:
    """Objects with history are archived, never hard-deleted. ``deletion_refusal(obj)`` returns
    the explanation shown when someone tries (or None when the object may go). It guards the
    delete page, the bulk "delete selected" action and, as a last line, ``delete_model`` /
    ``delete_queryset`` so no path ends in a ProtectedError 500 or silent loss of history."""

    def deletion_refusal(self, obj: models.Model) -> str | None:
        return None

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and (reason := self.deletion_refusal(obj)):
            self.message_user(request, reason, messages.ERROR)
            opts = self.model._meta
            url_name = "change" if self.has_view_or_change_permission(request, obj) else "changelist"
            args = [obj.pk] if url_name == "change" else []
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{url_name}", args=args)
            )
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _func, name, description = actions["delete_selected"]
            actions["delete_selected"] = (_delete_selected_unless_refused, name, description)
        return actions

    def delete_model(self, request, obj):
        if reason := self.deletion_refusal(obj):
            raise DomainError("history_protected", reason, status=409)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            if reason := self.deletion_refusal(obj):
                raise DomainError("history_protected", reason, status=409)
        super().delete_queryset(request, queryset)


def _delete_selected_unless_refused(modeladmin, request, queryset):
    """Django's "delete selected", refused as a whole (nothing deleted) when any selected object
    carries history; each refused object is named with its explanation."""
    refusals = [reason for obj in queryset if (reason := modeladmin.deletion_refusal(obj))]
    if refusals:
        modeladmin.message_user(
            request,
            f"Nothing was deleted: {len(refusals)} of the selected "
            f"{model_ngettext(modeladmin.opts, len(refusals))} carry history.",
            messages.ERROR,
        )
        for reason in refusals[:10]:
            modeladmin.message_user(request, reason, messages.ERROR)
        if len(refusals) > 10:
            modeladmin.message_user(request, f"… and {len(refusals) - 10} more.", messages.ERROR)
        return None
    return delete_selected(modeladmin, request, queryset)


_delete_selected_unless_refused.allowed_permissions = ("delete",)


class ReadOnlyAdminMixin:
    """Records written only by the domain code (history, proof): viewable, never edited here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    template = "admin/edit_inline/tabular_records.html"
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


def admin_link(obj: models.Model | None, text: str | None = None) -> str:
    """A link to ``obj``'s admin change page ("—" for none)."""
    if obj is None:
        return "—"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else str(obj))


def changelist_url(model: type[models.Model], **filters: Any) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    if filters:
        url += "?" + "&".join(f"{key}={value}" for key, value in filters.items())
    return url


class AssigneeChoicesMixin:
    """Assignee drop-downs offer active portal members only, like the API's assignee field; an
    object's own former member stays selectable on that object (see ``keep_current_assignee``)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            kwargs = {**assignee_field_options(), **kwargs}
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ArchivedFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", "Not archived"), ("yes", "Archived")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset
