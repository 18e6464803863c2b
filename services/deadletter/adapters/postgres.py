"""The ``deadletters`` table: recording, listing and marking replayed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from services.deadletter.domain.letters import DeadLetterRow

INSERT_SQL = """
INSERT INTO deadletters (dlq_partition, dlq_offset, reason, exception_class, exception_message,
    original_topic, original_partition, original_offset, consumer_group, failed_at,
    record_key, record_value, record_headers)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)
ON CONFLICT (consumer_group, original_topic, original_partition, original_offset) DO NOTHING
"""


class PostgresDeadLetterStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, rows: Sequence[DeadLetterRow]) -> int:
        args = [
            (
                r.dlq_partition,
                r.dlq_offset,
                r.reason,
                r.exception_class,
                r.exception_message,
                r.original_topic,
                r.original_partition,
                r.original_offset,
                r.consumer_group,
                r.failed_at,
                r.key,
                r.value,
                json.dumps(r.original_headers),
            )
            for r in rows
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(INSERT_SQL, args)
        return len(args)


async def list_deadletters(
    conn: asyncpg.Connection, *, include_replayed: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, reason, exception_class, exception_message, original_topic,
                  original_partition, original_offset, consumer_group, failed_at, replayed_at,
                  record_key, record_value, record_headers
           FROM deadletters WHERE $1 OR replayed_at IS NULL
           ORDER BY failed_at DESC, id DESC LIMIT $2""",
        include_replayed,
        limit,
    )
    return [dict(r) for r in rows]


async def mark_replayed(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE deadletters SET replayed_at = now() WHERE id = ANY($1::bigint[])", list(ids)
    )
