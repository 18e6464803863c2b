"""In-memory credential store, audit log, rate limit and failure counter: the unit tests' fakes.

They honour the same contract as the PostgreSQL adapters (the integration tests run one suite
against both), so a test that passes here says something about production. ``MemoryAuditLog``
writes its outbox rows through the pipeline's ``MemoryLedger``: an ``accept`` whose audit row
fails leaves no outbox row, as the PostgreSQL transaction would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from schemas.envelope import Agency
from services.common.ledger import MemoryLedger
from services.common.outbox import OutboxRow
from services.ingress.audit import AuditEntry
from services.ingress.credentials import StoredCredential
from services.ingress.domain.ratelimit import Decision, RateLimiter
from services.ingress.ports import OUTBOX_PRODUCER, EventIdReusedError, EventState


class MemoryCredentialStore:
    def __init__(self) -> None:
        self.rows: dict[str, StoredCredential[Agency]] = {}

    async def get(self, credential_id: str) -> StoredCredential[Agency] | None:
        return self.rows.get(credential_id)

    async def insert(self, credential: StoredCredential[Agency]) -> None:
        if credential.credential_id in self.rows:
            raise KeyError(f"credential {credential.credential_id} exists")
        self.rows[credential.credential_id] = credential

    async def set_revoked(
        self, credential_id: str, revoked_at: datetime, replaced_by: str | None = None
    ) -> bool:
        row = self.rows.get(credential_id)
        if row is None:
            return False
        self.rows[credential_id] = replace(row, revoked_at=revoked_at, replaced_by=replaced_by)
        return True

    async def mark_used(self, credential_id: str, at: datetime) -> None:
        row = self.rows.get(credential_id)
        if row is not None:
            self.rows[credential_id] = replace(row, last_used_at=at)

    async def all(self) -> Sequence[StoredCredential[Agency]]:
        return sorted(self.rows.values(), key=lambda c: (c.principal.value, c.created_at))


class MemoryAuditLog:
    def __init__(self, ledger: MemoryLedger | None = None) -> None:
        self.ledger = ledger if ledger is not None else MemoryLedger()
        self.entries: list[AuditEntry] = []
        self.event_hashes: dict[UUID, bytes] = {}
        """Stands for ``ingress_events`` (and, in tests, intake's ``events``)."""

    async def known(self, event_ids: Sequence[UUID]) -> Mapping[UUID, bytes]:
        return {i: self.event_hashes[i] for i in event_ids if i in self.event_hashes}

    async def record(self, entry: AuditEntry) -> None:
        if any(e.request_id == entry.request_id for e in self.entries):
            raise KeyError(f"request {entry.request_id} is audited already")
        self.entries.append(entry)

    async def accept(self, entry: AuditEntry, rows: Sequence[OutboxRow]) -> Sequence[OutboxRow]:
        hashes = {r.event_id: hashlib.sha256(r.value or b"").digest() for r in rows}
        taken = [i for i, h in hashes.items() if self.event_hashes.get(i, h) != h]
        if taken:
            raise EventIdReusedError(taken)
        async with self.ledger.unit(OUTBOX_PRODUCER) as unit:
            stored = await unit.enqueue(rows)
            await self.record(entry)  # last: if it raises, the unit keeps none of the rows
        self.event_hashes.update(hashes)
        return stored

    async def status_of(self, agency: str, event_id: UUID) -> EventState | None:
        for e in reversed(self.entries):
            if e.agency != agency:
                continue
            if event_id in e.accepted_ids:
                return EventState("accepted", e.received_at)
            if event_id in e.rejected_ids:
                return EventState("refused", e.received_at, e.code)
        return None

    async def purge(self, *, before: datetime, limit: int) -> int:
        old = sorted(
            (e for e in self.entries if e.received_at < before), key=lambda e: e.received_at
        )[:limit]
        gone = {id(e) for e in old}
        self.entries = [e for e in self.entries if id(e) not in gone]
        return len(old)


class MemoryRateLimit:
    """One process's buckets (``domain.ratelimit``) behind the ``RateLimit`` port."""

    def __init__(self, *, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self._limiter = RateLimiter(rate=rate, burst=burst)
        self._monotonic = monotonic
        self.rate = rate
        self.burst = burst

    async def take(self, agency: Agency, n: int) -> Decision:
        return self._limiter.take(agency, n, self._monotonic())


@dataclass
class _Window:
    start: float
    failures: int


class MemoryAuthFailures:
    """Fixed-window failure counts per address and per credential id, as the PostgreSQL table."""

    def __init__(
        self,
        *,
        per_addr: int,
        per_credential: int,
        window_seconds: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._limits = {"addr": per_addr, "credential": per_credential}
        self._window = window_seconds
        self._monotonic = monotonic
        self._counts: dict[tuple[str, str], _Window] = {}

    async def blocked(self, client_addr: str | None, credential_id: str | None) -> int | None:
        now = self._monotonic()
        waits = [
            int(w.start + self._window - now) + 1
            for key in _subjects(client_addr, credential_id)
            if (w := self._counts.get(key)) is not None
            and w.start > now - self._window
            and w.failures >= self._limits[key[0]]
        ]
        return max(waits) if waits else None

    async def failed(self, client_addr: str | None, credential_id: str | None) -> None:
        now = self._monotonic()
        for key in _subjects(client_addr, credential_id):
            w = self._counts.get(key)
            if w is None or w.start <= now - self._window:
                self._counts[key] = _Window(now, 1)
            else:
                w.failures += 1


def _subjects(client_addr: str | None, credential_id: str | None) -> list[tuple[str, str]]:
    keys = [("addr", client_addr)] if client_addr else []
    if credential_id:
        keys.append(("credential", credential_id))
    return keys
