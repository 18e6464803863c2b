"""``frontdoor dlq``: list dead letters and re-submit them to their original topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson
from rich.console import Console
from rich.table import Table

from services.cli.replay import key_of
from services.common.kafka import new_producer
from services.common.settings import Endpoints
from services.deadletter.adapters.postgres import list_deadletters, mark_replayed


def _display(row: dict[str, Any]) -> dict[str, Any]:
    value: bytes | None = row.pop("record_value")
    key: bytes | None = row.pop("record_key")
    headers = row.pop("record_headers")
    row["key"] = key.decode("utf-8", "replace") if key else None
    row["value_bytes"] = len(value) if value else 0
    row["headers"] = orjson.loads(headers) if isinstance(headers, str) else headers
    return row


async def fetch_deadletters(
    endpoints: Endpoints, include_replayed: bool, limit: int
) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        rows = await list_deadletters(conn, include_replayed=include_replayed, limit=limit)
    finally:
        await conn.close()
    return [_display(r) for r in rows]


def print_deadletters(rows: Sequence[dict[str, Any]]) -> None:
    table = Table(title=f"{len(rows)} dead letters (newest first)")
    for col in ("id", "failed at", "reason", "from", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["failed_at"].isoformat(timespec="seconds"),
            r["reason"],
            f"{r['original_topic']}[{r['original_partition']}]@{r['original_offset']}",
            f"{r['exception_class'].rsplit('.', 1)[-1]}: {r['exception_message'][:90]}",
        )
    Console().print(table)


async def replay_deadletters(
    endpoints: Endpoints, ids: Sequence[int] | None, reason: str | None
) -> int:
    conn = await asyncpg.connect(endpoints.database_url)
    producer = new_producer(endpoints.bootstrap_servers)
    await producer.start()
    try:
        rows = await conn.fetch(
            """SELECT id, original_topic, record_key, record_value FROM deadletters
               WHERE replayed_at IS NULL AND ($1::bigint[] IS NULL OR id = ANY($1))
                 AND ($2::text IS NULL OR reason = $2) ORDER BY id""",
            list(ids) if ids else None,
            reason,
        )
        for r in rows:
            value = r["record_value"]
            key = r["record_key"] or (key_of(value) if value else None)
            await producer.send_and_wait(r["original_topic"], value, key=key)
        await mark_replayed(conn, [r["id"] for r in rows])
        return len(rows)
    finally:
        await producer.stop()
        await conn.close()
