"""Bad input on PostgreSQL, where it once ended in a ``DataError``: an instant off the portal's
calendar never reaches a timestamp column, and every read afterwards still works.

These tests run inside the PostgreSQL pass (see ``conftest.py``)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from recurring.models import GenerationRun, RecurringConfig
from tests.factories import make_recurring_config, utc
from tests.integration.conftest import on_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

NOW = utc(2028, 3, 1, 12)


@pytest.mark.parametrize("value", ["0001-01-01T00:00+14:00", "0001-01-01T00:00", "9999-12-31T23:59-12:00"])
def test_run_schedules_off_the_calendar_writes_nothing_and_every_read_still_works(api, time_machine, value):
    assert on_postgres(), "this test needs the PostgreSQL pass"
    time_machine.move_to(NOW, tick=False)
    for zone in ("UTC", "Pacific/Kiritimati", "Etc/GMT+12"):
        make_recurring_config(created=utc(2028, 2, 1, 8), tz=zone)
    before = list(RecurringConfig.objects.order_by("pk").values_list("next_fire_at", "retry_at"))

    with pytest.raises(CommandError) as refused:
        call_command("run_schedules", "--at", value)

    assert "outside the portal's calendar" in str(refused.value) and "\n" not in str(refused.value)
    assert not GenerationRun.objects.exists()
    assert list(RecurringConfig.objects.order_by("pk").values_list("next_fire_at", "retry_at")) == before
    for path in ("/api/v1/home/", "/api/v1/recurring-configs/", "/api/v1/generation-runs/"):
        assert api.get(path).status_code == 200, path
    call_command("run_schedules")
