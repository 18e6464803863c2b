"""The agency API key's shape lives in ``services.common.apikeys`` (one key format for partner
and ops credentials); re-exported here for ingress's own modules and tests."""

from services.common.apikeys import (
    BEARER,
    CREDENTIAL_ID_RE,
    KEY_PREFIX,
    SECRET_RE,
    ApiKey,
    bearer_token,
    fingerprint,
    make_key,
    parse_key,
)

__all__ = [
    "BEARER",
    "CREDENTIAL_ID_RE",
    "KEY_PREFIX",
    "SECRET_RE",
    "ApiKey",
    "bearer_token",
    "fingerprint",
    "make_key",
    "parse_key",
]
