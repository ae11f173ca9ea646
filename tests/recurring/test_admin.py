"""The scheduler's admin: recurring configs and the generation-run history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages

from recurring import services
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from tests.factories import OperatorFactory, TaskFactory, TemplateFactory, TemplateTaskFactory
from workflows.models import Run, Task, TaskSource, TriggerType

pytestmark = pytest.mark.django_db

CONFIGS = "/admin/recurring/recurringconfig/"
RUNS = "/admin/recurring/generationrun/"
NOW = dt.datetime(2028, 2, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def make_config(**data) -> RecurringConfig:
    return services.save_config(
        data={"title": "Handle Slack invites", "cron_expression": "0 9 * * *", "timezone": "UTC", **data}
    )


def form_data(**changes) -> dict:
    return {
        "title": "Back up the Mailchimp list",
        "instructions": "Export the audience as CSV.",
        "instructions_url": "",
        "cron_expression": "0 10 * * WED",
        "timezone": "Europe/Berlin",
        "starts_on": "",
        "assignee": "",
        "area": "Community",
        "priority": "normal",
        "estimate_minutes": "10",
        "requires_link": "",
        "requires_file": "on",
        "enabled": "on",
        "catch_up": "latest",
        "_save": "Save",
        **changes,
    }


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_operators_cannot_reach_the_admin(client, operator):
    client.force_login(operator)

    assert client.get(CONFIGS).status_code == 403


def test_changelist_shows_schedule_in_words_state_history_and_next_fire(admin_client, operator):
    config = make_config(assignee=operator, starts_on=dt.date(2028, 1, 1))
    TaskFactory(source=TaskSource.RECURRING, recurring_config=config, window_date=dt.date(2028, 1, 31))
    GenerationRun.objects.create(
        recurring_config=config,
        trigger=GenerationTrigger.BEAT,
        status=GenerationStatus.FAILED,
        at=NOW,
        error="boom",
        failed=1,
    )
    paused = make_config(title="Weekly backup", cron_expression="0 10 * * WED")
    services.pause_config(paused)

    page = admin_client.get(CONFIGS).content.decode()

    assert "Handle Slack invites" in page
    assert "At 09:00" in page  # the plain-words schedule
    assert "(0 9 * * *)" in page
    assert "olivia" in page
    assert "Needs attention" in page  # the last run failed and nobody acknowledged it
    assert "Tue 2028-02-01 09:00 UTC" in page  # next fire time
    assert "Paused" in page
    assert "— (paused)" in page


def test_changelist_hides_archived_configs_by_default(admin_client):
    make_config(title="Still running")
    archived = make_config(title="Retired duty")
    services.archive_config(archived)

    assert "Retired duty" not in admin_client.get(CONFIGS).content.decode()
    assert "Retired duty" in admin_client.get(CONFIGS, {"archived": "yes"}).content.decode()


@pytest.mark.parametrize("size", [2, 15])
def test_changelist_uses_a_constant_number_of_queries(admin_client, size, django_assert_max_num_queries):
    for n in range(size):
        config = make_config(title=f"Duty {n:02d}", assignee=OperatorFactory())
        TaskFactory(source=TaskSource.RECURRING, recurring_config=config, window_date=dt.date(2028, 1, 30))
        GenerationRun.objects.create(recurring_config=config, trigger="beat", status="success", at=NOW, generated=1)

    with django_assert_max_num_queries(16):
        response = admin_client.get(CONFIGS)

    assert response.status_code == 200
    assert response.content.decode().count("Duty ") >= size


def test_a_refused_cron_expression_is_a_form_error_with_the_reason(admin_client):
    response = admin_client.post(CONFIGS + "add/", form_data(cron_expression="0 9 * * MON#2"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "cron_expression" in errors
    assert "#" in errors["cron_expression"][0]
    assert not RecurringConfig.objects.exists()


def test_an_unknown_time_zone_is_a_form_error(admin_client):
    response = admin_client.post(CONFIGS + "add/", form_data(timezone="Europe/Atlantis"))

    assert "Europe/Atlantis" in response.context["adminform"].form.errors["timezone"][0]
    assert not RecurringConfig.objects.exists()


def test_saving_goes_through_save_config(admin_client, monkeypatch, admin_user):
    calls = []
    real = services.save_config

    def spy(**kwargs):
        stored = kwargs["config"]
        calls.append({**kwargs, "enabled_when_called": stored.enabled if stored else None})
        return real(**kwargs)

    monkeypatch.setattr(services, "save_config", spy)

    response = admin_client.post(CONFIGS + "add/", form_data())

    assert response.status_code == 302, response.context["adminform"].form.errors
    config = RecurringConfig.objects.get()
    assert calls[0]["config"] is None
    assert calls[0]["by"] == admin_user
    assert calls[0]["data"]["cron_expression"] == "0 10 * * WED"
    assert (config.timezone, config.requires_file, config.enabled) == ("Europe/Berlin", True, True)
    assert response["Location"].endswith(f"{config.pk}/change/") or response["Location"].endswith(CONFIGS)

    response = admin_client.post(f"{CONFIGS}{config.pk}/change/", form_data(title="Renamed", enabled=""))

    assert response.status_code == 302
    assert calls[1]["config"].pk == config.pk
    assert calls[1]["enabled_when_called"] is True  # the service sees the stored config, not the edited one
    config.refresh_from_db()
    assert (config.title, config.enabled) == ("Renamed", False)


def test_change_page_shows_the_schedule_in_words_and_the_next_five_fire_times(admin_client):
    config = make_config(cron_expression="0 10 * * WED", timezone="Europe/Berlin")

    page = admin_client.get(f"{CONFIGS}{config.pk}/change/").content.decode()

    assert "At 10:00" in page
    assert "Wednesday" in page
    for day in ("2028-02-02", "2028-02-09", "2028-02-16", "2028-02-23", "2028-03-01"):
        assert f"Wed {day} 10:00 CET" in page
    assert "2028-03-08" not in page
    assert f"{CONFIGS}{config.pk}/backfill/" in page


def test_pause_resume_and_archive_actions_use_the_services(admin_client):
    config = make_config()

    def act(action):
        return admin_client.post(CONFIGS, {"action": action, "_selected_action": [config.pk]}, follow=True)

    act("pause")
    config.refresh_from_db()
    assert config.enabled is False
    act("resume")
    config.refresh_from_db()
    assert config.enabled is True
    act("archive")
    config.refresh_from_db()
    assert config.archived_at is not None


def test_generate_now_creates_the_due_window_and_reports_counts(admin_client, time_machine):
    config = make_config()
    time_machine.move_to(NOW + dt.timedelta(hours=1, minutes=30), tick=False)

    response = admin_client.post(CONFIGS, {"action": "generate_now", "_selected_action": [config.pk]}, follow=True)

    task = Task.objects.get(recurring_config=config)
    assert task.window_date == dt.date(2028, 2, 1)
    assert any("1 generated" in text for text in messages_of(response))
    again = admin_client.post(CONFIGS, {"action": "generate_now", "_selected_action": [config.pk]}, follow=True)
    assert Task.objects.filter(recurring_config=config).count() == 1
    assert any("0 generated" in text and "1 skipped" in text for text in messages_of(again))


def test_backfill_previews_then_creates_exactly_the_previewed_windows(admin_client):
    config = make_config(cron_expression="0 10 1 * *", starts_on=dt.date(2027, 10, 1))
    url = f"{CONFIGS}{config.pk}/backfill/"
    services.backfill(config, start=dt.date(2027, 11, 1), end=dt.date(2027, 11, 1))

    assert admin_client.get(url).status_code == 200
    preview = admin_client.post(url, {"start_date": "2027-10-01", "end_date": "2028-01-31", "preview": "1"})

    page = preview.content.decode()
    assert preview.context["preview"].windows == [dt.date(2027, 10, 1), dt.date(2027, 12, 1), dt.date(2028, 1, 1)]
    assert preview.context["preview"].existing == [dt.date(2027, 11, 1)]
    assert "Would be generated: 3" in page
    assert "Already exist (skipped): 1" in page
    assert Task.objects.filter(recurring_config=config).count() == 1  # the dry run wrote nothing

    done = admin_client.post(url, {"start_date": "2027-10-01", "end_date": "2028-01-31", "confirm": "1"}, follow=True)

    assert sorted(Task.objects.filter(recurring_config=config).values_list("window_date", flat=True)) == [
        dt.date(2027, 10, 1),
        dt.date(2027, 11, 1),
        dt.date(2027, 12, 1),
        dt.date(2028, 1, 1),
    ]
    assert any("3 task(s) generated, 1 already existed" in text for text in messages_of(done))


def test_backfill_page_prefills_the_range_from_the_link(admin_client):
    config = make_config(starts_on=dt.date(2028, 1, 1))

    page = admin_client.get(
        f"{CONFIGS}{config.pk}/backfill/", {"start_date": "2028-01-03", "end_date": "2028-01-09"}
    ).content.decode()

    assert 'value="2028-01-03"' in page
    assert 'value="2028-01-09"' in page
    assert not Task.objects.exists()


def test_backfill_refusals_are_form_errors_and_write_nothing(admin_client):
    config = make_config(starts_on=dt.date(2026, 1, 1))
    url = f"{CONFIGS}{config.pk}/backfill/"

    too_long = admin_client.post(url, {"start_date": "2026-01-01", "end_date": "2028-01-31", "preview": "1"})
    backwards = admin_client.post(url, {"start_date": "2028-01-31", "end_date": "2028-01-01", "confirm": "1"})
    malformed = admin_client.post(url, {"start_date": "yesterday", "end_date": "2028-01-01", "confirm": "1"})

    assert too_long.context["form"].non_field_errors()
    assert "366" in " ".join(too_long.context["form"].non_field_errors())
    assert backwards.context["form"].errors["end_date"]
    assert malformed.context["form"].errors["start_date"]
    assert not Task.objects.exists()


def test_backfill_of_an_automatic_template(admin_client):
    template = TemplateFactory(
        name="Weekly social media",
        trigger_type=TriggerType.AUTOMATIC,
        trigger_schedule="0 9 * * TUE",
        trigger_timezone="UTC",
        trigger_lead_days=7,
        trigger_starts_on=dt.date(2028, 1, 1),
    )
    TemplateTaskFactory(template=template, ref="post", offset_days=-1)
    url = f"{CONFIGS}template/{template.pk}/backfill/"

    preview = admin_client.post(url, {"start_date": "2028-01-01", "end_date": "2028-01-31", "preview": "1"})
    assert preview.context["preview"].windows == [dt.date(2028, 1, d) for d in (4, 11, 18, 25)]
    assert not Run.objects.exists()

    admin_client.post(url, {"start_date": "2028-01-01", "end_date": "2028-01-31", "confirm": "1"})

    assert sorted(Run.objects.values_list("anchor_date", flat=True)) == [dt.date(2028, 1, d) for d in (11, 18, 25)] + [
        dt.date(2028, 2, 1)
    ]


def test_deleting_a_config_with_history_is_refused_and_suggests_archiving(admin_client):
    config = make_config()
    TaskFactory(source=TaskSource.RECURRING, recurring_config=config, window_date=dt.date(2028, 1, 31))

    response = admin_client.get(f"{CONFIGS}{config.pk}/delete/", follow=True)
    bulk = admin_client.post(CONFIGS, {"action": "delete_selected", "_selected_action": [config.pk]}, follow=True)

    assert RecurringConfig.objects.filter(pk=config.pk).exists()
    text = " ".join(messages_of(response))
    assert "cannot be deleted" in text
    assert "Archive it instead" in text
    assert any("Archive it instead" in m for m in messages_of(bulk))


def test_deleting_a_config_without_history_works(admin_client):
    config = make_config()

    admin_client.post(f"{CONFIGS}{config.pk}/delete/", {"post": "yes"})

    assert not RecurringConfig.objects.filter(pk=config.pk).exists()


# ---- generation runs ------------------------------------------------------------------------


def failed_run(config, **fields) -> GenerationRun:
    return GenerationRun.objects.create(
        recurring_config=config,
        trigger=GenerationTrigger.RECONCILE,
        status=GenerationStatus.FAILED,
        at=NOW,
        failed=1,
        failed_window=dt.date(2028, 2, 1),
        error=fields.pop("error", "database is locked"),
        **fields,
    )


def test_generation_runs_are_read_only_and_failures_needing_attention_are_flagged(admin_client):
    config = make_config()
    failed_run(config)
    failed_run(config, error="acknowledged one", acknowledged_at=NOW, acknowledgement_note="fixed")
    GenerationRun.objects.create(recurring_config=config, trigger="beat", status="success", at=NOW, generated=1)

    page = admin_client.get(RUNS).content.decode()
    flagged = admin_client.get(RUNS, {"attention": "needed"}).context["cl"].result_list

    assert page.count("⚠ Needs attention") == 1
    assert "Acknowledged 2028-02-01" in page
    assert "Recurring · Handle Slack invites" in page
    assert [run.error for run in flagged] == ["database is locked"]
    assert admin_client.get(RUNS + "add/").status_code == 403
    detail = admin_client.get(f"{RUNS}{flagged[0].pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()


def test_acknowledging_a_failure_needs_a_note(admin_client, admin_user):
    run = failed_run(make_config())
    selection = {"action": "acknowledge", "_selected_action": [run.pk]}

    asked = admin_client.post(RUNS, selection)
    empty = admin_client.post(RUNS, {**selection, "apply": "1", "note": "  "})
    run.refresh_from_db()
    assert asked.status_code == 200 and "note" in asked.content.decode()
    assert empty.context["form"].errors["note"]
    assert run.acknowledged_at is None

    admin_client.post(RUNS, {**selection, "apply": "1", "note": "Disk was full; cleaned up."}, follow=True)

    run.refresh_from_db()
    assert run.acknowledged_at is not None
    assert run.acknowledgement_note == "Disk was full; cleaned up."
    assert run.acknowledged_by == admin_user
    assert "⚠ Needs attention" not in admin_client.get(RUNS).content.decode()


def test_the_add_page_says_what_appears_after_saving_and_runs_no_history_queries(admin_client):
    page = admin_client.get("/admin/recurring/recurringconfig/add/").content.decode()
    assert "Shown after saving." in page
    assert "Backfill a date range" not in page
