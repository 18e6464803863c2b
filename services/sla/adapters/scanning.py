"""The breach scanner's PostgreSQL side: owed clocks, scheduled announcements, early events.

`settle_due` reads the two partial indexes (open clocks by ``due_at``; open, unwarned clocks by
``warn_at``) with ``FOR UPDATE SKIP LOCKED``: rows a lifecycle batch holds are left for the next
round instead of waiting on them, and a second scanner (a stale leader) can never take the same
row. The transition and its announcement's row in the pipeline's ``outbox`` commit together (a
ledger unit, ``services/common/ledger.py``); the committed rows are returned for the scanner to
relay *after* the commit, so no row lock is held while Kafka answers. `release_scheduled` moves
the scheduled announcements whose moment has come out of ``sla_outbox`` and into the ``outbox``
in one transaction: each enters the outbox exactly once, and the relay (or, if the process dies
first, the relay sweeper of any replica) sends it. `forget_early_events` applies the early
events' retention in bounded chunks. Every moment compared is the scanner's injected clock,
passed in — never the database's ``now()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from services.common.ledger import PostgresLedger
from services.common.outbox import OutboxRow
from services.common.publishing import OutRecord
from services.sla.adapters.rows import timer_columns, timer_from_row
from services.sla.domain.announcements import OutboxEntry
from services.sla.domain.breaches import DueTimer, Settle

SCANNER = "sla.scanner"
"""The ``outbox.producer`` of the scanner's announcements."""

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

RELEASE_SQL = """
DELETE FROM sla_outbox WHERE event_id IN (
    SELECT event_id FROM sla_outbox WHERE available_at <= $1
    ORDER BY available_at, event_id LIMIT $2
    FOR UPDATE SKIP LOCKED)
RETURNING event_id, timer_id, topic, record_key, record_value, event_type, available_at
"""

FORGET_EARLY_SQL = """
DELETE FROM sla_early_events e
USING (SELECT child_id, event_id FROM sla_early_events WHERE recorded_at < $1 LIMIT $2) old
WHERE e.child_id = old.child_id AND e.event_id = old.event_id
"""

NEXT_MOMENT_SQL = """
SELECT LEAST(
    (SELECT min(due_at) FROM sla_timers WHERE status = 'open' AND recorded_at < due_at),
    (SELECT min(recorded_at) + $1::interval FROM sla_timers
      WHERE status = 'open' AND recorded_at >= due_at),
    (SELECT min(warn_at) FROM sla_timers
      WHERE status = 'open' AND warned_at IS NULL AND warn_at IS NOT NULL),
    (SELECT min(available_at) FROM sla_outbox))  -- scheduled announcements
"""


def _outbox_row(entry: OutboxEntry) -> OutboxRow:
    return OutboxRow.of(entry.record, event_id=entry.event_id, event_type=entry.event_type)


class PostgresScanStore:
    def __init__(self, ledger: PostgresLedger) -> None:
        self._ledger = ledger

    async def settle_due(
        self, now: datetime, limit: int, settle: Settle, *, recorded_before: datetime
    ) -> Sequence[OutboxRow]:
        async with self._ledger.unit(SCANNER) as unit:
            conn = unit.connection
            rows = [
                *await conn.fetch(BREACHES_SQL, now, limit, recorded_before),
                *await conn.fetch(WARNINGS_SQL, now, limit),
            ]
            if not rows:
                return []
            teams = {
                r["child_id"]: r["team"]
                for r in await conn.fetch(TEAMS_SQL, list({r["child_id"] for r in rows}))
            }
            settled = settle(
                [DueTimer(timer_from_row(r), teams.get(r["child_id"], r["team"])) for r in rows]
            )
            if not settled:
                return []
            timers = [s.timer for s in settled]
            await conn.execute(
                RECORD_SQL,
                [t.timer_id for t in timers],
                [t.status.value for t in timers],
                [t.breached_at for t in timers],
                [t.warned_at for t in timers],
            )
            return await unit.enqueue([_outbox_row(s.entry) for s in settled])

    async def release_scheduled(self, now: datetime, limit: int) -> Sequence[OutboxRow]:
        async with self._ledger.unit(SCANNER) as unit:
            rows = await unit.connection.fetch(RELEASE_SQL, now, limit)
            entries = [
                OutboxEntry(
                    event_id=r["event_id"],
                    timer_id=r["timer_id"],
                    event_type=r["event_type"],
                    record=OutRecord(
                        r["topic"],
                        r["record_key"],
                        r["record_value"],
                        [("event_type", r["event_type"].encode())],
                    ),
                    available_at=r["available_at"],
                )
                for r in rows
            ]
            entries.sort(key=lambda e: (e.available_at, e.event_id))
            return await unit.enqueue([_outbox_row(e) for e in entries])

    async def next_moment(self, grace: timedelta) -> datetime | None:
        moment: datetime | None = await self._ledger.pool.fetchval(NEXT_MOMENT_SQL, grace)
        return moment

    async def forget_early_events(self, recorded_before: datetime, limit: int) -> int:
        status: str = await self._ledger.pool.execute(FORGET_EARLY_SQL, recorded_before, limit)
        return int(status.rsplit(" ", 1)[-1])
