"""The breach scanner's PostgreSQL side: owed clocks, the outbox relay and the next moment.

`settle_due` reads the two partial indexes (open clocks by ``due_at``; open, unwarned clocks by
``warn_at``) with ``FOR UPDATE SKIP LOCKED``: rows a lifecycle batch holds are left for the next
round instead of waiting on them, and a second scanner (a stale leader) can never take the same
row. The transition and its outbox row commit together. `relay_outbox` keeps its rows locked
(``SKIP LOCKED`` again) while it publishes, and deletes them only after every acknowledgement
(that commit need not wait for the WAL flush: losing it only republishes the same event ids).
Every moment compared is the scanner's injected clock, passed in — never the database's ``now()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from services.common.publishing import OutRecord
from services.sla.adapters.rows import insert_outbox, timer_columns, timer_from_row
from services.sla.scanner import DueTimer, Publish, Settle

# One table per locking query, ordered by the partial index it reads: the plan stays "walk the
# index, stop at the limit" however many clocks are overdue (a join here let the planner pick a
# bitmap scan and an on-disk sort of the whole backlog).
BREACHES_SQL = f"""
SELECT {timer_columns()}, team FROM sla_timers
WHERE status = 'open' AND due_at < $1
  AND (recorded_at < due_at OR recorded_at <= $3)
ORDER BY due_at LIMIT $2
FOR UPDATE SKIP LOCKED
"""

WARNINGS_SQL = f"""
SELECT {timer_columns()}, team FROM sla_timers
WHERE status = 'open' AND warned_at IS NULL AND warn_at IS NOT NULL
  AND warn_at <= $1 AND due_at >= $1
ORDER BY warn_at LIMIT $2
FOR UPDATE SKIP LOCKED
"""

TEAMS_SQL = """
SELECT child_id, team FROM sla_children WHERE child_id = ANY($1::text[]) AND team IS NOT NULL
"""

RECORD_SQL = """
UPDATE sla_timers t
SET status = u.status, breached_at = u.breached_at, warned_at = u.warned_at, updated_at = now()
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[])
     AS u(timer_id, status, breached_at, warned_at)
WHERE t.timer_id = u.timer_id
"""

OUTBOX_SQL = """
SELECT event_id, topic, record_key, record_value, event_type FROM sla_outbox
WHERE available_at <= $1
ORDER BY available_at, event_id LIMIT $2
FOR UPDATE SKIP LOCKED
"""

NEXT_MOMENT_SQL = """
SELECT LEAST(
    (SELECT min(due_at) FROM sla_timers WHERE status = 'open' AND recorded_at < due_at),
    (SELECT min(recorded_at) + $1::interval FROM sla_timers
      WHERE status = 'open' AND recorded_at >= due_at),
    (SELECT min(warn_at) FROM sla_timers
      WHERE status = 'open' AND warned_at IS NULL AND warn_at IS NOT NULL),
    (SELECT min(available_at) FROM sla_outbox))
"""


class PostgresScanStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def settle_due(
        self, now: datetime, limit: int, settle: Settle, *, recorded_before: datetime
    ) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = [
                *await conn.fetch(BREACHES_SQL, now, limit, recorded_before),
                *await conn.fetch(WARNINGS_SQL, now, limit),
            ]
            if not rows:
                return 0
            teams = {
                r["child_id"]: r["team"]
                for r in await conn.fetch(TEAMS_SQL, list({r["child_id"] for r in rows}))
            }
            settled = settle(
                [DueTimer(timer_from_row(r), teams.get(r["child_id"], r["team"])) for r in rows]
            )
            if not settled:
                return 0
            timers = [s.timer for s in settled]
            await conn.execute(
                RECORD_SQL,
                [t.timer_id for t in timers],
                [t.status.value for t in timers],
                [t.breached_at for t in timers],
                [t.warned_at for t in timers],
            )
            await insert_outbox(conn, [s.entry for s in settled])
            return len(settled)

    async def relay_outbox(self, now: datetime, limit: int, publish: Publish) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(OUTBOX_SQL, now, limit)
            if not rows:
                return 0
            await publish(
                [
                    OutRecord(
                        r["topic"],
                        r["record_key"],
                        r["record_value"],
                        [("event_type", r["event_type"].encode())],
                    )
                    for r in rows
                ]
            )
            # losing this delete in a crash only republishes the same ids: no need to wait for
            # the WAL flush
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(
                "DELETE FROM sla_outbox WHERE event_id = ANY($1::uuid[])",
                [r["event_id"] for r in rows],
            )
            return len(rows)

    async def next_moment(self, grace: timedelta) -> datetime | None:
        moment: datetime | None = await self._pool.fetchval(NEXT_MOMENT_SQL, grace)
        return moment
