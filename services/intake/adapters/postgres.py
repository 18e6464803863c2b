"""The ``events`` table through asyncpg: look up known ids, append a batch in one statement.

Bound to the pipeline unit's connection, so the append commits with the batch's claims and
outbox rows. A batch is appended with ``INSERT … SELECT FROM unnest(arrays)`` — one round trip
however many events — with ``ON CONFLICT DO NOTHING`` so that a concurrent replica that recorded
the same event first is not an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from services.common.pipeline import Delivery
from services.intake.domain.speakers import LaneRefusal

APPEND_SQL = """
INSERT INTO events (event_id, event_type, schema_version, occurred_at, child_id, family_id,
                    source_agency, content_hash, source_topic, source_partition, source_offset,
                    body)
SELECT e.event_id, e.event_type, e.schema_version, e.occurred_at, e.child_id, e.family_id,
       e.source_agency, e.content_hash, e.source_topic, e.source_partition, e.source_offset,
       e.body::jsonb
FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::text[],
            $7::text[], $8::bytea[], $9::text[], $10::int[], $11::bigint[], $12::text[])
     AS e(event_id, event_type, schema_version, occurred_at, child_id, family_id, source_agency,
          content_hash, source_topic, source_partition, source_offset, body)
ON CONFLICT (event_id) DO NOTHING
"""


class PostgresEventStore:
    def __init__(self, connection: Any) -> None:
        self._conn = connection

    async def known_hashes(self, event_ids: Sequence[UUID]) -> dict[UUID, bytes]:
        if not event_ids:
            return {}
        rows = await self._conn.fetch(
            "SELECT event_id, content_hash FROM events WHERE event_id = ANY($1::uuid[])",
            list(event_ids),
        )
        return {r["event_id"]: bytes(r["content_hash"]) for r in rows}

    async def append(self, events: Sequence[Delivery]) -> int:
        if not events:
            return 0
        cols: list[list[object]] = [[] for _ in range(12)]
        for d in events:
            e, o = d.event, d.origin
            for col, value in zip(
                cols,
                (
                    e.event_id,
                    e.event_type,
                    e.schema_version,
                    e.occurred_at,
                    e.subject.child_id,
                    e.subject.family_id,
                    e.source.agency.value,
                    d.content_hash,
                    o.topic,
                    o.partition,
                    o.offset,
                    d.canonical.decode(),
                ),
                strict=True,
            ):
                col.append(value)
        status: str = await self._conn.execute(APPEND_SQL, *cols)
        return int(status.rsplit(" ", 1)[-1])

    async def advance(self, through: Mapping[tuple[str, int], datetime]) -> None:
        if not through:
            return
        await self._conn.execute(
            "INSERT INTO intake_watermarks (topic, partition, through) "
            "SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[]) "
            "ON CONFLICT (topic, partition) DO UPDATE SET "
            "through = GREATEST(intake_watermarks.through, EXCLUDED.through), updated_at = now()",
            [t for t, _ in through],
            [p for _, p in through],
            list(through.values()),
        )

    async def refused(self, refusals: Sequence[LaneRefusal]) -> None:
        if not refusals:
            return
        await self._conn.executemany(
            "INSERT INTO intake_lane_refusals (event_id, event_type, topic, partition, "
            '"offset", via, speaker, claimed_agency, rules) '
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [
                (
                    r.event_id,
                    r.event_type,
                    r.topic,
                    r.partition,
                    r.offset,
                    r.via.value,
                    r.speaker.value if r.speaker else None,
                    r.claimed_agency.value,
                    list(r.rules),
                )
                for r in refusals
            ],
        )
