"""Who is calling: from an ``Authorization: Bearer`` header to an agency credential, fast.

The credential id inside the key names the one stored hash to check, and argon2 verification runs
in a worker thread so it never stalls the event loop. A successful verification is remembered in
memory for ``ttl_seconds`` (default 30), keyed by the SHA-256 of the presented key, so argon2 is
paid once per key per TTL rather than per request; a key being verified is verified once however
many requests present it at the same moment. Failures are never cached. The price of the cache is
that a revocation, or the end of a rotation's grace period, takes effect up to one TTL late on a
key verified before it was announced (an entry made after it never outlives ``revoked_at``).
A TTL of 0 disables the cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from schemas.envelope import Agency
from services.ingress.credentials import CredentialStore, verify_secret
from services.ingress.domain.codes import Code
from services.ingress.domain.keys import bearer_token, fingerprint, parse_key

SecretVerifier = Callable[[str, str], Awaitable[bool]]


async def verify_in_thread(secret_hash: str, secret: str) -> bool:
    return await asyncio.to_thread(verify_secret, secret_hash, secret)


@dataclass(frozen=True)
class Credential:
    """An authenticated caller."""

    credential_id: str
    agency: Agency


@dataclass(frozen=True)
class AuthFailure:
    code: Code
    claimed_credential_id: str | None = None


@dataclass(frozen=True)
class _Entry:
    credential: Credential
    expires: float


class Authenticator:
    def __init__(
        self,
        store: CredentialStore,
        *,
        ttl_seconds: float,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        verify: SecretVerifier = verify_in_thread,
        max_entries: int = 10_000,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._verify = verify
        self._max_entries = max_entries
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Task[Credential | AuthFailure]] = {}

    async def authenticate(self, authorization: str | None) -> Credential | AuthFailure:
        if not authorization:
            return AuthFailure(Code.MISSING_CREDENTIALS)
        token = bearer_token(authorization)
        if token is None:
            return AuthFailure(Code.INVALID_CREDENTIALS)
        print_ = fingerprint(token)
        entry = self._cache.get(print_)
        if entry is not None:
            if entry.expires > self._monotonic():
                return entry.credential
            del self._cache[print_]
        task = self._inflight.get(print_)
        if task is None:
            task = asyncio.ensure_future(self._check(token, print_))
            self._inflight[print_] = task
            task.add_done_callback(lambda _: self._inflight.pop(print_, None))
        return await asyncio.shield(task)

    def forget(self) -> None:
        """Drop every remembered verification (tests, and after a bulk revocation)."""
        self._cache.clear()

    async def _check(self, token: str, print_: str) -> Credential | AuthFailure:
        key = parse_key(token)
        if key is None:
            return AuthFailure(Code.INVALID_CREDENTIALS)
        stored = await self._store.get(key.credential_id)
        if stored is None or not await self._verify(stored.secret_hash, key.secret):
            return AuthFailure(Code.INVALID_CREDENTIALS, key.credential_id)
        now = self._clock()
        if not stored.valid_at(now):
            return AuthFailure(Code.CREDENTIAL_REVOKED, key.credential_id)
        credential = Credential(stored.credential_id, stored.agency)
        await self._store.mark_used(stored.credential_id, now)
        if self._ttl > 0:
            lifetime = self._ttl
            if stored.revoked_at is not None:
                lifetime = min(lifetime, (stored.revoked_at - now).total_seconds())
            self._remember(print_, _Entry(credential, self._monotonic() + lifetime))
        return credential

    def _remember(self, print_: str, entry: _Entry) -> None:
        if len(self._cache) >= self._max_entries:
            now = self._monotonic()
            for stale in [k for k, e in self._cache.items() if e.expires <= now]:
                del self._cache[stale]
            while len(self._cache) >= self._max_entries:
                del self._cache[next(iter(self._cache))]
        self._cache[print_] = entry
