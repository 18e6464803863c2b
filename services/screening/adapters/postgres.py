"""Screening's PostgreSQL side: the child's history, the results table and the decisions.

Bound to the pipeline unit's connection (``unit.connection``), so everything here commits with
the batch's claims and outbox rows in one transaction; the ``processed_events`` ledger is the
pipeline's, not this adapter's.

History is read for a whole batch in one query, as of each contact's incident time and as notified
by its own notification time (so a replay gives the same answer as live processing, whatever was
processed first): earlier police DA notifications (the only contacts that count as incidents,
DOMAIN.md §3) for the same child or household from ``events`` (written by intake; read only) and
from screening's own results (which also cover contacts intake has published but not yet committed);
an open child protection plan (a ``conference.icpc_held`` with a plan and no ``cp_plan.ended`` for
that plan); and the team of an open case (the latest ``referral.accepted`` with no ``case.closed``
for that referral).


Results and decisions are each one function call (``migrations/003_pipeline_writes.sql``).
Results and decisions for the same contact take the same transaction-scoped advisory lock there,
so a decision that arrives while its contact is being triaged is never lost between the two
writers. The lock is held until the batch commits; nothing waits for Kafka meanwhile (the
pipeline relays the outbox after the commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson

from schemas.events.casework import ScreeningDecisionRecorded
from services.screening.domain.announcements import Triaged
from services.screening.domain.from_event import TriageHistory
from services.screening.domain.history import HistoryQuery

_INCIDENT_TYPES = "('police.da_notification')"
"""Repeat incidents are police DA notifications only, never other contacts (DOMAIN.md §3)."""
_RECEIVED_AT = "COALESCE((e.body #>> '{payload,contact_at}')::timestamptz, e.occurred_at)"
_INCIDENT_AT = (
    "COALESCE((e.body #>> '{payload,incident_at}')::timestamptz,"
    " (e.body #>> '{payload,contact_at}')::timestamptz)"
)

HISTORY_SQL = f"""
WITH q AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[],
                         $5::timestamptz[])
        AS q(event_id, child_id, family_id, moment, known_at)
)
SELECT q.event_id,
    ARRAY(
        SELECT DISTINCT h.at FROM (
            SELECT e.event_id, {_INCIDENT_AT} AS at FROM events e
             WHERE e.child_id = q.child_id AND e.event_type IN {_INCIDENT_TYPES}
               AND {_RECEIVED_AT} <= q.known_at
            UNION ALL
            SELECT e.event_id, {_INCIDENT_AT} FROM events e
             WHERE q.family_id IS NOT NULL AND e.family_id = q.family_id
               AND e.event_type IN {_INCIDENT_TYPES} AND {_RECEIVED_AT} <= q.known_at
            UNION ALL
            SELECT s.event_id, s.incident_at FROM screening_results s
             WHERE s.child_id = q.child_id AND s.event_type IN {_INCIDENT_TYPES}
               AND s.received_at <= q.known_at
            UNION ALL
            SELECT s.event_id, s.incident_at FROM screening_results s
             WHERE q.family_id IS NOT NULL AND s.family_id = q.family_id
               AND s.event_type IN {_INCIDENT_TYPES} AND s.received_at <= q.known_at
        ) h
        WHERE h.event_id <> q.event_id AND h.at < q.moment
          AND h.at >= q.moment - interval '1 year 1 day'
    ) AS incidents,
    EXISTS (
        SELECT 1 FROM events i
         WHERE i.child_id = q.child_id AND i.event_type = 'conference.icpc_held'
           AND i.occurred_at <= q.moment AND (i.body #>> '{{payload,plan}}')::boolean
           AND NOT EXISTS (
               SELECT 1 FROM events x
                WHERE x.child_id = q.child_id AND x.event_type = 'cp_plan.ended'
                  AND x.occurred_at <= q.moment
                  AND x.body #>> '{{payload,plan_id}}' = i.body #>> '{{payload,plan_id}}')
    ) AS open_cp_plan,
    (
        SELECT r.body #>> '{{payload,team}}' FROM events r
         WHERE r.child_id = q.child_id AND r.event_type = 'referral.accepted'
           AND r.occurred_at <= q.moment
           AND NOT EXISTS (
               SELECT 1 FROM events c
                WHERE c.child_id = q.child_id AND c.event_type = 'case.closed'
                  AND c.occurred_at <= q.moment
                  AND c.body #>> '{{payload,referral_id}}' = r.body #>> '{{payload,referral_id}}')
         ORDER BY r.occurred_at DESC LIMIT 1
    ) AS open_case_team
FROM q
"""

RECORD_RESULTS_SQL = (
    "SELECT screening_record_results($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
    " $14, $15, $16, $17, $18, $19)"
)
"""One round trip per batch: the function (migration 003) locks the contacts and inserts."""

RECORD_DECISIONS_SQL = "SELECT screening_record_decisions($1, $2, $3, $4, $5, $6, $7)"


class PostgresScreeningStore:
    """The store on one connection: the pipeline unit's, or a pool (it has the same methods)."""

    def __init__(self, connection: Any) -> None:
        self._conn = connection

    async def histories(self, queries: Sequence[HistoryQuery]) -> dict[UUID, TriageHistory]:
        if not queries:
            return {}
        rows = await self._conn.fetch(
            HISTORY_SQL,
            [q.event_id for q in queries],
            [q.child_id for q in queries],
            [q.family_id for q in queries],
            [q.incident_at for q in queries],
            [q.known_at for q in queries],
        )
        return {
            r["event_id"]: TriageHistory(
                incidents_at=tuple(sorted(r["incidents"])),
                open_cp_plan=r["open_cp_plan"],
                open_case_team=r["open_case_team"],
            )
            for r in rows
        }

    async def record_triage(self, triaged: Sequence[Triaged]) -> int:
        if not triaged:
            return 0
        inserted: int = await self._conn.fetchval(RECORD_RESULTS_SQL, *_result_columns(triaged))
        return inserted

    async def record_decisions(self, decisions: Sequence[ScreeningDecisionRecorded]) -> int:
        if not decisions:
            return 0
        latest: dict[UUID, ScreeningDecisionRecorded] = {}
        for d in decisions:  # one row per contact: ON CONFLICT may touch a row only once
            kept = latest.get(d.payload.contact_id)
            if kept is None or d.payload.decided_at >= kept.payload.decided_at:
                latest[d.payload.contact_id] = d
        rows = list(latest.values())
        closed: int = await self._conn.fetchval(
            RECORD_DECISIONS_SQL,
            [d.payload.contact_id for d in rows],
            [d.event_id for d in rows],
            [d.subject.child_id for d in rows],
            [d.payload.decided_at for d in rows],
            [d.payload.decision.value for d in rows],
            [d.payload.team for d in rows],
            [d.payload.worker for d in rows],
        )
        return closed


def _result_columns(triaged: Sequence[Triaged]) -> list[list[object]]:
    columns: list[list[object]] = [[] for _ in range(19)]
    for t in triaged:
        c, r = t.contact, t.result
        values: tuple[object, ...] = (
            c.event_id,
            c.event_type,
            c.subject.child_id,
            c.subject.family_id,
            c.payload.contact_id,
            t.incident_at,
            c.payload.contact_at,
            r.priority.value,
            r.dash_level.value if r.dash_level else None,
            orjson.dumps([reason.model_dump() for reason in r.reasons]).decode(),
            r.screening_due_at,
            r.route.kind.value,
            r.route.team,
            r.rules_version,
            r.marac_indicated,
            r.starts_operation_encompass,
            r.crisis,
            t.published.event_id,
            t.published.payload.triaged_at,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return columns
