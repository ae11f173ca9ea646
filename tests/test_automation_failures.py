"""Home's automation failures are grouped in SQL: one row per failure however many times it
was retried, represented by its latest attempt."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.selectors import automation_failures
from recurring.models import GenerationRun
from tests.factories import (
    ANCHOR,
    failed_generation,
    make_config,
)

pytestmark = pytest.mark.django_db


def test_home_loads_one_row_per_failure_however_many_retries(monkeypatch):
    config = make_config()
    for _ in range(12):
        failed_generation(config, ANCHOR, failure_key="automation-failure:recurring:c:2028-02-09")
    failed_generation(config, ANCHOR - dt.timedelta(days=1))  # an older row without a key
    failed_generation(config, ANCHOR - dt.timedelta(days=1))
    loaded = []
    original = GenerationRun.from_db.__func__

    def counting_from_db(cls, *args, **kwargs):
        loaded.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(GenerationRun, "from_db", classmethod(counting_from_db))
    failures = automation_failures()
    assert sorted(f.attempts for f in failures) == [2, 12]
    assert len(loaded) == 2


def test_the_latest_attempt_represents_a_failure():
    config = make_config()
    first = failed_generation(config, ANCHOR, error="first")
    GenerationRun.objects.filter(pk=first.pk).update(started_at=dt.datetime(2028, 2, 9, 9, tzinfo=dt.UTC))
    latest = failed_generation(config, ANCHOR, error="second")
    GenerationRun.objects.filter(pk=latest.pk).update(started_at=dt.datetime(2028, 2, 9, 9, 2, tzinfo=dt.UTC))
    (failure,) = automation_failures()
    assert (failure.pk, failure.attempts, failure.error) == (latest.pk, 2, "second")
