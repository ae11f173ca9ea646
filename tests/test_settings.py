"""Settings come from the environment: production refuses unsafe values at start-up, malformed
values are refused rather than replaced, and production settings pass ``check --deploy``."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.settings import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent
PORTAL_ENV_PREFIXES = ("PORTAL_", "DATABASE_", "CELERY_", "EMAIL_", "SECURE_", "DJANGO_")
PORTAL_ENV_NAMES = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "BEHIND_TLS_PROXY", "STATIC_ROOT"}


def _start(tmp_path, code: str = "import django; django.setup(); print('started')", **env: str):
    """Start Python with the portal's settings and only the given portal variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PORTAL_ENV_PREFIXES) and k not in PORTAL_ENV_NAMES}
    clean.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(tmp_path / "var"), **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def _production(**env: str) -> dict[str, str]:
    return {
        "PORTAL_PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "portal.example.com",
        **env,
    }


def test_local_defaults_start(tmp_path):
    started = _start(tmp_path)

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "started"


def test_the_embedded_database_is_opened_for_concurrent_work_and_mapped_reads(tmp_path):
    code = (
        "import django; django.setup(); from django.db import connection; cursor = connection.cursor(); "
        "print([cursor.execute(f'PRAGMA {name}').fetchone()[0] for name in "
        "('journal_mode', 'synchronous', 'foreign_keys', 'mmap_size')])"
    )
    started = _start(tmp_path, code)

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == str(["wal", 1, 1, 256 * 1024 * 1024])


def test_production_refuses_debug(tmp_path):
    started = _start(tmp_path, **_production(DEBUG="1"))

    assert started.returncode != 0
    assert "DEBUG is on in production" in started.stderr


def test_production_refuses_the_default_secret_key(tmp_path):
    env = _production()
    del env["SECRET_KEY"]

    started = _start(tmp_path, **env)

    assert started.returncode != 0
    assert "set SECRET_KEY" in started.stderr


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("", "SECRET_KEY is empty"),
        ("   ", "SECRET_KEY is empty"),
        ("k", "SECRET_KEY is only 1 character long"),
        ("x" * 49, "SECRET_KEY is only 49 characters long"),
        ("ab" * 40, "too repetitive"),
    ],
)
def test_production_refuses_an_empty_short_or_repetitive_secret_key(tmp_path, key, said):
    started = _start(tmp_path, **_production(SECRET_KEY=key))

    assert started.returncode != 0
    assert "Refusing to start" in started.stderr
    assert said in started.stderr
    assert "at least 50 random characters" in started.stderr
    assert "started" not in started.stdout


def test_production_accepts_a_50_character_random_key(tmp_path):
    started = _start(tmp_path, **_production(SECRET_KEY=secrets.token_urlsafe(64)[:50]))

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "started"


def test_production_turns_debug_off_and_cookies_secure(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.ALLOWED_HOSTS)"
    )
    started = _start(tmp_path, code, **_production())

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "False True True True ['portal.example.com']"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "sometimes", "DEBUG must be a boolean"),
        ("EMAIL_PORT", "twenty-five", "EMAIL_PORT must be a whole number"),
        ("PORTAL_PROOF_MAX_BYTES", "0", "PORTAL_PROOF_MAX_BYTES must be at least 1"),
        ("PORTAL_TIME_ZONE", "Mars/Olympus_Mons", "PORTAL_TIME_ZONE must be an IANA time zone name"),
        ("PORTAL_LOG_FORMAT", "xml", "PORTAL_LOG_FORMAT must be 'json' or 'text'"),
        ("PORTAL_BEAT_PER_SCHEDULE", "perhaps", "PORTAL_BEAT_PER_SCHEDULE must be a boolean"),
    ],
)
def test_malformed_setting_refuses_to_start_naming_the_variable(tmp_path, name, value, message):
    started = _start(tmp_path, **{name: value})

    assert started.returncode != 0
    assert message in started.stderr


def test_production_settings_pass_check_deploy(tmp_path):
    checked = _start(
        tmp_path,
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        **_production(),
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no issues" in checked.stdout


# ---- the helpers themselves ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("yes", True), (" On ", True), ("0", False), ("off", False)]
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("PORTAL_TEST_FLAG", value)

    assert env_bool("PORTAL_TEST_FLAG", not expected) is expected


def test_env_helpers_fall_back_to_the_default_when_unset_or_empty(monkeypatch):
    monkeypatch.delenv("PORTAL_TEST_VALUE", raising=False)
    assert env_bool("PORTAL_TEST_VALUE", True) is True
    assert env_int("PORTAL_TEST_VALUE", 7) == 7
    monkeypatch.setenv("PORTAL_TEST_VALUE", "")
    assert env_list("PORTAL_TEST_VALUE", ["a"]) == ["a"]


def test_env_int_refuses_a_number_below_its_minimum(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_VALUE", "-3")

    with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_VALUE must be at least 0; got -3"):
        env_int("PORTAL_TEST_VALUE", 1)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_VALUE", "portal.example.com, ,ops.example.com ")

    assert env_list("PORTAL_TEST_VALUE", []) == ["portal.example.com", "ops.example.com"]
