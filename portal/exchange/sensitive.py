"""What must never leave the portal in an export: secret-looking keys and values.

One set of rules serves both sides: the exporter removes what :func:`findings` reports (and
counts it), the validator reports the same findings in a file someone handed over. Keys are
refused by name (password, token, secret, session, cookie, signature, credential, API or private
key); values by shape: signed URLs (a signature, token or credential query parameter, or a
password in the URL), long base64 payloads (and ``data:`` URIs), password hashes, bearer tokens
and JSON Web Tokens. See ``docs/export.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

FORBIDDEN_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "session",
    "cookie",
    "signature",
    "credential",
    "api_key",
    "apikey",
    "private_key",
    "access_key",
    "csrf",
)

# Query parameters that make a URL a bearer credential (S3/GCS/Azure signed URLs, OAuth tokens).
_SECRET_PARAM_PARTS = ("signature", "token", "credential", "secret", "password")
_SECRET_PARAMS = frozenset({"sig", "x-amz-signature", "x-goog-signature", "googleaccessid", "apikey", "api_key"})

_URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_DATA_URI_RE = re.compile(r"data:[\w.+-]+/[\w.+-]+(;[\w=.+-]+)*;base64,[A-Za-z0-9+/=_-]*", re.IGNORECASE)
_BASE64_RE = re.compile(r"[A-Za-z0-9+/_-]{100,}={0,2}")
_PASSWORD_HASH_RE = re.compile(
    r"\b(?:pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt|sha1|md5|unsalted_md5|unsalted_sha1|crypt)"
    r"\$[^\s$]*\$[^\s]+"
    r"|\$(?:2[abxy]?|argon2(?:id|i|d)|scrypt|[156])\$[^\s]{8,}"
)
_BEARER_RE = re.compile(r"\b(?:bearer|token)\s+[A-Za-z0-9._~+/=-]{20,}", re.IGNORECASE)
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
# One pass that every secret shape above needs to match; most text fails it at once.
_MAYBE_SECRET_RE = re.compile(r"://|\$|data:|eyJ|bearer|token|[A-Za-z0-9+/_-]{100}", re.IGNORECASE)
_SHORTEST_SECRET = 10


@dataclass(frozen=True)
class Finding:
    """One secret-looking piece of a value: what it is and the span it covers."""

    what: str
    start: int
    end: int
    replacement: str


def forbidden_key(key: str) -> str | None:
    """The forbidden word a key contains (``"token"`` for ``"api_token"``), or ``None``."""
    lowered = key.lower()
    return next((part for part in FORBIDDEN_KEY_PARTS if part in lowered), None)


def _secret_params(url: str) -> tuple[list[str], str | None]:
    """(names of secret query parameters, the URL without them and without a password)."""
    try:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return [], None
    secret = [
        name
        for name, _ in pairs
        if name.lower() in _SECRET_PARAMS or any(part in name.lower() for part in _SECRET_PARAM_PARTS)
    ]
    has_password = parts.password is not None
    if not secret and not has_password:
        return [], None
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    kept = urlencode([(k, v) for k, v in pairs if k not in secret])
    names = [*secret, *(["password in the URL"] if has_password else [])]
    return names, urlunsplit((parts.scheme, netloc, parts.path, kept, parts.fragment))


def _looks_like_blob(candidate: str) -> bool:
    """Long base64 text is random-looking: mixed case and digits, and not a path of short
    segments (a long URL path is not a payload)."""
    if not (re.search(r"[a-z]", candidate) and re.search(r"[A-Z]", candidate) and re.search(r"\d", candidate)):
        return False
    segments = re.split(r"[/_-]", candidate)
    return max(len(segment) for segment in segments) >= 40


def findings(value: str) -> list[Finding]:
    """Every secret-looking part of one text value, in order, without overlaps."""
    if len(value) < _SHORTEST_SECRET or not _MAYBE_SECRET_RE.search(value):
        return []
    found: list[Finding] = []
    for match in _URL_RE.finditer(value):
        url = match.group(0).rstrip(".,;:!?)]}")
        names, cleaned = _secret_params(url)
        if names:
            what = f"signed URL (query parameter {', '.join(repr(n) for n in names)})"
            if names == ["password in the URL"]:
                what = "URL with a password in it"
            found.append(Finding(what, match.start(), match.start() + len(url), cleaned or ""))
    for pattern, what, replacement in (
        (_DATA_URI_RE, "base64 data URI", "[removed: base64 data]"),
        (_PASSWORD_HASH_RE, "password hash", "[removed: password hash]"),
        (_JWT_RE, "JSON Web Token", "[removed: token]"),
        (_BEARER_RE, "bearer token", "[removed: token]"),
    ):
        for match in pattern.finditer(value):
            found.append(Finding(what, match.start(), match.end(), replacement))
    for match in _BASE64_RE.finditer(value):
        if _looks_like_blob(match.group(0)):
            found.append(Finding("long base64 payload", match.start(), match.end(), "[removed: base64 data]"))
    found.sort(key=lambda f: (f.start, -f.end))
    kept: list[Finding] = []
    for finding in found:
        if kept and finding.start < kept[-1].end:
            continue
        kept.append(finding)
    return kept


def redact(value: str) -> tuple[str, int]:
    """``value`` with every finding replaced, and how many there were."""
    found = findings(value)
    if not found:
        return value, 0
    pieces, position = [], 0
    for finding in found:
        pieces += [value[position : finding.start], finding.replacement]
        position = finding.end
    pieces.append(value[position:])
    return "".join(pieces), len(found)


def redact_json(value) -> tuple[object, int]:
    """Nested JSON with forbidden keys dropped and secret-looking strings redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        total, items = 0, []
        for item in value:
            cleaned, count = redact_json(item)
            items.append(cleaned)
            total += count
        return items, total
    if isinstance(value, dict):
        total, result = 0, {}
        for key, item in value.items():
            if forbidden_key(str(key)):
                total += 1
                continue
            cleaned, count = redact_json(item)
            result[key] = cleaned
            total += count
        return result, total
    return value, 0


def scan_json(value, path: str):
    """Yield ``(field path, what is wrong)`` for every forbidden key and secret-looking value."""
    if isinstance(value, str):
        for finding in findings(value):
            yield path, f"secret-like value: {finding.what}"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from scan_json(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}"
            if part := forbidden_key(str(key)):
                yield child, f"forbidden key (contains '{part}'); secrets never leave the portal"
            yield from scan_json(item, child)
