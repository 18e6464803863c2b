"""``agency_credentials``, ``ingress_audit`` and ingress's rows of the common outbox, via asyncpg.

Credentials are small single-statement operations on a shared pool; ``mark_used`` is called once
per successful (uncached) verification, not per request. A request that accepted nothing is one
audit insert. A submission with accepted events is one transaction of the pipeline's ledger
(``PostgresLedger.unit``): the audit insert and the outbox rows commit together. ``purge`` deletes
old audit rows in bounded batches, each in a transaction marked for the append-only trigger
(``migrations/002_audit_retention.sql``), which refuses every other change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from schemas.envelope import Agency
from services.common.ledger import PostgresLedger
from services.common.outbox import OutboxRow
from services.ingress.audit import AuditEntry
from services.ingress.credentials import StoredCredential
from services.ingress.ports import OUTBOX_PRODUCER

_COLUMNS = (
    "credential_id, agency, label, secret_hash, created_at, revoked_at, replaced_by, last_used_at"
)

AUDIT_SQL = """
INSERT INTO ingress_audit (request_id, received_at, agency, credential_id, client_addr, status,
                           outcome, code, events_received, events_accepted, events_rejected,
                           accepted_ids, rejected_ids, unconfirmed_ids, body_bytes, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
"""

PURGE_SQL = """
DELETE FROM ingress_audit
WHERE audit_id IN (
    SELECT audit_id FROM ingress_audit WHERE received_at < $1 ORDER BY received_at LIMIT $2
)
"""


def _credential(row: Any) -> StoredCredential:
    return StoredCredential(
        credential_id=row["credential_id"],
        agency=Agency(row["agency"]),
        label=row["label"],
        secret_hash=row["secret_hash"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        replaced_by=row["replaced_by"],
        last_used_at=row["last_used_at"],
    )


class PostgresCredentialStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, credential_id: str) -> StoredCredential | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM agency_credentials WHERE credential_id = $1", credential_id
        )
        return _credential(row) if row is not None else None

    async def insert(self, credential: StoredCredential) -> None:
        c = credential
        await self._pool.execute(
            f"INSERT INTO agency_credentials ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            c.credential_id,
            c.agency.value,
            c.label,
            c.secret_hash,
            c.created_at,
            c.revoked_at,
            c.replaced_by,
            c.last_used_at,
        )

    async def set_revoked(
        self, credential_id: str, revoked_at: datetime, replaced_by: str | None = None
    ) -> bool:
        status: str = await self._pool.execute(
            "UPDATE agency_credentials SET revoked_at = $2, replaced_by = $3 "
            "WHERE credential_id = $1",
            credential_id,
            revoked_at,
            replaced_by,
        )
        return status.endswith(" 1")

    async def mark_used(self, credential_id: str, at: datetime) -> None:
        await self._pool.execute(
            "UPDATE agency_credentials SET last_used_at = $2 WHERE credential_id = $1",
            credential_id,
            at,
        )

    async def all(self) -> Sequence[StoredCredential]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM agency_credentials ORDER BY agency, created_at"
        )
        return [_credential(r) for r in rows]


class PostgresAuditLog:
    def __init__(self, pool: asyncpg.Pool, ledger: PostgresLedger | None = None) -> None:
        self._pool = pool
        self._ledger = ledger or PostgresLedger(pool)

    async def record(self, entry: AuditEntry) -> None:
        await self._pool.execute(AUDIT_SQL, *_audit_values(entry))

    async def accept(self, entry: AuditEntry, rows: Sequence[OutboxRow]) -> Sequence[OutboxRow]:
        async with self._ledger.unit(OUTBOX_PRODUCER) as unit:
            await unit.connection.execute(AUDIT_SQL, *_audit_values(entry))
            return await unit.enqueue(rows)

    async def purge(self, *, before: datetime, limit: int) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('frontdoor.ingress_audit_purge', 'on', true)")
            status: str = await conn.execute(PURGE_SQL, before, limit)
        return int(status.rsplit(" ", 1)[-1])


def _audit_values(e: AuditEntry) -> tuple[Any, ...]:
    return (
        e.request_id,
        e.received_at,
        e.agency,
        e.credential_id,
        e.client_addr,
        e.status,
        e.outcome,
        e.code,
        e.events_received,
        len(e.accepted_ids),
        e.events_rejected,
        list(e.accepted_ids),
        list(e.rejected_ids),
        list(e.unconfirmed_ids),
        e.body_bytes,
        e.duration_ms,
    )
