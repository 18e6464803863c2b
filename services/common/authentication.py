"""Who is calling: from an ``Authorization: Bearer`` header to a stored credential, fast.

One authenticator for every audience of ``services.common.credentials``: partner ingress (the
principal is the agency) and the ops service (the principal is a staff role). A failure is one of
four ``AuthProblem`` codes; each service answers them in its own documents (ingress's ``Code``
has the same values).

The credential id inside the key names the one stored hash to check, and argon2 verification runs
in a worker thread so it never stalls the event loop. A successful verification is remembered in
memory for ``ttl_seconds`` (default 30), keyed by the SHA-256 of the presented key, so argon2 is
paid once per key per TTL rather than per request; a key being verified is verified once however
many requests present it at the same moment. Failures are never cached. The price of the cache is
that a revocation, or the end of a rotation's grace period, takes effect up to one TTL late on a
key verified before it was announced (an entry made after it never outlives ``revoked_at``).
A TTL of 0 disables the cache.

Failed authentication is limited BEFORE argon2 (issue 11 §2): when ``failures`` is given, a key
that is not in the cache is first checked against the failures recorded for the client address
and for the credential id it claims (``AuthFailures``: in production a PostgreSQL table shared
by every replica); over either limit the answer is ``authentication_throttled`` with the seconds to
wait, and no hash is verified. Every failed verification is counted against both. A key whose id
is unknown is verified against a dummy argon2id hash of the same parameters, so it costs what a
known id with a wrong secret costs and the timing does not tell which ids exist (bench numbers
in the README). The price: a stranger who knows a partner's credential id can keep that id
throttled — but only for keys not already verified into the cache, and every attempt is audited.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, Protocol

from services.common.apikeys import bearer_token, fingerprint, parse_key
from services.common.credentials import CredentialStore, P, hash_secret, verify_secret

SecretVerifier = Callable[[str, str], Awaitable[bool]]


class AuthProblem(StrEnum):
    """Why a caller is not authenticated (the values are ingress's public ``Code`` values)."""

    MISSING_CREDENTIALS = "missing_credentials"
    INVALID_CREDENTIALS = "invalid_credentials"
    CREDENTIAL_REVOKED = "credential_revoked"
    AUTHENTICATION_THROTTLED = "authentication_throttled"


class AuthFailures(Protocol):
    """Failed authentications per client address and per claimed credential id, in a window."""

    async def blocked(self, client_addr: str | None, credential_id: str | None) -> int | None:
        """Seconds until either may try again, or ``None`` when neither is over its limit."""
        ...

    async def failed(self, client_addr: str | None, credential_id: str | None) -> None: ...


@functools.cache
def dummy_hash() -> str:
    """What an unknown credential id is verified against: same parameters, so the same cost."""
    return hash_secret(secrets.token_urlsafe(32))


async def verify_in_thread(secret_hash: str, secret: str) -> bool:
    return await asyncio.to_thread(verify_secret, secret_hash, secret)


@dataclass(frozen=True)
class Credential(Generic[P]):
    """An authenticated caller."""

    credential_id: str
    principal: P


@dataclass(frozen=True)
class AuthFailure:
    code: AuthProblem
    claimed_credential_id: str | None = None
    retry_after_seconds: int | None = None


@dataclass(frozen=True)
class _Entry(Generic[P]):
    credential: Credential[P]
    expires: float


class Authenticator(Generic[P]):
    def __init__(
        self,
        store: CredentialStore[P],
        *,
        ttl_seconds: float,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        verify: SecretVerifier = verify_in_thread,
        max_entries: int = 10_000,
        failures: AuthFailures | None = None,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._verify = verify
        self._max_entries = max_entries
        self._cache: dict[str, _Entry[P]] = {}
        self._inflight: dict[str, asyncio.Task[Credential[P] | AuthFailure]] = {}
        self._failures = failures

    async def authenticate(
        self, authorization: str | None, client_addr: str | None = None
    ) -> Credential[P] | AuthFailure:
        if not authorization:
            return AuthFailure(AuthProblem.MISSING_CREDENTIALS)
        token = bearer_token(authorization)
        if token is None:
            return AuthFailure(AuthProblem.INVALID_CREDENTIALS)
        print_ = fingerprint(token)
        entry = self._cache.get(print_)
        if entry is not None:
            if entry.expires > self._monotonic():
                return entry.credential
            del self._cache[print_]
        task = self._inflight.get(print_)
        if task is None:
            task = asyncio.ensure_future(self._limited_check(token, print_, client_addr))
            self._inflight[print_] = task
            task.add_done_callback(lambda _: self._inflight.pop(print_, None))
        return await asyncio.shield(task)

    def forget(self) -> None:
        """Drop every remembered verification (tests, and after a bulk revocation)."""
        self._cache.clear()

    async def _limited_check(
        self, token: str, print_: str, client_addr: str | None
    ) -> Credential[P] | AuthFailure:
        key = parse_key(token)
        claimed = key.credential_id if key is not None else None
        if self._failures is not None:
            wait = await self._failures.blocked(client_addr, claimed)
            if wait is not None:
                return AuthFailure(AuthProblem.AUTHENTICATION_THROTTLED, claimed, wait)
        result = await self._check(token, print_)
        if (
            self._failures is not None
            and isinstance(result, AuthFailure)
            and result.code is AuthProblem.INVALID_CREDENTIALS
        ):
            await self._failures.failed(client_addr, claimed)
        return result

    async def _check(self, token: str, print_: str) -> Credential[P] | AuthFailure:
        key = parse_key(token)
        if key is None:
            return AuthFailure(AuthProblem.INVALID_CREDENTIALS)
        stored = await self._store.get(key.credential_id)
        secret_hash = stored.secret_hash if stored is not None else dummy_hash()
        verified = await self._verify(secret_hash, key.secret)
        if stored is None or not verified:
            return AuthFailure(AuthProblem.INVALID_CREDENTIALS, key.credential_id)
        now = self._clock()
        if not stored.valid_at(now):
            return AuthFailure(AuthProblem.CREDENTIAL_REVOKED, key.credential_id)
        credential = Credential(stored.credential_id, stored.principal)
        await self._store.mark_used(stored.credential_id, now)
        if self._ttl > 0:
            lifetime = self._ttl
            if stored.revoked_at is not None:
                lifetime = min(lifetime, (stored.revoked_at - now).total_seconds())
            self._remember(print_, _Entry(credential, self._monotonic() + lifetime))
        return credential

    def _remember(self, print_: str, entry: _Entry[P]) -> None:
        if len(self._cache) >= self._max_entries:
            now = self._monotonic()
            for stale in [k for k, e in self._cache.items() if e.expires <= now]:
                del self._cache[stale]
            while len(self._cache) >= self._max_entries:
                del self._cache[next(iter(self._cache))]
        self._cache[print_] = entry
