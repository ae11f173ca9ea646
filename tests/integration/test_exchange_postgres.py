"""Export, validation and import on PostgreSQL (runs in the PostgreSQL pass, see conftest.py):
the full round trip gives byte-identical entity files, and a row the database refuses leaves it
empty."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from portal.exchange.export import write_export
from portal.exchange.load import ImportRefused, import_export, portal_data_present
from portal.exchange.schema import ENTITIES
from portal.exchange.validate import validate_export
from tests.exchange.dataset import build_portal, wipe_portal
from tests.exchange.test_export import read_lines, write_lines
from tests.integration.conftest import on_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_the_round_trip_on_postgresql_gives_identical_entity_files(tmp_path):
    assert on_postgres()
    build_portal()
    first = tmp_path / "first"
    write_export(first)
    assert validate_export(first).ok, [str(p) for p in validate_export(first).problems]

    wipe_portal()
    import_export(first)
    second = tmp_path / "second"
    write_export(second)

    for entity in ENTITIES:
        name = entity.file_name
        assert (second / name).read_bytes() == (first / name).read_bytes(), f"{name} differs after the round trip"
    # The id sequence continues after the imported users.
    assert get_user_model().objects.create(username="newcomer").pk > 3


def test_a_row_refused_by_postgresql_rolls_the_whole_import_back(tmp_path):
    assert on_postgres()
    build_portal()
    folder = tmp_path / "export"
    write_export(folder)
    wipe_portal()
    notifications = read_lines(folder, "notifications.jsonl")
    # Two notices of one recipient (lines are sorted by random ids, so look for any such pair).
    first, twin = next(
        (a, b)
        for i, a in enumerate(notifications)
        for b in notifications[i + 1 :]
        if a["recipient_id"] == b["recipient_id"]
    )
    twin["dedup_key"] = first["dedup_key"]  # one notice per recipient and key, ever
    write_lines(folder, "notifications.jsonl", notifications)

    with pytest.raises(ImportRefused, match=r"failed at notifications\.jsonl"):
        import_export(folder)

    assert portal_data_present() == {}
