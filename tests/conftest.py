"""Shared fixtures: an operator, an admin and an outsider make permission tests cheap."""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from tests.factories import AdminFactory, OperatorFactory, UserFactory


@pytest.fixture(autouse=True)
def _private_proof_dir(settings, tmp_path):
    # Hashing a password properly costs ~0.4 s a user; tests create hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PROOF_STORAGE_DIR = tmp_path / "proofs"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Tests sign in thousands of times, with wrong passwords on purpose and with client.login()
    # (no request, which django-axes refuses): login throttling is tested on its own
    # (tests/test_login_throttle.py) and off elsewhere.
    settings.AXES_ENABLED = False


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Celery tasks run inline in tests, except in the integration tests that start a worker."""
    from portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture
def operator(db):
    return OperatorFactory(username="olivia")


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="adam")


@pytest.fixture
def outsider(db):
    return UserFactory(username="oscar")


@pytest.fixture
def api(operator) -> APIClient:
    client = APIClient()
    client.force_authenticate(operator)
    return client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


def services_required() -> bool:
    return os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"


def browser_required() -> bool:
    return os.environ.get("PORTAL_REQUIRE_BROWSER") == "1"


def refused(outcome, code: str, status: int = 400):
    """Assert a refusal with ``code`` and return it. ``outcome`` is either a callable, whose
    :class:`DomainError` is returned, or an API response, whose status is checked and whose JSON
    body (``{"code", "detail", ...}``, a detail always present) is returned."""
    from workflows.errors import DomainError

    if callable(outcome):
        with pytest.raises(DomainError) as info:
            outcome()
        assert info.value.code == code, info.value.as_dict()
        return info.value
    assert outcome.status_code == status, outcome.content
    body = outcome.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body
