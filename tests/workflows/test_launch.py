"""A template without tasks cannot launch a run, through the domain or the API."""

from __future__ import annotations

import pytest

from tests.conftest import refused
from tests.factories import (
    ANCHOR,
)
from workflows.models import (
    Run,
)
from workflows.services import instantiate_run, save_template

pytestmark = pytest.mark.django_db


def test_a_template_without_tasks_cannot_launch():
    template = save_template(data={"name": "Empty"}, tasks=[])
    error = refused(lambda: instantiate_run(template=template, anchor_date=ANCHOR), "template_has_no_tasks")
    assert "Empty" in error.detail
    assert not Run.objects.exists()


def test_launching_a_template_without_tasks_through_the_api_is_a_400(api):
    template = save_template(data={"name": "Empty"}, tasks=[])
    response = api.post(f"/api/v1/templates/{template.pk}/launch/", {"anchor_date": "2028-02-09"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "template_has_no_tasks"
    assert not Run.objects.exists()
