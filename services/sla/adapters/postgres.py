"""The lifecycle handler's store on PostgreSQL, bound to the batch's transaction.

`load` inserts any child the service has not seen into ``sla_children`` and locks the batch's
children rows (sorted, ``FOR UPDATE``), so two subscriptions or replicas never plan one child at
the same time; then reads every timer of those children (also ``FOR UPDATE``: the breach scanner
skips rows a batch holds and vice versa, so a late meet and a breach can never both be announced)
with the team each records and the event that closed it, their team histories (``sla_child_teams``:
every team-naming event, from which each timer's team as of its start is computed) and their early
events. `save` writes everything with one ``unnest`` statement per table; a timer's ``team`` is
rewritten whenever it changes (a team event read late). The connection is the pipeline's
(``unit.connection``): the batch's claims, these writes and its outbox rows commit together, and
the locks end with that commit — before the relay sends anything to Kafka.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import orjson

from services.sla.adapters.rows import schedule, timer_columns, timer_from_row
from services.sla.domain.batch import BatchWrite, ChildRecord, TimerWrite
from services.sla.domain.clocks import EarlyEvent, TeamMark
from services.sla.domain.timers import Timer

LOCK_CHILDREN_SQL = """
INSERT INTO sla_children (child_id)
SELECT c FROM unnest($1::text[]) AS c ORDER BY c
ON CONFLICT (child_id) DO NOTHING
"""

CHILDREN_SQL = """
SELECT child_id, team_event_id FROM sla_children
WHERE child_id = ANY($1::text[]) ORDER BY child_id FOR UPDATE
"""

TIMERS_SQL = f"""
SELECT {timer_columns()}, team, closed_event_id FROM sla_timers
WHERE child_id = ANY($1::text[]) ORDER BY timer_id FOR UPDATE
"""

TEAM_HISTORY_SQL = """
SELECT child_id, as_of, event_id, team FROM sla_child_teams WHERE child_id = ANY($1::text[])
"""

INSERT_TEAM_MARKS_SQL = """
INSERT INTO sla_child_teams (child_id, as_of, event_id, team)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::uuid[], $4::text[])
ON CONFLICT (child_id, event_id) DO NOTHING
"""

EARLY_SQL = """
SELECT child_id, event_id, event_type, occurred_at, body::text AS body FROM sla_early_events
WHERE child_id = ANY($1::text[])
"""

UPSERT_TIMERS_SQL = """
INSERT INTO sla_timers (timer_id, child_id, kind, policy, subject_ref, started_at, due_at, warn_at,
                        status, warned_at, met_at, breached_at, cancelled_at, team,
                        started_event_id, closed_event_id, recorded_at)
SELECT u.*, $17::timestamptz
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
            $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::text[],
            $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
            $13::timestamptz[], $14::text[], $15::uuid[], $16::uuid[]) AS u
ON CONFLICT (timer_id) DO UPDATE SET
    status = EXCLUDED.status,
    warned_at = EXCLUDED.warned_at,
    met_at = EXCLUDED.met_at,
    breached_at = EXCLUDED.breached_at,
    cancelled_at = EXCLUDED.cancelled_at,
    team = EXCLUDED.team,
    closed_event_id = COALESCE(EXCLUDED.closed_event_id, sla_timers.closed_event_id),
    updated_at = now()
"""

TEAMS_SQL = """
UPDATE sla_children c SET team = u.team, team_as_of = u.as_of, team_event_id = u.event_id
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::uuid[]) AS u(child_id, team, as_of,
                                                                        event_id)
