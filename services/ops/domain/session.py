"""The browser session of the ops service: a signed, short-lived token in an HttpOnly cookie.

A member of staff signs in once with their ops key (the login form); the service answers with a
cookie holding ``v1.<payload>.<signature>``: the payload is the credential id, its role and the
expiry (Unix seconds) as compact JSON, base64url; the signature is HMAC-SHA256 of the payload
under the service's session secret. No key and no secret is in the cookie, so a stolen cookie
stops working at its expiry, and each request still checks the credential is neither revoked nor
changed role (``services/ops/guard.py``). Pure: the clock and the secret are passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

VERSION = "v1"
MAX_TOKEN_CHARS = 512


@dataclass(frozen=True)
class Session:
    credential_id: str
    role: str
    expires_at: int
    """Unix seconds."""

    def live_at(self, now: datetime) -> bool:
        return now.timestamp() < self.expires_at


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def issue(session: Session, secret: bytes) -> str:
    body = {"cid": session.credential_id, "role": session.role, "exp": session.expires_at}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{VERSION}.{payload}.{_sign(payload, secret)}"


def read(token: str | None, secret: bytes, now: datetime) -> Session | None:
    """The session in ``token`` if its signature is ours and it has not expired, else ``None``."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    version, _, rest = token.partition(".")
    payload, _, signature = rest.partition(".")
    if version != VERSION or not payload or not signature:
        return None
    if not hmac.compare_digest(signature, _sign(payload, secret)):
        return None
    try:
        body = json.loads(_unb64(payload))
        session = Session(str(body["cid"]), str(body["role"]), int(body["exp"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    return session if session.live_at(now) else None
