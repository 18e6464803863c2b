"""Who is calling partner ingress, in ingress's own terms.

The work is ``services.common.authentication.Authenticator`` — the verification cache, the dummy
hash that makes unknown ids cost what known ones cost, and the failed-authentication limit before
argon2 are shared with the ops service, so both answer a key the same way. This module only
translates its answer: the principal is the partner's ``Agency`` and a failure carries ingress's
public ``Code`` (the shared ``AuthProblem`` values are ingress codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.envelope import Agency
from services.common import authentication as shared
from services.common.credentials import CredentialStore
from services.ingress.domain.codes import Code


@dataclass(frozen=True)
class Credential:
    """An authenticated partner."""

    credential_id: str
    agency: Agency


@dataclass(frozen=True)
class AuthFailure:
    code: Code
    claimed_credential_id: str | None = None
    retry_after_seconds: int | None = None


class Authenticator:
    """``services.common.authentication.Authenticator`` over ``agency_credentials``."""

    def __init__(self, store: CredentialStore[Agency], **options: Any) -> None:
        """``options`` as the shared authenticator's: ``ttl_seconds``, ``clock``, ``monotonic``,
        and optionally ``verify``, ``max_entries``, ``failures``."""
        self._shared = shared.Authenticator(store, **options)

    async def authenticate(
        self, authorization: str | None, client_addr: str | None = None
    ) -> Credential | AuthFailure:
        result = await self._shared.authenticate(authorization, client_addr)
        if isinstance(result, shared.AuthFailure):
            return AuthFailure(
                Code(result.code.value), result.claimed_credential_id, result.retry_after_seconds
            )
        return Credential(result.credential_id, result.principal)

    def forget(self) -> None:
        """Drop every remembered verification (tests, and after a bulk revocation)."""
        self._shared.forget()
