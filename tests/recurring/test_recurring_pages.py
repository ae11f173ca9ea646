"""The Recurring pages: the list of schedules with its filters and in-place actions (pause,
resume, generate now, backfill), the config form with presets and the live schedule preview, and
the admin's add page without a backfill link."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.messages import get_messages

from recurring import services
from recurring.models import GenerationRun, GenerationStatus, GenerationTrigger, RecurringConfig
from tests.factories import OperatorFactory, UserFactory
from tests.factories import make_automatic_template as make_template
from tests.factories import make_recurring_config as make_config
from workflows.models import Run, Task

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# Monday 7 December 2026, noon UTC.
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CREATED = dt.datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
LIST = "/recurring/"
CREATE = "/recurring/new/"
PREVIEW = "/recurring/preview/"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def config_form(**changes) -> dict:
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
        "enabled": "on",
        "catch_up": "latest",
        **changes,
    }


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def text_of(response) -> str:
    """The response's text without tags and with collapsed white space."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())).replace("&#x27;", "'")


# --------------------------------------------------------------------------------------------
# Every page and fragment is a door: login and membership
# --------------------------------------------------------------------------------------------


def _doors() -> list[tuple[str, str, dict]]:
    config = make_config(created=CREATED, title="Door check")
    template = make_template(created=CREATED, name="Door newsletter")
    backfill = {"start_date": "2026-11-30", "end_date": "2026-12-06"}
    return [
        ("get", LIST, {}),
        ("get", CREATE, {}),
        ("post", CREATE, config_form()),
        ("get", f"/recurring/configs/{config.pk}/edit/", {}),
        ("post", f"/recurring/configs/{config.pk}/edit/", config_form()),
        ("get", PREVIEW, {"cron_expression": "0 9 * * *", "timezone": "UTC"}),
        ("post", f"/recurring/configs/{config.pk}/pause/", {}),
        ("post", f"/recurring/configs/{config.pk}/resume/", {}),
        ("post", f"/recurring/configs/{config.pk}/generate/", {}),
        ("post", f"/recurring/configs/{config.pk}/backfill/", backfill),
        ("post", f"/recurring/templates/{template.pk}/pause/", {}),
        ("post", f"/recurring/templates/{template.pk}/generate/", {}),
        ("post", f"/recurring/templates/{template.pk}/backfill/", backfill),
    ]


def test_anonymous_visitors_are_sent_to_login_on_every_page_and_fragment(client):
    for method, url, data in _doors():
        plain = getattr(client, method)(url, data)
        assert plain.status_code == 302 and "/accounts/login/" in plain["Location"], url
        htmx = getattr(client, method)(url, data, headers=HTMX)
        assert htmx.status_code == 401 and htmx["HX-Redirect"] == "/accounts/login/", url
    assert not Task.objects.exists()
    assert RecurringConfig.objects.filter(enabled=False).count() == 0
    assert not GenerationRun.objects.exists()


def test_non_members_are_refused_on_every_page_and_fragment(client, outsider):
    client.force_login(outsider)
    for method, url, data in _doors():
        assert getattr(client, method)(url, data).status_code == 403, url
        assert getattr(client, method)(url, data, headers=HTMX).status_code == 403, url
    assert not Task.objects.exists()
    assert RecurringConfig.objects.count() == 1 and RecurringConfig.objects.get().enabled
    assert not GenerationRun.objects.exists()


def test_an_unknown_or_manual_schedule_is_not_found(operator_client):
    manual = make_template(created=CREATED, trigger_type="manual")
    assert operator_client.post(f"/recurring/templates/{manual.pk}/pause/").status_code == 404
    assert operator_client.post("/recurring/configs/8d4b2a57-9b0e-4c39-9a55-4f0c1b9f1a11/pause/").status_code == 404
    assert operator_client.get("/recurring/configs/8d4b2a57-9b0e-4c39-9a55-4f0c1b9f1a11/edit/").status_code == 404


# --------------------------------------------------------------------------------------------
# The list
# --------------------------------------------------------------------------------------------


