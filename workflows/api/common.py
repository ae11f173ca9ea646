"""What every list and input endpoint of the API shares: strict input, refused unknown filters,
portal members as assignees."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.request import Request

from ..filters import COMMON_QUERY_PARAMS
from ..inputs import StrictDateField, control_character_errors, validate_plain_text
from ..members import members
from ..models import (
    portal_today,
)

TASK_ACTIONS = ("start", "complete", "wait", "follow-up-sent", "response-received", "skip", "reopen")


class PortalMemberField(serializers.SlugRelatedField):
    """A person named by username. Writing refuses anyone who is not an active portal member, so
    work is never assigned to someone who cannot see it."""

    default_error_messages = {
        "does_not_exist": "No portal member with username '{value}'.",
        "invalid": "Give a username as a string.",
    }

    def __init__(self, **kwargs: Any) -> None:
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", members())
        super().__init__(slug_field="username", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        validate_plain_text(data)  # before the lookup: the database can not even compare NUL
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.STR)
class CommaSeparatedChoiceField(serializers.Field):
    """``?status=todo,waiting``: one or several choices; each one is checked."""

    def __init__(self, *, choices: list[str], **kwargs: Any) -> None:
        self.choices = list(choices)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        values = [v.strip() for v in str(data).split(",") if v.strip()]
        unknown = [v for v in values if v not in self.choices]
        if unknown or not values:
            raise serializers.ValidationError(
                f"Unknown value(s) {', '.join(repr(v) for v in unknown) or repr(data)}; "
                f"use one or more of {', '.join(self.choices)} separated by commas."
            )
        return values

    def to_representation(self, value: Any) -> str:
        return ",".join(value)


def refuse_control_characters(data: Any) -> None:
    """Refuse a body or query string holding a control character anywhere, naming each field
    (``workflows.inputs.validate_plain_text``'s message), before any field reads it."""
    errors = control_character_errors(data)
    if errors:
        raise serializers.ValidationError({name: [message] for name, message in errors.items()})


@extend_schema_field({"type": "string", "anyOf": [{"format": "uri"}, {"maxLength": 0}]})
class OptionalURLField(serializers.CharField):
    """A stored URL shown as it is: an http(s) URL, or ``""`` when there is none."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)


class StrictInputSerializer(serializers.Serializer):
    """Refuses keys it does not know: a misspelt field must not be silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        refuse_control_characters(data)
        if hasattr(data, "keys"):
            # Known read-only fields (id, created_at...) are ignored as usual, so a fetched
            # representation can be sent back; only names this endpoint does not know are refused.
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["This field is unknown or cannot be edited here."] for name in unknown}
                )
        return super().to_internal_value(data)


class QueryFilterSerializer(serializers.Serializer):
    """The query-string filters of a list endpoint. A name it does not know (``?statuss=done``)
    is refused with ``validation_error`` naming it: a misspelt filter must not silently widen the
    answer to everything."""

    common_params = COMMON_QUERY_PARAMS

    def to_internal_value(self, data: Any) -> Any:
        refuse_control_characters(data)
        if hasattr(data, "keys"):
            known = set(self.fields) | set(self.common_params)
            unknown = sorted(set(data.keys()) - known)
            if unknown:
                hint = "Unknown query parameter; known: " + ", ".join(sorted(known)) + "."
                raise serializers.ValidationError({name: [hint] for name in unknown})
        return super().to_internal_value(data)


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def query_date(request: Request) -> dt.date:
    """``?date=YYYY-MM-DD`` (the day risk is evaluated for), default today in the portal zone."""
    raw = request.query_params.get("date")
    if raw in (None, ""):
        return portal_today()
    return validated(DateQuerySerializer, {"date": raw})["date"]


class DateQuerySerializer(serializers.Serializer):
    date = StrictDateField(required=False, help_text="Evaluate for this day (default: today).")


def _empty_as_none(value: str) -> str | None:
    return value or None


def filter_parameters(filterset_class) -> list[OpenApiParameter]:
    """The OpenAPI description of a list's query filters, read from its FilterSet."""
    from ..filters import FilterDateFormField, StrictBooleanFilterField, StrictUUIDFormField

    types = {
        FilterDateFormField: OpenApiTypes.DATE,
        StrictBooleanFilterField: OpenApiTypes.BOOL,
        StrictUUIDFormField: OpenApiTypes.UUID,
    }
    return [
        OpenApiParameter(
            name,
            types.get(getattr(flt, "field_class", None), OpenApiTypes.STR),
            description=str(flt.extra.get("help_text", "")),
        )
        for name, flt in filterset_class.base_filters.items()
    ]


def filtered(filterset_class, request: Request, queryset: QuerySet) -> QuerySet:
    """``queryset`` filtered by the request's query string through ``filterset_class`` (shared
    with the pages); a refused filter is a ``validation_error`` naming it."""
    return filterset_class(request.query_params, queryset=queryset, request=request).filtered()
