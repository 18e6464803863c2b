"""Writing the night's record through asyncpg, on the pipeline unit's connection.

Bound to the batch's one transaction, so the rows commit with the batch's claims and outbox rows
(or not at all). Each kind of row is one ``INSERT … SELECT FROM unnest(arrays)`` with
``ON CONFLICT DO NOTHING`` on the event id, so a concurrent replica that recorded the same event
first is not an error. ``pg_notify('ooh_record', …)`` inside the transaction reaches every
listening watch view when (and only if) the batch commits. When a crisis item does not say when
its trigger happened, the trigger's ``occurred_at`` is read from intake's ``events`` (read only).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.events.outofhours import OohHandoverAcknowledged, OohHandoverPublished
from services.outofhours.domain.record import (
    URGENCY_RANK,
    CrisisStreamBatch,
    ShiftedAction,
    ShiftedCrisis,
)

NOTIFY_CHANNEL = "ooh_record"

INSERT_ACTIONS_SQL = """
INSERT INTO ooh_actions (event_id, action_id, child_id, action_at, kind, urgency, urgency_rank,
                         summary, decision_reason, worker, causation_id, shift_start, shift_end)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[],
                     $6::text[], $7::smallint[], $8::text[], $9::text[], $10::text[], $11::uuid[],
                     $12::timestamptz[], $13::timestamptz[])
ON CONFLICT (event_id) DO NOTHING
"""

INSERT_ITEMS_SQL = """
INSERT INTO ooh_crisis_items (event_id, crisis_id, child_id, reason, urgency, urgency_rank,
                              explanation, trigger_event_id, trigger_event_type, happened_at,
                              raised_at, source_system, shift_start, shift_end)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::smallint[],
                     $7::text[], $8::uuid[], $9::text[], $10::timestamptz[], $11::timestamptz[],
                     $12::text[], $13::timestamptz[], $14::timestamptz[])
ON CONFLICT (event_id) DO NOTHING
"""

INSERT_HANDOVERS_SQL = """
INSERT INTO ooh_handovers (event_id, handover_id, child_id, shift_start, shift_end, due_by, rank,
                           urgency, team, published_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                     $6::timestamptz[], $7::int[], $8::text[], $9::text[], $10::timestamptz[])
ON CONFLICT (event_id) DO NOTHING
"""

INSERT_ACKS_SQL = """
INSERT INTO ooh_handover_acks (event_id, handover_id, child_id, acknowledged_at, team, worker)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[],
                     $6::text[])
ON CONFLICT (event_id) DO NOTHING
"""


def _columns(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    columns: list[list[object]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


def _action_row(a: ShiftedAction) -> tuple[object, ...]:
    e, p = a.event, a.event.payload
    return (
        e.event_id,
        p.action_id,
        e.subject.child_id,
        p.action_at,
        p.kind.value,
        p.urgency.value,
        URGENCY_RANK[p.urgency],
        p.summary,
        p.decision_reason,
        p.worker,
        e.causation_id,
        a.shift.starts_at,
        a.shift.ends_at,
    )


def _item_row(item: ShiftedCrisis) -> tuple[object, ...]:
    e, p = item.event, item.event.payload
    return (
        e.event_id,
        p.crisis_id,
        e.subject.child_id,
        p.reason.value,
        p.urgency.value,
        URGENCY_RANK[p.urgency],
        p.explanation,
        p.trigger_event_id,
        p.trigger_event_type,
        item.happened_at,
        p.raised_at,
        e.source.system,
        item.shift.starts_at,
        item.shift.ends_at,
    )


def _inserted(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


def _handover_row(h: OohHandoverPublished) -> tuple[object, ...]:
    p = h.payload
    return (
        h.event_id,
        p.handover_id,
        h.subject.child_id,
        p.shift_started_at,
        p.shift_ended_at,
        p.due_by,
        p.rank,
        p.urgency.value,
        p.team,
        h.occurred_at,
    )


def _ack_row(a: OohHandoverAcknowledged) -> tuple[object, ...]:
    p = a.payload
    return (a.event_id, p.handover_id, a.subject.child_id, p.acknowledged_at, p.team, p.worker)


class PostgresRecordStore:
    """The night's record on one connection (the batch's transaction)."""

    def __init__(self, connection: Any) -> None:
        self._conn = connection

    async def trigger_moments(self, event_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        """When each trigger happened, from intake's ``events`` (read only); unknown: left out."""
        rows = await self._conn.fetch(
            "SELECT event_id, occurred_at FROM events WHERE event_id = ANY($1::uuid[])",
            list(event_ids),
        )
        return {r["event_id"]: r["occurred_at"] for r in rows}

    async def record_actions(self, actions: Sequence[ShiftedAction]) -> int:
        if not actions:
            return 0
        added = _inserted(
            await self._conn.execute(
                INSERT_ACTIONS_SQL, *_columns([_action_row(a) for a in actions], 13)
            )
        )
        if added:
            await self._conn.execute("SELECT pg_notify($1, 'action')", NOTIFY_CHANNEL)
        return added

    async def record_crisis_stream(self, batch: CrisisStreamBatch) -> int:
        added = 0
        for sql, rows, width in (
            (INSERT_ITEMS_SQL, [_item_row(i) for i in batch.items], 14),
            (INSERT_HANDOVERS_SQL, [_handover_row(h) for h in batch.handovers], 10),
            (INSERT_ACKS_SQL, [_ack_row(a) for a in batch.acknowledgements], 6),
        ):
            if rows:
                added += _inserted(await self._conn.execute(sql, *_columns(rows, width)))
        if added:
            await self._conn.execute("SELECT pg_notify($1, 'crisis')", NOTIFY_CHANNEL)
        return added