def test_list_shows_configs_and_automatic_templates_with_their_schedule_and_history(operator_client, operator):
    config = make_config(
        created=CREATED, title="Check the backups", cron="0 10 * * WED", tz="Europe/Berlin", assignee=operator
    )
    services.backfill(config, start=dt.date(2026, 11, 4), end=dt.date(2026, 11, 11))
    template = make_template(created=CREATED, name="Weekly newsletter", cron="0 9 * * TUE", lead_days=7)
    make_template(created=CREATED, name="Ad-hoc launch", trigger_type="manual")

    response = operator_client.get(LIST)

    assert response.status_code == 200
    text = text_of(response)
    assert "Check the backups" in text and "Weekly newsletter" in text
    assert "Ad-hoc launch" not in text  # a manual template has no schedule
    assert "At 10:00, only on Wednesday" in text and "Europe/Berlin" in text
    assert operator.get_username() in text or operator.get_full_name() in text
    assert "2 tasks" in text  # generated count
    assert "Succeeded" in text and "2 generated, 0 skipped" in text  # last run and its result
    # The next fire time, in the schedule's own zone (10:00 Berlin, not 09:00 UTC).
    assert "Wed 9 Dec 10:00" in text
    assert "tomorrow 09:00" in text  # the template's next trigger, Tuesday
    assert "Active" in text and "Workflow template" in text
    assert f'id="schedule-{template.pk}"' in response.content.decode()
    assert "<html" in response.content.decode()


