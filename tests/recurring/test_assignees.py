"""Recurring work is assigned only to active portal members (Operators, Admins, superusers) —
whichever door the change comes through: the service, the API or the admin. A config's own
assignee who has since left stays on it until someone changes it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from recurring.models import RecurringConfig
from recurring.services import save_config
from tests.conftest import refused
from tests.factories import UserFactory
from workflows.members import OPERATORS

pytestmark = pytest.mark.django_db

CONFIGS_API = "/api/v1/recurring-configs/"
CONFIGS_ADMIN = "/admin/recurring/recurringconfig/"
VALID = {"title": "Handle Slack invites", "cron_expression": "0 9 * * *", "timezone": "UTC"}


def leaves_the_portal(user) -> None:
    user.groups.remove(Group.objects.get(name=OPERATORS))


# ---- the service ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["operator", "admin_user", "superuser"])
def test_operators_admins_and_superusers_can_be_assigned_recurring_work(who, request):
    person = UserFactory(username="root", is_superuser=True) if who == "superuser" else request.getfixturevalue(who)

    config = save_config(data={**VALID, "assignee": person.username})

    assert RecurringConfig.objects.get(pk=config.pk).assignee == person


@pytest.mark.parametrize("as_object", [False, True], ids=["username", "user"])
def test_the_service_refuses_a_user_who_is_not_a_portal_member_naming_them(outsider, as_object):
    error = refused(
        lambda: save_config(data={**VALID, "assignee": outsider if as_object else "oscar"}), "validation_error"
    )

    assert error.extra["field"] == "assignee"
    assert "'oscar' is not one" in error.detail
    assert not RecurringConfig.objects.exists()


def test_the_service_refuses_an_inactive_or_unknown_user(operator):
    operator.is_active = False
    operator.save()

    refused(lambda: save_config(data={**VALID, "assignee": "olivia"}), "unknown_user")
    refused(lambda: save_config(data={**VALID, "assignee": "nobody"}), "unknown_user")
    assert not RecurringConfig.objects.exists()


def test_a_former_member_stays_on_their_own_config_but_cannot_be_given_new_work(operator):
    config = save_config(data={**VALID, "assignee": "olivia"})
    leaves_the_portal(operator)

    kept = save_config(
        config=RecurringConfig.objects.get(pk=config.pk), data={"title": "Renamed", "assignee": "olivia"}
    )
    error = refused(
        lambda: save_config(data={**VALID, "title": "Another duty", "assignee": "olivia"}), "validation_error"
    )

    assert (kept.title, kept.assignee) == ("Renamed", operator)
    assert "'olivia'" in error.detail
    assert RecurringConfig.objects.count() == 1


def test_a_config_cannot_be_reassigned_to_a_non_member(operator, outsider):
    config = save_config(data={**VALID, "assignee": "olivia"})

    refused(
        lambda: save_config(config=RecurringConfig.objects.get(pk=config.pk), data={"assignee": "oscar"}),
        "validation_error",
    )

    assert RecurringConfig.objects.get(pk=config.pk).assignee == operator


# ---- the API -------------------------------------------------------------------------------------


def test_the_api_refuses_to_create_a_config_for_a_non_member(api, outsider):
    response = api.post(CONFIGS_API, {**VALID, "assignee": "oscar"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["field"]) == ("validation_error", "assignee")
    assert "oscar" in body["detail"]
    assert not RecurringConfig.objects.exists()


def test_the_api_refuses_to_reassign_a_config_to_a_non_member(api, outsider, admin_user):
    created = api.post(CONFIGS_API, {**VALID, "assignee": "adam"}, format="json")
    assert created.status_code == 201, created.json()

    response = api.patch(f"{CONFIGS_API}{created.json()['id']}/", {"assignee": "oscar"}, format="json")

    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert RecurringConfig.objects.get().assignee == admin_user


def test_the_api_keeps_a_former_member_on_their_own_config(api, admin_user):
    config = save_config(data={**VALID, "assignee": "adam"})
    admin_user.groups.clear()

    response = api.patch(f"{CONFIGS_API}{config.pk}/", {"title": "Renamed", "assignee": "adam"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["assignee"] == "adam"


# ---- the admin -----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def admin_form(**changes) -> dict:
    return {
        **VALID,
        "instructions": "",
        "instructions_url": "",
        "starts_on": "",
        "assignee": "",
        "area": "",
        "priority": "normal",
        "estimate_minutes": "",
        "requires_link": "",
        "enabled": "on",
        "catch_up": "latest",
        "_save": "Save",
        **changes,
    }


def assignee_choices(response) -> list[str]:
    field = response.context["adminform"].form.fields["assignee"]
    return sorted(user.username for user in field.queryset)


def test_the_admin_offers_only_portal_members_as_assignees(admin_client, operator, outsider):
    response = admin_client.get(CONFIGS_ADMIN + "add/")

    assert assignee_choices(response) == ["adam", "olivia"]


def test_the_admin_refuses_a_non_member_assignee_with_the_reason(admin_client, outsider):
    response = admin_client.post(CONFIGS_ADMIN + "add/", admin_form(assignee=str(outsider.pk)))

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["assignee"]
    assert "Only active members of Operators or Admins" in error
    assert not RecurringConfig.objects.exists()


def test_the_admin_keeps_a_former_member_selectable_on_their_own_config_only(admin_client, operator):
    config = save_config(data={**VALID, "assignee": "olivia"})
    leaves_the_portal(operator)

    own = admin_client.get(f"{CONFIGS_ADMIN}{config.pk}/change/")
    other = admin_client.get(CONFIGS_ADMIN + "add/")
    saved = admin_client.post(
        f"{CONFIGS_ADMIN}{config.pk}/change/", admin_form(title="Renamed", assignee=str(operator.pk))
    )

    assert assignee_choices(own) == ["adam", "olivia"]
    assert assignee_choices(other) == ["adam"]
    assert saved.status_code == 302
    stored = RecurringConfig.objects.get(pk=config.pk)
    assert (stored.title, stored.assignee) == ("Renamed", operator)