WHERE c.child_id = u.child_id
"""

INSERT_EARLY_SQL = """
INSERT INTO sla_early_events (child_id, event_id, event_type, occurred_at, body, recorded_at)
SELECT u.child_id, u.event_id, u.event_type, u.occurred_at, u.body::jsonb, $6::timestamptz
FROM unnest($1::text[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[])
     AS u(child_id, event_id, event_type, occurred_at, body)
ON CONFLICT (child_id, event_id) DO NOTHING
"""


async def _upsert_timers(
    conn: asyncpg.Connection, writes: Sequence[TimerWrite], recorded_at: datetime
) -> None:
    if not writes:
        return
    timers = [w.timer for w in writes]
    await conn.execute(
        UPSERT_TIMERS_SQL,
        [t.timer_id for t in timers],
        [t.child_id for t in timers],
        [t.kind for t in timers],
        [t.policy for t in timers],
        [t.subject_ref for t in timers],
        [t.started_at for t in timers],
        [t.due_at for t in timers],
        [t.warn_at for t in timers],
        [t.status.value for t in timers],
        [t.warned_at for t in timers],
        [t.met_at for t in timers],
        [t.breached_at for t in timers],
        [t.cancelled_at for t in timers],
        [w.team for w in writes],
        [w.started_event_id for w in writes],
        [w.closed_event_id for w in writes],
        recorded_at,
    )


class PostgresTimerStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def load(self, child_ids: Sequence[str]) -> dict[str, ChildRecord]:
        children = sorted(set(child_ids))
        conn = self._conn
        await conn.execute(LOCK_CHILDREN_SQL, children)
        rows = await conn.fetch(CHILDREN_SQL, children)
        timers: dict[str, list[Timer]] = {c: [] for c in children}
        timer_teams: dict[str, dict[UUID, str | None]] = {c: {} for c in children}
        closed_by: dict[str, dict[UUID, UUID]] = {c: {} for c in children}
        for row in await conn.fetch(TIMERS_SQL, children):
            child = row["child_id"]
            timers[child].append(timer_from_row(row))
            timer_teams[child][row["timer_id"]] = row["team"]
            if row["closed_event_id"] is not None:
                closed_by[child][row["timer_id"]] = row["closed_event_id"]
        teams: dict[str, list[TeamMark]] = {c: [] for c in children}
        for row in await conn.fetch(TEAM_HISTORY_SQL, children):
            teams[row["child_id"]].append(
                TeamMark(as_of=row["as_of"], event_id=row["event_id"], team=row["team"])
            )
        early: dict[str, list[EarlyEvent]] = {c: [] for c in children}
        for row in await conn.fetch(EARLY_SQL, children):
            early[row["child_id"]].append(
                EarlyEvent(
                    event_id=row["event_id"],
                    event_type=row["event_type"],
                    occurred_at=row["occurred_at"],
                    body=orjson.loads(row["body"]),
                )
            )
        return {
            r["child_id"]: ChildRecord(
                timers=tuple(timers[r["child_id"]]),
                timer_teams=timer_teams[r["child_id"]],
                closed_by=closed_by[r["child_id"]],
                teams=tuple(teams[r["child_id"]]),
                team_event_id=r["team_event_id"],
                early=tuple(early[r["child_id"]]),
            )
            for r in rows
        }

    async def save(self, write: BatchWrite) -> None:
        conn = self._conn
        await _upsert_timers(conn, write.timers, write.recorded_at)
        if write.team_marks:
            await conn.execute(
                INSERT_TEAM_MARKS_SQL,
                [child for child, _ in write.team_marks],
                [m.as_of for _, m in write.team_marks],
                [m.event_id for _, m in write.team_marks],
                [m.team for _, m in write.team_marks],
            )
        if write.teams:
            await conn.execute(
                TEAMS_SQL,
                [t.child_id for t in write.teams],
                [t.team for t in write.teams],
                [t.as_of for t in write.teams],
                [t.event_id for t in write.teams],
            )
        if write.early:
            await conn.execute(
                INSERT_EARLY_SQL,
                [child for child, _ in write.early],
                [e.event_id for _, e in write.early],
                [e.event_type for _, e in write.early],
                [e.occurred_at for _, e in write.early],
                [orjson.dumps(e.body).decode() for _, e in write.early],
                write.recorded_at,
            )
        await schedule(conn, write.scheduled)