def test_htmx_list_request_renders_only_the_list_fragment(operator_client):
    make_config(created=CREATED, title="Check the backups")
    response = operator_client.get(LIST, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="schedule-list"' in body and "Check the backups" in body
    assert "<html" not in body and "<h1>" not in body


@pytest.mark.parametrize("size", [2, 12])
def test_list_uses_a_constant_number_of_queries(operator_client, size, django_assert_max_num_queries):
    for n in range(size):
        config = make_config(created=CREATED, title=f"Duty {n}", assignee=OperatorFactory())
        services.backfill(config, start=dt.date(2026, 11, 2), end=dt.date(2026, 11, 3))
        template = make_template(created=CREATED, name=f"Newsletter {n}")
        services.backfill(template, start=dt.date(2026, 11, 3), end=dt.date(2026, 11, 3))
    with django_assert_max_num_queries(7):
        response = operator_client.get(LIST)
    assert response.status_code == 200
    assert response.content.decode().count('class="card schedule"') == 2 * size


def test_filters_paused_archived_and_failing(operator_client):
    active = make_config(created=CREATED, title="Active duty")
    paused = make_config(created=CREATED, title="Paused duty")
    services.pause_config(paused)
    archived = make_config(created=CREATED, title="Archived duty")
    services.archive_config(archived)
    failing = make_config(created=CREATED, title="Failing duty")
    GenerationRun.objects.create(
        recurring_config=failing, trigger=GenerationTrigger.BEAT, status=GenerationStatus.FAILED, at=NOW, error="boom"
    )
    acknowledged = make_config(created=CREATED, title="Acknowledged duty")
    GenerationRun.objects.create(
        recurring_config=acknowledged,
        trigger=GenerationTrigger.BEAT,
        status=GenerationStatus.FAILED,
        at=NOW,
        error="boom",
        acknowledged_at=NOW,
    )

    def titles(query: str) -> set[str]:
        body = operator_client.get(LIST + query).content.decode()
        return set(re.findall(r"(\w+ duty)</a>", body))

    assert titles("") == {"Active duty", "Paused duty", "Failing duty", "Acknowledged duty"}
    assert titles("?state=paused") == {"Paused duty"}
    assert titles("?state=active") == {"Active duty", "Failing duty", "Acknowledged duty"}
    assert titles("?archived=only") == {"Archived duty"}
    assert "Archived duty" in titles("?archived=include")
    assert titles("?failing=on") == {"Failing duty"}
    assert active and archived


def test_an_unknown_filter_value_is_a_clear_400(operator_client):
    make_config(created=CREATED, title="Active duty")
    response = operator_client.get(LIST + "?state=sleeping")
    assert response.status_code == 400
    assert "Select a valid choice" in text_of(response)


# --------------------------------------------------------------------------------------------
# Pause, resume, generate now
# --------------------------------------------------------------------------------------------


def test_pause_and_resume_in_place_return_the_row(operator_client):
    config = make_config(created=CREATED, title="Check the backups")

    paused = operator_client.post(f"/recurring/configs/{config.pk}/pause/", headers=HTMX)

    body = paused.content.decode()
    assert paused.status_code == 200 and "<html" not in body
    assert f'id="schedule-{config.pk}"' in body and "Paused" in body and "Resume" in body
    config.refresh_from_db()
    assert not config.enabled

    resumed = operator_client.post(f"/recurring/configs/{config.pk}/resume/", headers=HTMX)
    assert "Resumed" in text_of(resumed)
    config.refresh_from_db()
    assert config.enabled and config.resumed_at == NOW


def test_plain_pause_redirects_back_to_the_list_with_a_message(operator_client):
    config = make_config(created=CREATED, title="Check the backups")
    response = operator_client.post(f"/recurring/configs/{config.pk}/pause/")
    assert response.status_code == 302 and response["Location"].startswith(LIST)
    assert any("Paused" in m for m in messages_of(response))
    config.refresh_from_db()
    assert not config.enabled


def test_pause_and_resume_an_automatic_template_trigger(operator_client):
    template = make_template(created=CREATED, name="Weekly newsletter")
    operator_client.post(f"/recurring/templates/{template.pk}/pause/", headers=HTMX)
    template.refresh_from_db()
    assert not template.trigger_enabled
    operator_client.post(f"/recurring/templates/{template.pk}/resume/", headers=HTMX)
    template.refresh_from_db()
    assert template.trigger_enabled


def test_generate_now_creates_the_due_window_then_says_it_already_exists(operator_client):
    config = make_config(created=CREATED, title="Check the backups", cron="0 10 * * *")

    first = operator_client.post(f"/recurring/configs/{config.pk}/generate/", headers=HTMX)

    assert "Generated 1 task for today" in text_of(first)
    assert list(Task.objects.filter(recurring_config=config).values_list("window_date", flat=True)) == [
        dt.date(2026, 12, 7)
    ]

    again = operator_client.post(f"/recurring/configs/{config.pk}/generate/", headers=HTMX)

    assert "Nothing generated: today's window already exists; next window is tomorrow 10:00 (UTC)." in text_of(again)
    assert Task.objects.filter(recurring_config=config).count() == 1


def test_generate_now_names_the_next_window_when_none_is_due(operator_client, time_machine):
    config = make_config(created=NOW - dt.timedelta(hours=1), title="Team call notes", cron="0 10 * * WED")

    response = operator_client.post(f"/recurring/configs/{config.pk}/generate/", headers=HTMX)

    assert "Nothing generated: no window is due now; next window is Wed 9 Dec 10:00 (UTC)." in text_of(response)
    assert not Task.objects.exists()


def test_generate_now_on_a_paused_config_says_it_is_paused(operator_client):
    config = make_config(created=CREATED, title="Check the backups")
    services.pause_config(config)

    response = operator_client.post(f"/recurring/configs/{config.pk}/generate/")

    assert any("this schedule is paused" in m for m in messages_of(response))
    assert not Task.objects.exists()


def test_generate_now_of_an_automatic_template_creates_the_run(operator_client):
    template = make_template(created=CREATED, name="Weekly newsletter", cron="0 9 * * MON", lead_days=7)
    response = operator_client.post(f"/recurring/templates/{template.pk}/generate/", headers=HTMX)
    assert "Generated 1 run for today" in text_of(response)
    assert Run.objects.get(template=template).anchor_date == dt.date(2026, 12, 14)


# --------------------------------------------------------------------------------------------
# Backfill: dry run, confirm, refusals
# --------------------------------------------------------------------------------------------


def test_backfill_dry_run_lists_the_windows_and_writes_nothing_then_confirm_writes(operator_client):
    config = make_config(created=CREATED, title="Check the backups", cron="0 10 * * *")
    services.backfill(config, start=dt.date(2026, 11, 25), end=dt.date(2026, 11, 25))
    url = f"/recurring/configs/{config.pk}/backfill/"
    runs_before = GenerationRun.objects.count()

    preview = operator_client.post(url, {"start_date": "2026-11-23", "end_date": "2026-11-27"}, headers=HTMX)

    text = text_of(preview)
    assert preview.status_code == 200
    assert "Dry run" in text
    for day in ("Mon 23 Nov", "Tue 24 Nov", "Thu 26 Nov", "Fri 27 Nov"):
        assert f"{day} Would be generated" in text
    assert "Wed 25 Nov Already exists" in text
    assert "Would be generated: 4 · Already exist (skipped): 1" in text
    assert Task.objects.filter(recurring_config=config).count() == 1
    assert GenerationRun.objects.count() == runs_before

    done = operator_client.post(
        url, {"start_date": "2026-11-23", "end_date": "2026-11-27", "confirm": "1"}, headers=HTMX
    )

    assert "4 tasks generated, 1 already existed" in text_of(done)
    assert Task.objects.filter(recurring_config=config).count() == 5


def test_backfill_works_without_javascript(operator_client):
    config = make_config(created=CREATED, title="Check the backups", cron="0 10 * * *")
    url = f"/recurring/configs/{config.pk}/backfill/"

    preview = operator_client.post(url, {"start_date": "2026-11-30", "end_date": "2026-12-06"})

    assert preview.status_code == 200 and "<html" in preview.content.decode()
    assert "Would be generated: 7" in text_of(preview)
    assert not Task.objects.exists()
    done = operator_client.post(url, {"start_date": "2026-11-30", "end_date": "2026-12-06", "confirm": "1"})
    assert done.status_code == 302
    assert any("7 tasks generated, 0 already existed" in m for m in messages_of(done))


@pytest.mark.parametrize(
    ("start", "end", "field", "reason"),
    [
        ("2025-01-01", "2026-12-01", None, "at most 366 days"),
        ("2026-12-05", "2026-12-01", "end", "before the start date"),
        ("yesterday", "2026-12-01", "start", "not a date"),
    ],
)
def test_backfill_refusals_show_next_to_the_fields_and_write_nothing(operator_client, start, end, field, reason):
    config = make_config(created=CREATED, title="Check the backups")
    response = operator_client.post(
        f"/recurring/configs/{config.pk}/backfill/", {"start_date": start, "end_date": end}, headers=HTMX
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert reason in text_of(response)
    if field:
        assert re.search(rf'id="bf-{field}-{config.pk}-error"[^>]*>[^<]*{reason}', body)
    assert not Task.objects.exists() and not GenerationRun.objects.exists()


def test_backfill_of_an_archived_config_is_refused(operator_client):
    config = make_config(created=CREATED, title="Old duty")
    services.archive_config(config)
    response = operator_client.post(
        f"/recurring/configs/{config.pk}/backfill/",
        {"start_date": "2026-11-30", "end_date": "2026-12-01"},
        headers=HTMX,
    )
    assert response.status_code == 409
    assert "archived; it cannot be backfilled" in text_of(response)
    assert not Task.objects.exists()


# --------------------------------------------------------------------------------------------
# Live preview of a schedule
# --------------------------------------------------------------------------------------------


def test_preview_shows_the_plain_words_and_the_next_five_fire_times_in_the_zone(operator_client):
    response = operator_client.get(
        PREVIEW, {"cron_expression": "0 10 * * WED", "timezone": "Europe/Berlin"}, headers=HTMX
    )
    text = text_of(response)
    assert "<html" not in response.content.decode()
    assert "At 10:00, only on Wednesday" in text and "Europe/Berlin" in text
    assert "Next 5 fire times" in text
    fires = re.findall(r'<time datetime="([^"]+)"', response.content.decode())
    assert fires == ["2026-12-09T10:00", "2026-12-16T10:00", "2026-12-23T10:00", "2026-12-30T10:00", "2027-01-06T10:00"]


def test_preview_starts_at_the_start_date(operator_client):
    response = operator_client.get(
        PREVIEW, {"cron_expression": "0 10 * * WED", "timezone": "UTC", "starts_on": "2027-01-01"}, headers=HTMX
    )
    fires = re.findall(r'<time datetime="([^"]+)"', response.content.decode())
    assert fires[0] == "2027-01-06T10:00" and len(fires) == 5


def test_preview_gives_the_refusal_reason(operator_client):
    response = operator_client.get(PREVIEW, {"cron_expression": "0 9 L * *", "timezone": "UTC"}, headers=HTMX)
    assert "This schedule is refused" in text_of(response) and "'L'" in text_of(response)
    zone = operator_client.get(PREVIEW, {"cron_expression": "0 9 * * *", "timezone": "Mars/Olympus"}, headers=HTMX)
    assert "Mars/Olympus" in text_of(zone)


def test_preview_as_a_plain_request_is_a_whole_page(operator_client):
    response = operator_client.get(PREVIEW, {"cron_expression": "0 9 * * *", "timezone": "UTC"})
    assert response.status_code == 200 and "<html" in response.content.decode()
    assert "At 09:00" in text_of(response)


# --------------------------------------------------------------------------------------------
# Create and edit a config
# --------------------------------------------------------------------------------------------


def test_create_saves_through_save_config_and_returns_to_the_list(operator_client, operator, monkeypatch):
    calls = []
    real = services.save_config

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, "save_config", spy)
    response = operator_client.post(CREATE, config_form(assignee=str(operator.pk)))

    config = RecurringConfig.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{LIST}#schedule-{config.pk}"
    assert calls and calls[0]["by"] == operator and calls[0]["config"] is None
    assert config.cron_expression == "0 10 * * WED" and config.timezone == "Europe/Berlin"
    assert config.assignee == operator and config.next_fire_at is not None
    assert not Task.objects.exists()  # saving never generates


def test_an_invalid_cron_is_refused_on_save_with_the_reason_next_to_the_field(operator_client):
    response = operator_client.post(CREATE, config_form(cron_expression="0 9 * * 1#2"))
    body = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'id="id_cron_expression_error"[^>]*>[^<]*This schedule is refused', body)
    assert 'aria-invalid="true"' in body
    assert not RecurringConfig.objects.exists()


