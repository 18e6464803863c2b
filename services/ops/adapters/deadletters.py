"""The dead-letter console over PostgreSQL and Kafka: one letter read, and the dead-letter
service's own replay.

The one place the ops service reaches into the dead-letter service (the import-linter contract
ignores exactly these imports, as it does the workforce read model): ``preview`` and ``replay``
are ``services.deadletter.bootstrap``'s — the same choice, audit (``deadletter_replays``) and
byte-for-byte re-send ``frontdoor dlq replay`` runs, so there is one replay implementation — and
the exact headers are read with that service's ``stored_headers``. Its refusals are translated
into the console's (``domain.deadletters``) so nothing above this module names the other service.
"""

from __future__ import annotations

import asyncpg

from services.deadletter.adapters.postgres import stored_headers
from services.deadletter.bootstrap import (
    ReplayChoice,
    ReplayCountChangedError,
    ReplayRefusedError,
    preview,
    replay,
)
from services.ops.domain import deadletters as console
from services.ops.domain.deadletters import LetterRecord, ReplayFilter, ReplayRequest

LETTER_SQL = """
SELECT id, letter_id, failed_at, replayed_at, reason, exception_class, exception_message,
       original_topic, original_partition, original_offset, consumer_group,
       record_key, record_value, record_headers, header_names, header_values
FROM deadletters WHERE id = $1
"""


def _choice(request: ReplayFilter) -> ReplayChoice:
    return ReplayChoice(
        ids=request.ids,
        reason=request.reason,
        event_type=request.event_type,
        agency=request.agency,
        raw=request.raw,
    )


class PostgresDeadLetterConsole:
    def __init__(self, pool: asyncpg.Pool, bootstrap_servers: str) -> None:
        self._pool = pool
        self._bootstrap = bootstrap_servers

    async def letter(self, letter_id: int) -> LetterRecord | None:
        row = await self._pool.fetchrow(LETTER_SQL, letter_id)
        if row is None:
            return None
        return LetterRecord(
            id=row["id"],
            letter_id=None if row["letter_id"] is None else str(row["letter_id"]),
            failed_at=row["failed_at"],
            replayed_at=row["replayed_at"],
            reason=row["reason"],
            exception_class=row["exception_class"],
            exception_message=row["exception_message"],
            original_topic=row["original_topic"],
            original_partition=row["original_partition"],
            original_offset=row["original_offset"],
            consumer_group=row["consumer_group"],
            key=None if row["record_key"] is None else bytes(row["record_key"]),
            value=None if row["record_value"] is None else bytes(row["record_value"]),
            headers=stored_headers(row),
        )

    async def preview(self, choice: ReplayFilter) -> list[int]:
        try:
            return [letter.id for letter in await preview(self._pool, _choice(choice))]
        except ReplayRefusedError as exc:
            raise console.ReplayRefusedError(str(exc)) from None

    async def replay(self, request: ReplayRequest, *, actor: str) -> int:
        try:
            return await replay(
                self._pool,
                self._bootstrap,
                _choice(request),
                actor=actor,
                expected=request.confirm,
            )
        except ReplayCountChangedError as exc:
            raise console.ReplayCountChangedError(
                str(exc), expected=exc.expected, found=exc.found
            ) from None
        except ReplayRefusedError as exc:
            raise console.ReplayRefusedError(str(exc)) from None
