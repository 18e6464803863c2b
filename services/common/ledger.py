"""The pipeline's store: one transaction per batch, the idempotency claim and the outbox.

``Ledger.unit(consumer)`` opens the transaction a batch is handled in. Inside it the pipeline
*claims* the batch's event ids first (``INSERT … ON CONFLICT DO NOTHING RETURNING``): an id this
transaction inserted is fresh and is handled; an id already there was processed before (or is
being processed by a concurrent transaction, which the insert waits for) and is skipped. Claiming
before handling, rather than checking and inserting afterwards, is what keeps a catch-up from
PostgreSQL and the live stream from both applying the same event. The handler's own adapters
write through ``unit.connection``; what it emits goes into the outbox in the same transaction.

``MemoryLedger`` is the in-memory stand-in for unit tests. It passes the same contract suite as
``PostgresLedger`` (``tests/integration/test_pipeline_ledger.py``): claims, conflicts, rollback
on failure, outbox order and relay marks.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

import orjson

from services.common.outbox import OutboxRow


class Claim(StrEnum):
    FRESH = "fresh"
    """Never processed by this consumer: handle it."""
    REPEAT = "repeat"
    """Processed before with the same content: a redelivery, a no-op."""
    CONFLICT = "conflict"
    """Processed before with *different* content: the event id was reused."""


class LedgerUnit(Protocol):
    """One transaction: the claim, the handler's writes (through ``connection``), the outbox."""

    @property
    def connection(self) -> Any: ...

    async def claim(self, items: Sequence[tuple[UUID, bytes]]) -> dict[UUID, Claim]: ...

    async def release(self, event_ids: Sequence[UUID]) -> None: ...

    async def enqueue(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]: ...


class Ledger(Protocol):
    def unit(self, consumer: str) -> AbstractAsyncContextManager[LedgerUnit]: ...

    async def pending(self, *, older_than_seconds: float, limit: int) -> Sequence[OutboxRow]: ...

    async def mark_relayed(self, ids: Sequence[int], *, relay_ts: datetime) -> None: ...

    async def lost(
        self,
        consumer: str,
        *,
        topic: str,
        partition: int,
        before: datetime,
        event_types: frozenset[str] | None,
        after_id: int,
        limit: int,
    ) -> Sequence[OutboxRow]: ...


# --------------------------------------------------------------------------------- PostgreSQL

_CLAIM_SQL = """
WITH input AS (
    SELECT * FROM unnest($2::uuid[], $3::bytea[]) AS t(event_id, content_hash)
), ins AS (
    INSERT INTO processed_events (consumer, event_id, content_hash)
    SELECT $1, event_id, content_hash FROM input
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING event_id
)
SELECT i.event_id, (ins.event_id IS NOT NULL) AS fresh, p.content_hash AS stored
FROM input i
LEFT JOIN ins ON ins.event_id = i.event_id
LEFT JOIN processed_events p
       ON ins.event_id IS NULL AND p.consumer = $1 AND p.event_id = i.event_id
"""

_ENQUEUE_SQL = """
INSERT INTO outbox (event_id, event_type, producer, topic, partition, key, value, headers)
SELECT r.event_id, r.event_type, $1, r.topic, r.partition, r.key, r.value, r.headers::jsonb
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bytea[], $7::bytea[], $8::text[])
     WITH ORDINALITY AS r(event_id, event_type, topic, partition, key, value, headers, n)
ORDER BY r.n
RETURNING id, event_id, topic
"""

_PENDING_SQL = """
UPDATE outbox o SET lease_until = now() + interval '10 seconds'
WHERE o.id IN (
    SELECT id FROM outbox
    WHERE relayed_at IS NULL AND created_at < now() - make_interval(secs => $1)
      AND (lease_until IS NULL OR lease_until < now())
    ORDER BY id LIMIT $2
    FOR UPDATE SKIP LOCKED
)
RETURNING o.id, o.event_id, o.event_type, o.topic, o.partition, o.key, o.value,
          o.headers
"""

_LOST_SQL = """
SELECT o.id, o.event_id, o.event_type, o.topic, o.partition, o.key, o.value,
       o.headers
FROM outbox o
WHERE o.topic = $2 AND o.partition = $3 AND o.id > $4
  AND o.relayed_at IS NOT NULL AND o.relay_ts < $5
  AND ($6::text[] IS NULL OR o.event_type = ANY($6::text[]))
  AND NOT EXISTS (
      SELECT 1 FROM processed_events p WHERE p.consumer = $1 AND p.event_id = o.event_id)
ORDER BY o.id
LIMIT $7
"""