def test_a_preset_without_javascript_fills_the_cron_field_and_saves_nothing(operator_client):
    response = operator_client.post(CREATE, config_form(cron_expression="", preset="0 9 * * MON-FRI"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="0 9 * * MON-FRI"' in body
    assert 'value="Back up the Mailchimp list"' in body  # what was typed stays
    assert "At 09:00, Monday through Friday" in text_of(response)
    assert not RecurringConfig.objects.exists()


def test_the_form_offers_presets_and_only_portal_members_as_assignees(operator_client, operator):
    UserFactory(username="stranger")
    body = operator_client.get(CREATE).content.decode()
    assert "Every weekday at 9:00" in body and "Monthly on the 1st at 10:00" in body
    assert f">{operator.get_username()}<" in body
    assert ">stranger<" not in body


def test_a_non_member_assignee_is_refused(operator_client):
    stranger = UserFactory(username="stranger")
    response = operator_client.post(CREATE, config_form(assignee=str(stranger.pk)))
    assert response.status_code == 400
    assert "Only active members of Operators or Admins" in text_of(response)
    assert not RecurringConfig.objects.exists()


def test_edit_changes_the_config_through_the_service(operator_client):
    config = make_config(created=CREATED, title="Check the backups", cron="0 10 * * WED", tz="Europe/Berlin")
    url = f"/recurring/configs/{config.pk}/edit/"

    page = operator_client.get(url)
    assert 'value="0 10 * * WED"' in page.content.decode()
    assert "At 10:00, only on Wednesday" in text_of(page)

    response = operator_client.post(url, config_form(title="Check the backups twice", cron_expression="0 10 * * MON"))

    assert response.status_code == 302
    config.refresh_from_db()
    assert config.title == "Check the backups twice" and config.cron_expression == "0 10 * * MON"


def test_htmx_request_of_the_form_renders_the_form_fragment(operator_client):
    body = operator_client.get(CREATE, headers=HTMX).content.decode()
    assert 'id="config-form"' in body and "<html" not in body


# --------------------------------------------------------------------------------------------
# The admin's add page
# --------------------------------------------------------------------------------------------


def test_admin_add_page_offers_no_backfill_link_but_a_saved_config_does(client, admin_user):
    client.force_login(admin_user)
    add = "/admin/recurring/recurringconfig/add/"

    assert "/backfill/" not in client.get(add).content.decode()
    refused = client.post(add, {"title": "", "cron_expression": "0 9 L * *", "timezone": "UTC", "priority": "normal"})
    assert refused.status_code == 200 and "/backfill/" not in refused.content.decode()

    config = make_config(created=CREATED, title="Saved duty")
    change = client.get(f"/admin/recurring/recurringconfig/{config.pk}/change/").content.decode()
    assert f"/admin/recurring/recurringconfig/{config.pk}/backfill/" in change
