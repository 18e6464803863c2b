"""In-memory credential store and audit log: the fakes the unit tests and the fuzzer run against.

They honour the same contract as the PostgreSQL adapters (the integration tests run one suite
against both), so a test that passes here says something about production. ``MemoryAuditLog``
writes its outbox rows through the pipeline's ``MemoryLedger``: an ``accept`` whose audit row
fails leaves no outbox row, as the PostgreSQL transaction would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from services.common.ledger import MemoryLedger
from services.common.outbox import OutboxRow
from services.ingress.audit import AuditEntry
from services.ingress.credentials import StoredCredential
from services.ingress.ports import OUTBOX_PRODUCER


class MemoryCredentialStore:
    def __init__(self) -> None:
        self.rows: dict[str, StoredCredential] = {}

    async def get(self, credential_id: str) -> StoredCredential | None:
        return self.rows.get(credential_id)

    async def insert(self, credential: StoredCredential) -> None:
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

    async def all(self) -> Sequence[StoredCredential]:
        return sorted(self.rows.values(), key=lambda c: (c.agency.value, c.created_at))


class MemoryAuditLog:
    def __init__(self, ledger: MemoryLedger | None = None) -> None:
        self.ledger = ledger if ledger is not None else MemoryLedger()
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        if any(e.request_id == entry.request_id for e in self.entries):
            raise KeyError(f"request {entry.request_id} is audited already")
        self.entries.append(entry)

    async def accept(self, entry: AuditEntry, rows: Sequence[OutboxRow]) -> Sequence[OutboxRow]:
        async with self.ledger.unit(OUTBOX_PRODUCER) as unit:
            stored = await unit.enqueue(rows)
            await self.record(entry)  # last: if it raises, the unit keeps none of the rows
        return stored

    async def purge(self, *, before: datetime, limit: int) -> int:
        old = sorted(
            (e for e in self.entries if e.received_at < before), key=lambda e: e.received_at
        )[:limit]
        gone = {id(e) for e in old}
        self.entries = [e for e in self.entries if id(e) not in gone]
        return len(old)
