"""What counts as a secret in an export (docs/export.md): the shapes that are caught, and the
ordinary values of a portal that must pass untouched."""

from __future__ import annotations

import base64
import hashlib

import pytest

from portal.exchange.sensitive import findings, forbidden_key, redact, redact_json


@pytest.mark.parametrize(
    "value",
    [
        "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit#gid=0",
        "https://mailchimp.com/campaigns/123?tab=edit&utm_source=portal",
        hashlib.sha256(b"x").hexdigest(),
        "automation-failure:recurring:8f0e4b4c-0000-4000-8000-000000000000:2029-01-09",
        "Check the invoices, receipts and the Dropbox folder; token of thanks to the sponsor.",
        "/srv/portal/proofs/8f0e4b4c-0000-4000-8000-000000000000/a1b2c3d4-0000-4000-8000-000000000000/report.pdf",
    ],
)
def test_ordinary_values_are_not_secrets(value):
    assert findings(value) == []
    assert redact(value) == (value, 0)


@pytest.mark.parametrize(
    ("value", "what", "kept"),
    [
        (
            "https://b.s3.amazonaws.com/r.pdf?X-Amz-Date=20290109&X-Amz-Signature=abc",
            "signed URL (query parameter 'X-Amz-Signature')",
            "https://b.s3.amazonaws.com/r.pdf?X-Amz-Date=20290109",
        ),
        (
            "see https://x.example/f?access_token=abc.",
            "signed URL (query parameter 'access_token')",
            "see https://x.example/f.",
        ),
        ("https://bob:hunter2@ftp.example/backup", "URL with a password in it", "https://bob@ftp.example/backup"),
        ("data:image/png;base64,iVBORw0KGgo=", "base64 data URI", "[removed: base64 data]"),
        (base64.b64encode(bytes(range(200))).decode(), "long base64 payload", "[removed: base64 data]"),
        ("pbkdf2_sha256$720000$c2FsdA$aGFzaA==", "password hash", "[removed: password hash]"),
        ("$2b$12$abcdefghijklmnopqrstuv", "password hash", "[removed: password hash]"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "bearer token", "Authorization: [removed: token]"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "JSON Web Token",
            "[removed: token]",
        ),
    ],
)
def test_secret_shapes_are_found_and_removed(value, what, kept):
    assert [finding.what for finding in findings(value)] == [what]
    assert redact(value) == (kept, 1)


def test_forbidden_keys_are_recognised_by_name_and_dropped_from_nested_json():
    assert forbidden_key("api_token") == "token"
    assert forbidden_key("sessionid") == "session"
    assert forbidden_key("author_id") is None and forbidden_key("dedup_key") is None
    cleaned, count = redact_json({"proof_id": "x", "nested": [{"password": "p", "ok": 1}]})
    assert cleaned == {"proof_id": "x", "nested": [{"ok": 1}]} and count == 1
