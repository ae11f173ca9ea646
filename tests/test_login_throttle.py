"""Login throttling: failures are counted per username and client address, on the login page, the
admin login and the API (HTTP Basic and tokens). Past the limit that pair is refused for a while
with a clear message (429); the same account from another address is never locked out."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"
ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"
MESSAGE = "Too many failed sign-ins for this account from your address. Wait 15 minutes and try again"


@pytest.fixture(autouse=True)
def throttling_on(settings):
    settings.AXES_ENABLED = True


def sign_in(path: str, username: str, password: str, address: str):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_ten_wrong_passwords_from_one_address_are_refused_but_the_owner_elsewhere_signs_in(path, operator, admin_user):
    user = admin_user if path.startswith("/admin/") else operator
    answers = [sign_in(path, user.username, "wrong", ATTACKER).status_code for _ in range(10)]

    assert answers[:4] == [200] * 4  # the form again, with its error
    assert answers[4:] == [429] * 6
    attacker = Client(REMOTE_ADDR=ATTACKER)
    locked = attacker.post(path, {"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429  # even the right password waits at that address
    assert MESSAGE in locked.content.decode()
    assert locked["Retry-After"] == "900"
    assert "_auth_user_id" not in attacker.session

    owner = Client(REMOTE_ADDR=OWNER)
    signed_in = owner.post(path, {"username": user.username, "password": PASSWORD})
    assert signed_in.status_code == 302
    assert owner.session["_auth_user_id"] == str(user.pk)


def test_a_locked_login_page_names_the_wait_and_offers_the_way_back(operator):
    for _ in range(5):
        sign_in("/accounts/login/", operator.username, "wrong", ATTACKER)

    page = sign_in("/accounts/login/", operator.username, "wrong", ATTACKER)

    assert page.status_code == 429
    html = page.content.decode()
    assert "<h1>Too many sign-in attempts</h1>" in html
    assert 'role="alert"' in html and MESSAGE in html
    assert 'href="/accounts/login/"' in html


def test_other_accounts_at_the_same_address_are_not_affected(operator, admin_user):
    for _ in range(10):
        sign_in("/accounts/login/", operator.username, "wrong", ATTACKER)

    assert sign_in("/accounts/login/", admin_user.username, PASSWORD, ATTACKER).status_code == 302


def test_a_successful_sign_in_clears_the_count(operator):
    for _ in range(4):
        assert sign_in("/accounts/login/", operator.username, "wrong", ATTACKER).status_code == 200
    assert sign_in("/accounts/login/", operator.username, PASSWORD, ATTACKER).status_code == 302
    for _ in range(4):
        assert sign_in("/accounts/login/", operator.username, "wrong", ATTACKER).status_code == 200


def test_basic_auth_is_refused_with_429_after_ten_wrong_passwords_but_works_from_another_address(operator):
    client = APIClient(REMOTE_ADDR=ATTACKER)
    answers = [client.get("/api/v1/home/", HTTP_AUTHORIZATION=basic(operator.username, "wrong")) for _ in range(10)]

    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert [a.status_code for a in answers[5:]] == [429] * 5
    refused = client.get("/api/v1/home/", HTTP_AUTHORIZATION=basic(operator.username, PASSWORD))
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert refused.json()["detail"].startswith(MESSAGE)
    assert refused["Retry-After"] == "900"

    elsewhere = APIClient(REMOTE_ADDR=OWNER).get("/api/v1/home/", HTTP_AUTHORIZATION=basic(operator.username, PASSWORD))
    assert elsewhere.status_code == 200


def test_wrong_tokens_are_refused_with_429_per_address_and_a_real_token_works_elsewhere(operator):
    token = Token.objects.create(user=operator)
    client = APIClient(REMOTE_ADDR=ATTACKER)
    answers = [client.get("/api/v1/home/", HTTP_AUTHORIZATION=f"Token {'0' * 39}{n}").status_code for n in range(10)]

    assert answers[:4] == [401] * 4
    assert answers[4:] == [429] * 6  # the fifth failure already answers 429
    refused = client.get("/api/v1/home/", HTTP_AUTHORIZATION="Token nope")
    assert refused.json()["code"] == "throttled"
    assert refused["Retry-After"] == "900"

    assert APIClient(REMOTE_ADDR=OWNER).get("/api/v1/home/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


def test_behind_the_tls_proxy_the_forwarded_address_is_counted(operator, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxy = "10.0.0.1"

    def through_proxy(client_address: str, password: str):
        return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=client_address, HTTP_X_FORWARDED_PROTO="https").post(
            "/accounts/login/", {"username": operator.username, "password": password}, secure=True
        )

    for _ in range(6):
        through_proxy(ATTACKER, "wrong")

    assert through_proxy(ATTACKER, PASSWORD).status_code == 429
    assert through_proxy(OWNER, PASSWORD).status_code == 302
