"""The lag history in PostgreSQL (``ops_lag_history``, ``migrations/002_lag_history.sql``).

`record` writes one poll round's samples with one INSERT (arrays unnested server-side), keeping a
row two replicas sampled at the very same moment once. `buckets` reads a time range aggregated
into buckets of the width asked for (``date_bin``: each bucket's largest lag and time lag, mean
throughput, per group and topic), so a 72-hour chart costs a few hundred rows, not a hundred
thousand. `prune` deletes at most ``limit`` rows older than a moment and says how many it
deleted; its caller repeats it in bounded chunks, so no statement holds locks for long. Any
database failure is raised as the port's `StoreUnavailableError` (with the driver's error as its
cause, so the background loop knows it for an infrastructure failure).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from services.ops.domain.history import HistoryBucket, HistorySample
from services.ops.handlers import StoreUnavailableError

RECORD_SQL = """
INSERT INTO ops_lag_history
    (sampled_at, consumer_group, topic, lag, lag_seconds, records_per_second)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[],
                     $5::double precision[], $6::double precision[])
ON CONFLICT (sampled_at, consumer_group, topic) DO NOTHING
"""
BUCKETS_SQL = """
SELECT date_bin($3::interval, sampled_at, $4::timestamptz) AS at, consumer_group, topic,
       max(lag) AS lag, max(lag_seconds) AS lag_seconds,
       avg(records_per_second) AS records_per_second
FROM ops_lag_history
WHERE sampled_at >= $1 AND sampled_at <= $2
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""
PRUNE_SQL = """
DELETE FROM ops_lag_history WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM ops_lag_history WHERE sampled_at < $1 LIMIT $2))
"""
EPOCH = "2000-01-03T00:00:00+00:00"
"""Where buckets are counted from (a Monday midnight UTC): buckets fall on whole minutes/hours."""


class PostgresLagHistory:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, samples: Sequence[HistorySample]) -> None:
        if not samples:
            return
        try:
            await self._pool.execute(
                RECORD_SQL,
                [s.at for s in samples],
                [s.consumer_group for s in samples],
                [s.topic for s in samples],
                [s.lag for s in samples],
                [s.lag_seconds for s in samples],
                [s.records_per_second for s in samples],
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    async def buckets(
        self, since: datetime, until: datetime, *, bucket_seconds: int
    ) -> list[HistoryBucket]:
        try:
            rows = await self._pool.fetch(
                BUCKETS_SQL,
                since,
                until,
                timedelta(seconds=bucket_seconds),
                datetime.fromisoformat(EPOCH),
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        return [HistoryBucket(**dict(r)) for r in rows]

    async def prune(self, before: datetime, *, limit: int) -> int:
        try:
            status: str = await self._pool.execute(PRUNE_SQL, before, limit)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        return int(status.rsplit(" ", 1)[-1])  # "DELETE n"
