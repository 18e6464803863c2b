"""Reading the night's record back: what the watch view lists and what the handover is built from.

A night is found by its shift's start (every writer computes the shift the same way). Items come
from the ``ooh_watch_items`` view (each with its first answering action as its acknowledgement);
actions carry the crisis id of the item they answer, when they answer one. ``latest_active_night``
finds the most recent night with anything recorded (the handover's default when no night is named);
``handover_status`` says which handover parts were published and which the day team acknowledged.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from schemas.codes import Urgency
from schemas.events.outofhours import OohActionKind
from schemas.events.triage import CrisisReason
from services.outofhours.domain.handover import PartStatus
from services.outofhours.domain.record import ActionEntry, CrisisItem, NightRecord
from services.outofhours.domain.shifts import Shift

ITEMS_SQL = """
SELECT event_id, crisis_id, child_id, reason, urgency, explanation, trigger_event_id,
       trigger_event_type, happened_at, raised_at, acknowledged_at, acknowledged_by
FROM ooh_watch_items WHERE shift_start = $1
ORDER BY urgency_rank, happened_at DESC, event_id
"""

ACTIONS_SQL = """
SELECT a.event_id, a.action_id, a.child_id, a.action_at, a.kind, a.urgency, a.summary,
       a.decision_reason, a.worker, answered.crisis_id
FROM ooh_actions a
LEFT JOIN LATERAL (
    SELECT i.crisis_id FROM ooh_crisis_items i
     WHERE a.causation_id IS NOT NULL
       AND (i.event_id = a.causation_id OR i.trigger_event_id = a.causation_id)
     ORDER BY i.seq LIMIT 1
) answered ON true
WHERE a.shift_start = $1
ORDER BY a.urgency_rank, a.action_at, a.event_id
"""

LATEST_ACTIVE_SQL = """
SELECT GREATEST(
    (SELECT max(shift_start) FROM ooh_crisis_items WHERE shift_start <= $1),
    (SELECT max(shift_start) FROM ooh_actions WHERE shift_start <= $1))
"""

STATUS_SQL = """
SELECT h.child_id, max(h.published_at) AS published_at, min(h.rank) AS rank,
       array_agg(h.event_id) AS event_ids,
       (SELECT min(k.acknowledged_at) FROM ooh_handover_acks k
         WHERE k.handover_id = $1 AND k.child_id = h.child_id) AS acknowledged_at
FROM ooh_handovers h WHERE h.handover_id = $1
GROUP BY h.child_id
"""


def _item(r: asyncpg.Record) -> CrisisItem:
    return CrisisItem(
        event_id=r["event_id"],
        crisis_id=r["crisis_id"],
        child_id=r["child_id"],
        reason=CrisisReason(r["reason"]),
        urgency=Urgency(r["urgency"]),
        explanation=r["explanation"],
        trigger_event_id=r["trigger_event_id"],
        trigger_event_type=r["trigger_event_type"],
        happened_at=r["happened_at"],
        raised_at=r["raised_at"],
        acknowledged_at=r["acknowledged_at"],
        acknowledged_by=r["acknowledged_by"],
    )


def _action(r: asyncpg.Record) -> ActionEntry:
    return ActionEntry(
        event_id=r["event_id"],
        action_id=r["action_id"],
        child_id=r["child_id"],
        action_at=r["action_at"],
        kind=OohActionKind(r["kind"]),
        urgency=Urgency(r["urgency"]),
        summary=r["summary"],
        decision_reason=r["decision_reason"],
        worker=r["worker"],
        crisis_id=r["crisis_id"],
    )


class PostgresNightReader:
    def __init__(self, db: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = db

    async def items(self, shift: Shift) -> list[CrisisItem]:
        return [_item(r) for r in await self._db.fetch(ITEMS_SQL, shift.starts_at)]

    async def night(self, shift: Shift) -> NightRecord:
        items = await self.items(shift)
        actions = [_action(r) for r in await self._db.fetch(ACTIONS_SQL, shift.starts_at)]
        return NightRecord(shift=shift, items=tuple(items), actions=tuple(actions))

    async def latest_active_night(self, until: datetime) -> datetime | None:
        latest: datetime | None = await self._db.fetchval(LATEST_ACTIVE_SQL, until)
        return latest

    async def handover_status(self, handover_id: UUID) -> dict[str, PartStatus]:
        rows = await self._db.fetch(STATUS_SQL, handover_id)
        return {
            r["child_id"]: PartStatus(
                child_id=r["child_id"],
                rank=r["rank"],
                published_at=r["published_at"],
                event_ids=frozenset(r["event_ids"]),
                acknowledged_at=r["acknowledged_at"],
            )
            for r in rows
        }
