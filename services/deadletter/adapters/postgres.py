"""The ``deadletters`` table through asyncpg: keeping letters, listing them, replaying them.

``PostgresLetterStore`` is bound to the pipeline unit's connection, so a batch's letters commit
with its claims. Every header is stored exactly (``header_names`` / ``header_values``, ``bytea[]``
in order, NUL and non-UTF-8 bytes included); ``record_headers`` keeps the display form (original
headers as escaped text) that dashboards and older letters use. ``PostgresReplayBook`` marks
letters replayed, releases the dead-letter consumer's claims on them and writes the replay's audit
row (``deadletter_replays``: who, when, which ids, which filters) in one transaction of the
pipeline's ledger, so a replayed record that fails again is a fresh letter to the pipeline and no
letter is ever taken unaudited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from services.common.ledger import PostgresLedger
from services.deadletter.domain.letters import Header, KeptLetter, Letter
from services.deadletter.domain.replay import ReplayAudit, StoredLetter

_COLUMNS = """dlq_partition, dlq_offset, reason, exception_class, exception_message,
    original_topic, original_partition, original_offset, consumer_group, failed_at,
    record_key, record_value, record_headers, header_names, header_values, received_at"""

ADD_SQL = f"""
INSERT INTO deadletters (letter_id, {_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17)
ON CONFLICT (letter_id) DO NOTHING
"""

REOPEN_SQL = f"""
UPDATE deadletters SET ({_COLUMNS}, replayed_at) =
    ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17, NULL)
WHERE letter_id = $1 AND replayed_at IS NOT NULL AND failed_at < $11
"""

KEPT_SQL = """
SELECT letter_id, failed_at, replayed_at FROM deadletters WHERE letter_id = ANY($1::uuid[])
"""

SELECT_SQL = """
SELECT id, letter_id, reason, original_topic, record_key, record_value, record_headers,
       header_names, header_values, replayed_at
FROM deadletters
WHERE CASE WHEN $1::bigint[] IS NOT NULL THEN id = ANY($1::bigint[])
           ELSE replayed_at IS NULL AND ($2::text IS NULL OR reason = $2) END
ORDER BY id
"""

TAKE_SQL = """
UPDATE deadletters SET replayed_at = now()
WHERE id = ANY($1::bigint[]) AND replayed_at IS NULL
RETURNING id, letter_id
"""

AUDIT_SQL = """
INSERT INTO deadletter_replays (actor, letter_ids, choice) VALUES ($1, $2::bigint[], $3::jsonb)
"""

LIST_SQL = """
SELECT id, letter_id, reason, exception_class, exception_message, original_topic,
       original_partition, original_offset, consumer_group, failed_at, replayed_at,
       record_key, record_value, record_headers
FROM deadletters WHERE $1 OR replayed_at IS NULL
ORDER BY failed_at DESC, id DESC LIMIT $2
"""


def _args(letter: Letter, received_at: datetime) -> tuple[object, ...]:
    return (
        letter.letter_id,
        letter.dlq_partition,
        letter.dlq_offset,
        letter.reason,
        letter.exception_class,
        letter.exception_message,
        letter.original_topic,
        letter.original_partition,
        letter.original_offset,
        letter.consumer_group,
        letter.failed_at,
        letter.key,
        letter.value,
        orjson.dumps(letter.shown_headers).decode(),
        [name.encode("utf-8", "surrogatepass") for name, _ in letter.headers],
        [value for _, value in letter.headers],
        received_at,
    )


class PostgresLetterStore:
    def __init__(self, connection: Any) -> None:
        self._conn = connection

    async def kept(self, letter_ids: Sequence[UUID]) -> dict[UUID, KeptLetter]:
        if not letter_ids:
            return {}
        rows = await self._conn.fetch(KEPT_SQL, list(letter_ids))
        return {r["letter_id"]: KeptLetter(r["failed_at"], r["replayed_at"]) for r in rows}

    async def add(self, letters: Sequence[Letter], *, received_at: datetime) -> None:
        if letters:
            await self._conn.executemany(ADD_SQL, [_args(le, received_at) for le in letters])

    async def reopen(self, letters: Sequence[Letter], *, received_at: datetime) -> None:
        if letters:
            await self._conn.executemany(REOPEN_SQL, [_args(le, received_at) for le in letters])


def stored_headers(row: Any) -> tuple[Header, ...]:
    """The exact headers; for letters kept before they were stored exactly, the display map."""
    names, values = row["header_names"], row["header_values"]
    if names is not None and values is not None:
        return tuple(
            (bytes(n).decode("utf-8", "surrogatepass"), bytes(v))
            for n, v in zip(names, values, strict=True)
        )
    shown = row["record_headers"]
    mapping = orjson.loads(shown) if isinstance(shown, str | bytes) else shown
    return tuple((str(k), str(v).encode()) for k, v in (mapping or {}).items())


class PostgresReplayBook:
    def __init__(self, ledger: PostgresLedger, *, consumer: str) -> None:
        self._ledger = ledger
        self._consumer = consumer

    async def select(self, ids: Sequence[int] | None, reason: str | None) -> list[StoredLetter]:
        rows = await self._ledger.pool.fetch(SELECT_SQL, list(ids) if ids else None, reason)
        return [
            StoredLetter(
                id=r["id"],
                letter_id=r["letter_id"],
                reason=r["reason"],
                original_topic=r["original_topic"],
                key=None if r["record_key"] is None else bytes(r["record_key"]),
                value=None if r["record_value"] is None else bytes(r["record_value"]),
                headers=stored_headers(r),
                replayed_at=r["replayed_at"],
            )
            for r in rows
        ]

    async def take(self, ids: Sequence[int], *, audit: ReplayAudit) -> list[int]:
        if not ids:
            return []
        async with self._ledger.unit(self._consumer) as lu:
            rows = await lu.connection.fetch(TAKE_SQL, list(ids))
            await lu.release([r["letter_id"] for r in rows if r["letter_id"] is not None])
            taken = sorted(int(r["id"]) for r in rows)
            if taken:
                await lu.connection.execute(
                    AUDIT_SQL, audit.actor, taken, orjson.dumps(audit.choice).decode()
                )
        return [int(r["id"]) for r in rows]

    async def give_back(self, ids: Sequence[int]) -> None:
        if ids:
            await self._ledger.pool.execute(
                "UPDATE deadletters SET replayed_at = NULL WHERE id = ANY($1::bigint[])", list(ids)
            )


async def list_letters(
    conn: Any, *, include_replayed: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest letters (waiting ones only unless ``include_replayed``), as plain rows."""
    return [dict(r) for r in await conn.fetch(LIST_SQL, include_replayed, limit)]
