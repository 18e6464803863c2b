"""The shape of a frontdoor API key, and reading it out of an ``Authorization`` header.

One key format for every credential frontdoor issues: partner agencies' keys for HTTP ingress and
staff keys for the ops service (``services.common.credentials``). A key is
``fd_<credential_id>_<secret>``: ``credential_id`` is 16 lowercase hex characters, safe to log,
show in ``frontdoor agencies list`` / ``frontdoor ops-keys list`` and write to the audit table;
``secret`` is URL-safe base64 (at least 32 characters) and is never stored, only its argon2 hash.
Putting the credential id inside the key lets the service look up exactly one hash to verify
instead of trying them all. ``fingerprint`` (SHA-256 of the whole key) names a key in the
in-memory verification cache without keeping the key itself. Pure: the random parts are passed in.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

KEY_PREFIX = "fd"
CREDENTIAL_ID_RE = re.compile(r"^[0-9a-f]{16}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
BEARER = "bearer"


@dataclass(frozen=True)
class ApiKey:
    """A parsed key. The secret is kept out of ``repr`` so a stray log line cannot print it."""

    credential_id: str
    secret: str = field(repr=False)

    @property
    def text(self) -> str:
        return f"{KEY_PREFIX}_{self.credential_id}_{self.secret}"


def make_key(credential_id: str, secret: str) -> ApiKey:
    """A key from a fresh credential id and secret; ``ValueError`` if either is malformed."""
    if not CREDENTIAL_ID_RE.fullmatch(credential_id):
        raise ValueError("a credential id is 16 lowercase hex characters")
    if not SECRET_RE.fullmatch(secret):
        raise ValueError("a secret is 32-128 URL-safe base64 characters")
    return ApiKey(credential_id, secret)


def parse_key(text: str) -> ApiKey | None:
    """The key in ``text``, or ``None`` when it is not shaped like a frontdoor key."""
    prefix, _, rest = text.partition("_")
    credential_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX:
        return None
    if not CREDENTIAL_ID_RE.fullmatch(credential_id) or not SECRET_RE.fullmatch(secret):
        return None
    return ApiKey(credential_id, secret)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != BEARER or not token:
        return None
    return token


def fingerprint(text: str) -> str:
    """SHA-256 of the presented key: the verification cache's key, never the key itself."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
