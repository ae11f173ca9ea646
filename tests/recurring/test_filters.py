"""The list filters of recurring configs and generation runs (``recurring.filters``), shared by the
API and the pages: strict values, and names a list does not know refused rather than ignored."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from recurring.filters import GenerationRunFilter, RecurringConfigFilter
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from recurring.services import archive_config
from tests.factories import make_recurring_config, utc
from workflows.errors import DomainError

pytestmark = pytest.mark.django_db

AT = utc(2028, 2, 2, 9)


@pytest.fixture
def kept() -> RecurringConfig:
    return make_recurring_config(created=utc(2028, 2, 1, 12), title="Kept")


@pytest.fixture
def archived() -> RecurringConfig:
    return archive_config(make_recurring_config(created=utc(2028, 2, 1, 12), title="Retired"))


def test_configs_leave_archived_ones_out_unless_asked(kept, archived):
    def titles(query: str) -> set[str]:
        return set(
            RecurringConfigFilter(QueryDict(query), queryset=RecurringConfig.objects.all()).qs.values_list(
                "title", flat=True
            )
        )

    assert titles("") == {"Kept"}
    assert titles("archived=false") == {"Kept"}
    assert titles("archived=true") == {"Kept", "Retired"}


def test_generation_runs_filter_by_kind_and_trigger(kept):
    beat = GenerationRun.objects.create(
        recurring_config=kept, trigger=GenerationTrigger.BEAT, status=GenerationStatus.SUCCESS, at=AT
    )
    GenerationRun.objects.create(
        recurring_config=kept, trigger=GenerationTrigger.RECONCILE, status=GenerationStatus.SUCCESS, at=AT
    )

    found = GenerationRunFilter(QueryDict("kind=recurring&trigger=beat"), queryset=GenerationRun.objects.all()).qs

    assert list(found) == [beat]
    assert not GenerationRunFilter(QueryDict("kind=template"), queryset=GenerationRun.objects.all()).qs.exists()


@pytest.mark.parametrize(
    ("url", "name"),
    [("/api/v1/generation-runs/", "statuss"), ("/api/v1/recurring-configs/", "archive")],
)
def test_a_misspelt_filter_is_refused_naming_it(api, kept, url, name):
    response = api.get(url, {name: "true"})

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["field"]) == ("validation_error", name)
    assert name in body["detail"]


def test_pagination_and_format_are_not_filters(api, kept):
    response = api.get("/api/v1/recurring-configs/", {"page": 1, "format": "json"})

    assert response.status_code == 200
    assert [row["title"] for row in response.json()["results"]] == ["Kept"]


def test_a_refused_value_names_the_filter():
    with pytest.raises(DomainError) as refused:
        GenerationRunFilter(QueryDict("trigger=sometimes"), queryset=GenerationRun.objects.all()).qs  # noqa: B018

    assert refused.value.code == "validation_error"
    assert "trigger must be one of" in refused.value.detail
