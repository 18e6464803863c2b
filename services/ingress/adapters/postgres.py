"""Ingress's tables via asyncpg: credentials, audit, ``ingress_events`` and its outbox rows.

Credentials are the shared store (``services.common.credential_store``) over
``agency_credentials``: small single-statement operations on a shared pool. A request that accepted
nothing is one audit insert. A submission with accepted events is one transaction of the pipeline's
ledger (``PostgresLedger.unit``): the audit insert, the outbox rows and the events' ids with their
content hashes (``ingress_events``) commit together; an id another transaction took for other
content in the meantime rolls it all back (``EventIdReusedError``). ``known`` reads
``ingress_events`` and, read-only, intake's ``events`` table when it is in the same database (it is
in every deployment frontdoor ships: one database, a schema per nobody), so an id first seen on the
Kafka path is also recognised. ``purge`` deletes old audit rows in bounded batches, each in a
transaction marked for the append-only trigger (``migrations/002_audit_retention.sql``), which
refuses every other change.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from schemas.envelope import Agency
from services.common.credential_store import PostgresCredentialStore as SharedCredentialStore
from services.common.ledger import PostgresLedger
from services.common.outbox import OutboxRow
from services.ingress.audit import AuditEntry
from services.ingress.ports import OUTBOX_PRODUCER, EventIdReusedError, EventState

AUDIT_SQL = """
INSERT INTO ingress_audit (request_id, received_at, agency, credential_id, client_addr, status,
                           outcome, code, events_received, events_accepted, events_rejected,
                           accepted_ids, rejected_ids, unconfirmed_ids, body_bytes, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
"""

CLAIM_EVENTS_SQL = """
INSERT INTO ingress_events (event_id, content_hash, agency, event_type, request_id)
SELECT t.*, $5 FROM unnest($1::uuid[], $2::bytea[], $3::text[], $4::text[]) AS t
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

# a statement of its own: its snapshot sees the rows a concurrent transaction committed while
# the insert above waited on them (READ COMMITTED)
REUSED_SQL = """
SELECT e.event_id FROM ingress_events e
JOIN unnest($1::uuid[], $2::bytea[]) AS t(event_id, content_hash) ON t.event_id = e.event_id
WHERE e.content_hash <> t.content_hash
"""

INTAKE_EVENTS_RECHECK_SECONDS = 60.0
"""How long an absent intake ``events`` table is believed absent before asking again."""

PURGE_SQL = """
DELETE FROM ingress_audit
WHERE audit_id IN (
    SELECT audit_id FROM ingress_audit WHERE received_at < $1 ORDER BY received_at LIMIT $2
)
"""


class PostgresCredentialStore(SharedCredentialStore[Agency]):
    """The shared credential store over ``agency_credentials`` (the principal is the agency)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(
            pool, table="agency_credentials", principal_column="agency", principal=Agency
        )


class PostgresAuditLog:
    def __init__(self, pool: asyncpg.Pool, ledger: PostgresLedger | None = None) -> None:
        self._pool = pool
        self._ledger = ledger or PostgresLedger(pool)
        self._intake_events: bool | None = None
        self._intake_checked = 0.0

    async def known(self, event_ids: Sequence[UUID]) -> Mapping[UUID, bytes]:
        if not event_ids:
            return {}
        ids = list(event_ids)
        sql = "SELECT event_id, content_hash FROM ingress_events WHERE event_id = ANY($1::uuid[])"
        if await self._has_intake_events():
            sql += (
                " UNION ALL SELECT event_id, content_hash FROM events"
                " WHERE event_id = ANY($1::uuid[])"
            )
        found: dict[UUID, bytes] = {}
        for row in await self._pool.fetch(sql, ids):
            found.setdefault(row["event_id"], bytes(row["content_hash"]))
        return found

    async def _has_intake_events(self) -> bool:
        now = time.monotonic()
        if self._intake_events is None or (
            not self._intake_events and now - self._intake_checked > INTAKE_EVENTS_RECHECK_SECONDS
        ):
            self._intake_events = bool(
                await self._pool.fetchval("SELECT to_regclass('events') IS NOT NULL")
            )
            self._intake_checked = now
        return self._intake_events

    async def record(self, entry: AuditEntry) -> None:
        await self._pool.execute(AUDIT_SQL, *_audit_values(entry))

    async def status_of(self, agency: str, event_id: UUID) -> EventState | None:
        """Accepted by this agency (and recorded, once intake has it), else its latest refusal."""
        accepted = await self._pool.fetchval(
            "SELECT accepted_at FROM ingress_events WHERE event_id = $1 AND agency = $2",
            event_id,
            agency,
        )
        if accepted is not None:
            recorded = await self._has_intake_events() and await self._pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM events WHERE event_id = $1)", event_id
            )
            return EventState("recorded" if recorded else "accepted", accepted)
        row = await self._pool.fetchrow(
            "SELECT received_at, code FROM ingress_audit "
            "WHERE agency = $1 AND rejected_ids @> ARRAY[$2::uuid] "
            "ORDER BY received_at DESC LIMIT 1",
            agency,
            event_id,
        )
        return EventState("refused", row["received_at"], row["code"]) if row else None

    async def accept(self, entry: AuditEntry, rows: Sequence[OutboxRow]) -> Sequence[OutboxRow]:
        ids = [r.event_id for r in rows]
        hashes = [hashlib.sha256(r.value or b"").digest() for r in rows]
        async with self._ledger.unit(OUTBOX_PRODUCER) as unit:
            conn = unit.connection
            inserted = await conn.fetch(
                CLAIM_EVENTS_SQL,
                ids,
                hashes,
                [entry.agency or "" for _ in rows],
                [r.event_type or "" for r in rows],
                entry.request_id,
            )
            if len(inserted) < len(rows):
                fresh = {i["event_id"] for i in inserted}
                again = [(i, h) for i, h in zip(ids, hashes, strict=True) if i not in fresh]
                taken = await conn.fetch(REUSED_SQL, [i for i, _ in again], [h for _, h in again])
                if taken:
                    raise EventIdReusedError([t["event_id"] for t in taken])
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
