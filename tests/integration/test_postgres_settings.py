"""The application's PostgreSQL connections: settings the portal relies on."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.integration.conftest import on_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_application_connections_run_with_jit_off():
    assert on_postgres()
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
