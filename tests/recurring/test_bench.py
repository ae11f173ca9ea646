"""``manage.py bench`` (a small run): prints the three figures, on a scratch database only."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.django_db
def test_a_small_benchmark_prints_the_three_figures_without_touching_the_configured_database():
    from workflows.models import Task

    out = StringIO()

    call_command("bench", configs=5, days=10, schedules=50, due=5, stdout=out)

    text = out.getvalue()
    assert "Scratch SQLite database" in text
    assert re.search(r"\(a\) backfill: 5 daily configs × 10 days = 50 tasks in \d+\.\d+ s", text), text
    assert re.search(r"\(b\) bulk_create: the same 50 Task rows in \d+\.\d+ s", text), text
    assert re.search(r"ratio \(a\)/\(b\): \d+\.\d+", text), text
    assert re.search(r"\(c\) reconcile: 50 enabled schedules, 5 due: \d+\.\d+ s .*, 5 generated, 5 task\(s\)", text), (
        text
    )
    assert "WARNING" not in text
    assert not Task.objects.exists()


def test_measuring_refuses_to_run_outside_its_scratch_database():
    with pytest.raises(CommandError, match="not on the benchmark's scratch database"):
        call_command("bench", in_scratch_db=True, configs=1, days=1, schedules=1, due=0)


@pytest.mark.parametrize(
    ("options", "words"),
    [({"configs": 0}, "--configs"), ({"days": 400}, "--days"), ({"schedules": 10, "due": 11}, "--due")],
)
def test_bad_sizes_are_refused(options, words):
    with pytest.raises(CommandError, match=words):
        call_command("bench", **options)
