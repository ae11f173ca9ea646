"""The models and their migrations say the same thing: the test database is built from the
migrations, so a rule changed in a model alone (a generated column's expression, an index)
would otherwise go untested."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as missing:
        pytest.fail(f"Models differ from their migrations (exit {missing.code}):\n{out.getvalue()}")
