"""``agency_credentials`` and ``ingress_audit`` through asyncpg.

Both are small, single-statement operations on a shared pool; the audit insert is one round trip
per request. ``mark_used`` is called once per successful (uncached) verification, not per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from schemas.envelope import Agency
from services.ingress.audit import AuditEntry
from services.ingress.credentials import StoredCredential

_COLUMNS = (
    "credential_id, agency, label, secret_hash, created_at, revoked_at, replaced_by, last_used_at"
)

AUDIT_SQL = """
INSERT INTO ingress_audit (request_id, received_at, agency, credential_id, client_addr, status,
                           outcome, code, events_received, events_accepted, events_rejected,
                           accepted_ids, rejected_ids, unconfirmed_ids, body_bytes, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
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
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, entry: AuditEntry) -> None:
        e = entry
        await self._pool.execute(
            AUDIT_SQL,
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
