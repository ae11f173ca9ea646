"""List endpoints refuse a query parameter they do not know, naming it, and still accept paging
and their documented filters."""

from __future__ import annotations

import pytest

from tests.factories import (
    TaskFactory,
)
from workflows.models import (
    TaskStatus,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/api/v1/tasks/", {"statuss": "done"}, "statuss"),
        ("/api/v1/templates/", {"categry": "Finance"}, "categry"),
        ("/api/v1/runs/", {"stauts": "active"}, "stauts"),
        ("/api/v1/home/", {"scpoe": "mine"}, "scpoe"),
    ],
)
def test_an_unknown_query_parameter_on_a_list_is_refused_naming_it(api, path, query, name):
    response = api.get(path, query)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"].startswith(f"{name}:")


def test_pagination_and_documented_filters_are_still_accepted(api):
    TaskFactory(status=TaskStatus.TODO)
    response = api.get("/api/v1/tasks/", {"status": "todo", "page": 1, "page_size": 5, "format": "json"})
    assert response.status_code == 200 and response.json()["count"] == 1
