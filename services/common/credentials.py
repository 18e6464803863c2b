"""Credentials: issuing, rotating, revoking and listing API keys, and hashing their secrets.

One machinery for every caller frontdoor authenticates by key: a partner agency on HTTP ingress
(the principal is an ``Agency``, table ``agency_credentials``) and a member of staff on the ops
service (the principal is an ops role, table ``ops_credentials``). Each audience has its own table,
so a partner's key never opens the ops dashboard and a staff key never submits events, but the
key format (``services.common.apikeys``), the hashing, the rotation story and the store code are
one. ``P`` is the principal type: a ``StrEnum`` whose value is what the table stores.

A key is shown once, when issued; the database keeps only its argon2id hash (parameters from the
OWASP password storage cheat sheet: 19 MiB, 2 iterations, 1 lane — the key's 256 random bits make
brute force hopeless anyway; argon2 is here so that a leaked table is worthless and an auditor
need not take that argument on trust). Revocation is a time: ``revoked_at``. Revoking sets it to
now; rotating issues a new key for the same principal and sets the old key's ``revoked_at`` to now +
the grace period, so a caller can deploy the new key before the old one stops working. A key is
valid while ``revoked_at`` is unset or in the future.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.apikeys import ApiKey, make_key

HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)

P = TypeVar("P", bound=StrEnum)


@dataclass(frozen=True)
class StoredCredential(Generic[P]):
    credential_id: str
    principal: P
    """Who the key speaks for: an agency (ingress) or an ops role."""
    label: str
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None = None
    replaced_by: str | None = None
    last_used_at: datetime | None = None

    def status(self, now: datetime) -> str:
        if self.revoked_at is None:
            return "active"
        return "revoked" if self.revoked_at <= now else "expiring"

    def valid_at(self, now: datetime) -> bool:
        return self.revoked_at is None or self.revoked_at > now


class CredentialStore(Protocol[P]):
    async def get(self, credential_id: str) -> StoredCredential[P] | None: ...

    async def insert(self, credential: StoredCredential[P]) -> None: ...

    async def set_revoked(
        self, credential_id: str, revoked_at: datetime, replaced_by: str | None = None
    ) -> bool: ...

    async def mark_used(self, credential_id: str, at: datetime) -> None: ...

    async def all(self) -> Sequence[StoredCredential[P]]: ...


class UnknownCredentialError(LookupError):
    """No credential has this id."""


class CredentialRevokedError(ValueError):
    """The credential is already revoked; it cannot be rotated."""


def hash_secret(secret: str) -> str:
    return HASHER.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    """Constant-time argon2 verification; a malformed stored hash verifies nothing."""
    try:
        return HASHER.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def random_key() -> ApiKey:
    return make_key(secrets.token_hex(8), secrets.token_urlsafe(32))


@dataclass
class CredentialAdmin(Generic[P]):
    """The use cases behind ``frontdoor agencies …`` and ``frontdoor ops-keys …``."""

    store: CredentialStore[P]
    clock: Callable[[], datetime]
    new_key: Callable[[], ApiKey] = random_key
    hasher: Callable[[str], str] = hash_secret

    async def add(self, principal: P, label: str = "") -> tuple[StoredCredential[P], ApiKey]:
        key = self.new_key()
        credential = StoredCredential(
            credential_id=key.credential_id,
            principal=principal,
            label=label,
            secret_hash=self.hasher(key.secret),
            created_at=self.clock(),
        )
        await self.store.insert(credential)
        return credential, key

    async def rotate(
        self, credential_id: str, *, grace: timedelta = timedelta(0)
    ) -> tuple[StoredCredential[P], ApiKey]:
        """A new key for the same principal; the old one stops working after ``grace``."""
        old = await self._get(credential_id)
        now = self.clock()
        if not old.valid_at(now):
            raise CredentialRevokedError(f"credential {credential_id} is already revoked")
        new, key = await self.add(old.principal, old.label)
        ends = now + max(grace, timedelta(0))
        if old.revoked_at is not None:
            ends = min(ends, old.revoked_at)
        await self.store.set_revoked(credential_id, ends, replaced_by=new.credential_id)
        return new, key

    async def revoke(self, credential_id: str) -> StoredCredential[P]:
        """Stop the key now (within the services' verification cache TTL)."""
        old = await self._get(credential_id)
        now = self.clock()
        if old.revoked_at is not None and old.revoked_at <= now:
            return old
        await self.store.set_revoked(credential_id, now, replaced_by=old.replaced_by)
        return replace(old, revoked_at=now)

    async def list(self) -> Sequence[StoredCredential[P]]:
        return await self.store.all()

    async def _get(self, credential_id: str) -> StoredCredential[P]:
        found = await self.store.get(credential_id)
        if found is None:
            raise UnknownCredentialError(f"no credential {credential_id}")
        return found
