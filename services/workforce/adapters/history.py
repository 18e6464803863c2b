"""The workforce history from the ``events`` table (written by intake), for the read-only exports.

``read_workforce_history`` returns, parsed through the contract, every directory event (teams,
workers, leave, ASYE, supervision) and every allocation event that happened before ``before``:
what ``domain/profile.py`` folds. It opens its own connection and holds no lock.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import orjson

from schemas.envelope import EventBase
from schemas.registry import parse_event
from schemas.topics import WORKFORCE

PROFILE_TYPES = tuple(
    t for t in WORKFORCE.event_types if not t.startswith(("audit.", "oversight.", "workforce."))
)


async def read_workforce_history(database_url: str, before: datetime) -> list[EventBase]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT body::text AS body FROM events WHERE event_type = ANY($1::text[])"
            " AND occurred_at < $2 ORDER BY occurred_at, source_partition, source_offset",
            list(PROFILE_TYPES),
            before,
        )
    finally:
        await conn.close()
    return [parse_event(orjson.loads(r["body"])) for r in rows]