def encode_headers(headers: Sequence[tuple[str, bytes]]) -> str:
    """Names and values base64: jsonb cannot hold a NUL, and a dead letter keeps any bytes."""
    return orjson.dumps(
        [
            [
                base64.b64encode(k.encode("utf-8", "surrogatepass")).decode(),
                base64.b64encode(v).decode(),
            ]
            for k, v in headers
        ]
    ).decode()


def decode_headers(stored: str | bytes) -> tuple[tuple[str, bytes], ...]:
    return tuple(
        (base64.b64decode(k).decode("utf-8", "surrogatepass"), base64.b64decode(v))
        for k, v in orjson.loads(stored)
    )


def outbox_row(r: Any) -> OutboxRow:
    """An ``OutboxRow`` from a row of the outbox's columns (or a table of the same shape)."""
    return OutboxRow(
        id=r["id"],
        event_id=r["event_id"],
        event_type=r["event_type"],
        topic=r["topic"],
        partition=r["partition"],
        key=None if r["key"] is None else bytes(r["key"]),
        value=None if r["value"] is None else bytes(r["value"]),
        headers=decode_headers(r["headers"]),
    )


class _PostgresUnit:
    def __init__(self, connection: Any, consumer: str) -> None:
        self._conn = connection
        self._consumer = consumer

    @property
    def connection(self) -> Any:
        return self._conn

    async def claim(self, items: Sequence[tuple[UUID, bytes]]) -> dict[UUID, Claim]:
        if not items:
            return {}
        rows = await self._conn.fetch(
            _CLAIM_SQL, self._consumer, [i for i, _ in items], [h for _, h in items]
        )
        wanted = dict(items)
        stored = {r["event_id"]: r["stored"] for r in rows if not r["fresh"]}
        if unseen := [i for i, h in stored.items() if h is None]:
            # a claim committed by a concurrent transaction while the insert waited on it is not
            # in that statement's snapshot (READ COMMITTED): a statement of its own sees it
            again = await self._conn.fetch(
                "SELECT event_id, content_hash FROM processed_events "
                "WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                self._consumer,
                unseen,
            )
            stored.update({r["event_id"]: r["content_hash"] for r in again})
        result: dict[UUID, Claim] = {}
        for r in rows:
            if r["fresh"]:
                result[r["event_id"]] = Claim.FRESH
            elif (h := stored[r["event_id"]]) is not None and bytes(h) != wanted[r["event_id"]]:
                result[r["event_id"]] = Claim.CONFLICT
            else:
                result[r["event_id"]] = Claim.REPEAT
        return result

    async def release(self, event_ids: Sequence[UUID]) -> None:
        if event_ids:
            await self._conn.execute(
                "DELETE FROM processed_events WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                self._consumer,
                list(event_ids),
            )

    async def enqueue(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        if not rows:
            return []
        inserted = await self._conn.fetch(
            _ENQUEUE_SQL,
            self._consumer,
            [r.event_id for r in rows],
            [r.event_type for r in rows],
            [r.topic for r in rows],
            [r.partition for r in rows],
            [r.key for r in rows],
            [r.value for r in rows],
            [encode_headers(r.headers) for r in rows],
        )
        out: list[OutboxRow] = []
        for r, i in zip(rows, inserted, strict=True):
            if (i["event_id"], i["topic"]) != (r.event_id, r.topic):  # pragma: no cover
                raise RuntimeError("outbox RETURNING came back out of order")
            out.append(replace(r, id=i["id"]))
        return out


class PostgresLedger:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @property
    def pool(self) -> Any:
        return self._pool

    def unit(self, consumer: str) -> AbstractAsyncContextManager[LedgerUnit]:
        @asynccontextmanager
        async def opened() -> AsyncIterator[LedgerUnit]:
            async with self._pool.acquire() as conn, conn.transaction():
                yield _PostgresUnit(conn, consumer)

        return opened()

    async def pending(self, *, older_than_seconds: float, limit: int) -> Sequence[OutboxRow]:
        rows = await self._pool.fetch(_PENDING_SQL, older_than_seconds, limit)
        return sorted((outbox_row(r) for r in rows), key=lambda r: r.id or 0)

    async def mark_relayed(self, ids: Sequence[int], *, relay_ts: datetime) -> None:
        if not ids:
            return
        # losing this mark in a crash only sends the same ids again (downstream drops repeats),
        # so it need not wait for the WAL flush
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(
                "UPDATE outbox SET relayed_at = now(), relay_ts = $2, lease_until = NULL "
                "WHERE id = ANY($1::bigint[])",
                list(ids),
                relay_ts,
            )

    async def lost(
        self,
        consumer: str,
        *,
        topic: str,
        partition: int,
        before: datetime,
        event_types: frozenset[str] | None,
        after_id: int,
        limit: int,
    ) -> Sequence[OutboxRow]:
        rows = await self._pool.fetch(
            _LOST_SQL,
            consumer,
            topic,
            partition,
            after_id,
            before,
            sorted(event_types) if event_types is not None else None,
            limit,
        )
        return [outbox_row(r) for r in rows]


# --------------------------------------------------------------------------------- in memory


@dataclass
class _Stored:
    row: OutboxRow
    created_at: datetime
    relayed_at: datetime | None = None
    relay_ts: datetime | None = None


@dataclass
class MemoryLedger:
    """The same behaviour in memory; a batch's changes apply only if its unit exits cleanly."""

    processed: dict[tuple[str, UUID], bytes] = field(default_factory=dict)
    outbox: list[_Stored] = field(default_factory=list)
    connection: Any = None
    clock: Any = field(default=lambda: datetime.now(UTC))

    def unit(self, consumer: str) -> AbstractAsyncContextManager[LedgerUnit]:
        ledger = self

        @dataclass
        class _Unit:
            claims: dict[tuple[str, UUID], bytes] = field(default_factory=dict)
            rows: list[OutboxRow] = field(default_factory=list)

            @property
            def connection(self) -> Any:
                return ledger.connection

            async def claim(self, items: Sequence[tuple[UUID, bytes]]) -> dict[UUID, Claim]:
                result: dict[UUID, Claim] = {}
                for event_id, digest in items:
                    key = (consumer, event_id)
                    stored = ledger.processed.get(key, self.claims.get(key))
                    if stored is None:
                        self.claims[key] = digest
                        result[event_id] = Claim.FRESH
                    else:
                        result[event_id] = Claim.REPEAT if stored == digest else Claim.CONFLICT
                return result

            async def release(self, event_ids: Sequence[UUID]) -> None:
                for event_id in event_ids:
                    self.claims.pop((consumer, event_id), None)

            async def enqueue(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
                start = len(ledger.outbox) + len(self.rows) + 1
                added = [replace(r, id=start + n) for n, r in enumerate(rows)]
                self.rows.extend(added)
                return added

        @asynccontextmanager
        async def opened() -> AsyncIterator[LedgerUnit]:
            unit = _Unit()
            yield unit
            ledger.processed.update(unit.claims)
            now = ledger.clock()
            ledger.outbox.extend(_Stored(r, now) for r in unit.rows)

        return opened()

    async def pending(self, *, older_than_seconds: float, limit: int) -> Sequence[OutboxRow]:
        cutoff = self.clock() - timedelta(seconds=older_than_seconds)
        return [s.row for s in self.outbox if s.relayed_at is None and s.created_at < cutoff][
            :limit
        ]

    async def mark_relayed(self, ids: Sequence[int], *, relay_ts: datetime) -> None:
        wanted = set(ids)
        for s in self.outbox:
            if s.row.id in wanted:
                s.relayed_at, s.relay_ts = self.clock(), relay_ts

    async def lost(
        self,
        consumer: str,
        *,
        topic: str,
        partition: int,
        before: datetime,
        event_types: frozenset[str] | None,
        after_id: int,
        limit: int,
    ) -> Sequence[OutboxRow]:
        found = [
            s.row
            for s in self.outbox
            if s.row.topic == topic
            and s.row.partition == partition
            and (s.row.id or 0) > after_id
            and s.relay_ts is not None
            and s.relay_ts < before
            and (event_types is None or s.row.event_type in event_types)
            and (consumer, s.row.event_id) not in self.processed
        ]
        return found[:limit]
