"""What the ops service reads from PostgreSQL: SLA views, dead letters, lane refusals, workforce.

Read only. The SLA board comes from the SLA service's views (``sla_by_team`` for open, overdue,
breached and met-in-time counts per team and kind; ``sla_breaching_today`` for what falls due
today; ``sla_timers`` for the totals and how late breaches are recorded, ``SlaTotals``), dead
letters from the dead-letter service's ``deadletters`` table, the moment an event was recorded
from intake's ``events`` table (by primary key), lane refusals from intake's
``intake_lane_refusals`` audit table, and the workforce section from the workforce service's read
model (``adapters/workforce.py``) in one read-only repeatable-read snapshot, so its figures agree
with each other. A table or view that does not exist yet (its service's migrations have not run)
reads as nothing rather than failing the board; any other database failure is raised as the
port's `StoreUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.ops.adapters.workforce import workforce_facts
from services.ops.domain.boards import DeadLetter, ReasonCount, SlaCounts, SlaRow, SlaTotals
from services.ops.domain.lanes import AgencyRefusals, LaneRefusal
from services.ops.handlers import StoreUnavailableError

SLA_BY_TEAM_SQL = """
SELECT team, kind, open, overdue, breached_this_month, met_in_time_this_month FROM sla_by_team
UNION ALL
SELECT team, kind, open, overdue, breached_this_month, met_in_time_this_month
FROM workforce_sla_by_team
"""
SLA_DUE_TODAY_SQL = """
SELECT COALESCE(team, 'unallocated') AS team, kind, count(*) AS due_today
FROM sla_breaching_today GROUP BY 1, 2
"""
SLA_METRICS_SQL = """
SELECT kind,
       count(*) FILTER (WHERE status = 'open')     AS open,
       count(*) FILTER (WHERE status = 'breached') AS overdue,
       count(*) FILTER (WHERE breached_at IS NOT NULL) AS breached_ever
FROM sla_timers
WHERE status IN ('open', 'breached') OR breached_at IS NOT NULL
GROUP BY kind
"""
BREACH_WINDOW_SECONDS = 900.0
"""Breaches recorded this long ago or less count for ``SlaTotals.announce_delay``."""
SLA_ANNOUNCE_SQL = """
SELECT kind, 'announced' AS measure,
       max(greatest(0, extract(epoch FROM breached_at - greatest(due_at, recorded_at))))::float8
           AS seconds
FROM sla_timers
WHERE breached_at >= now() - make_interval(secs => $1) AND breached_at <= now()
GROUP BY kind
UNION ALL
SELECT kind, 'owed', extract(epoch FROM now() - min(greatest(due_at, recorded_at)))::float8
FROM sla_timers
WHERE status = 'open' AND due_at < now()
GROUP BY kind
"""
DLQ_COUNTS_SQL = """
SELECT reason, count(*) AS total, count(*) FILTER (WHERE replayed_at IS NULL) AS waiting
FROM deadletters GROUP BY reason
"""
DLQ_NEWEST_SQL = """
SELECT id, failed_at, reason, exception_class, left(exception_message, $2) AS exception_message,
       original_topic, original_partition, original_offset, consumer_group,
       replayed_at IS NOT NULL AS replayed
FROM deadletters ORDER BY id DESC LIMIT $1
"""
LANE_COUNTS_SQL = """
SELECT claimed_agency AS agency, count(*) AS total, max(refused_at) AS latest
FROM intake_lane_refusals GROUP BY claimed_agency
"""
LANE_NEWEST_SQL = """
SELECT id, refused_at, topic, event_type, claimed_agency, via, speaker, rules
FROM intake_lane_refusals ORDER BY id DESC LIMIT $1
"""
RECORDED_SQL = "SELECT event_id, recorded_at FROM events WHERE event_id = ANY($1::uuid[])"

MESSAGE_CHARS = 200


class PostgresOpsStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        try:
            rows: list[asyncpg.Record] = await self._pool.fetch(sql, *args)
        except asyncpg.UndefinedTableError:
            return []
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        return rows

    async def sla_rows(self) -> list[SlaRow]:
        by_team = await self._fetch(SLA_BY_TEAM_SQL)
        due_rows = await self._fetch(SLA_DUE_TODAY_SQL)
        due = {(r["team"], r["kind"]): int(r["due_today"]) for r in due_rows}
        rows = [
            SlaRow(
                team=r["team"],
                kind=r["kind"],
                counts=SlaCounts(
                    open=r["open"],
                    due_today=due.pop((r["team"], r["kind"]), 0),
                    overdue=r["overdue"],
                    breached_this_month=r["breached_this_month"],
                    met_in_time_this_month=r["met_in_time_this_month"],
                ),
            )
            for r in by_team
        ]
        rows.extend(
            SlaRow(team=team, kind=kind, counts=SlaCounts(due_today=n))
            for (team, kind), n in due.items()
        )
        return rows

    async def sla_totals(self) -> SlaTotals:
        rows = await self._fetch(SLA_METRICS_SQL)
        late = await self._fetch(SLA_ANNOUNCE_SQL, BREACH_WINDOW_SECONDS)
        return SlaTotals(
            open={r["kind"]: r["open"] for r in rows},
            overdue={r["kind"]: r["overdue"] for r in rows},
            breached={r["kind"]: r["breached_ever"] for r in rows},
            announce_delay={r["kind"]: r["seconds"] for r in late if r["measure"] == "announced"},
            unannounced={r["kind"]: max(0.0, r["seconds"]) for r in late if r["measure"] == "owed"},
        )

    async def deadletter_counts(self) -> list[ReasonCount]:
        return [
            ReasonCount(reason=r["reason"], total=r["total"], waiting=r["waiting"])
            for r in await self._fetch(DLQ_COUNTS_SQL)
        ]

    async def newest_deadletters(self, limit: int) -> list[DeadLetter]:
        return [
            DeadLetter(**dict(r)) for r in await self._fetch(DLQ_NEWEST_SQL, limit, MESSAGE_CHARS)
        ]

    async def lane_refusal_counts(self) -> list[AgencyRefusals]:
        return [AgencyRefusals(**dict(r)) for r in await self._fetch(LANE_COUNTS_SQL)]

    async def newest_lane_refusals(self, limit: int) -> list[LaneRefusal]:
        return [LaneRefusal(**dict(r)) for r in await self._fetch(LANE_NEWEST_SQL, limit)]

    async def workforce_facts(self, now: datetime, alerts: int) -> Mapping[str, Any] | None:
        try:
            async with (
                self._pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                return await workforce_facts(conn, now=now, alerts=alerts)
        except asyncpg.UndefinedTableError:
            return None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    async def recorded_at(self, event_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        if not event_ids:
            return {}
        rows = await self._fetch(RECORDED_SQL, list(event_ids))
        return {r["event_id"]: r["recorded_at"] for r in rows}
