"""``sla_timers`` and ``sla_outbox`` rows: the conversions and the writes both SLA adapters share.

A timer row maps one to one onto the domain's `Timer` (asyncpg returns aware UTC datetimes; the
domain works in London time where it matters). ``sla_outbox`` holds *scheduled* announcements
(a breach the lifecycle handler recorded, due out no earlier than its moment); they are written
with one ``unnest`` statement, ``ON CONFLICT (event_id) DO NOTHING`` so the same announcement is
never scheduled twice, and the scanner moves them into the pipeline's outbox at their moment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from services.sla.domain.announcements import OutboxEntry
from services.sla.domain.timers import Timer, TimerStatus

TIMER_COLUMNS = (
    "timer_id",
    "child_id",
    "kind",
    "policy",
    "subject_ref",
    "started_at",
    "due_at",
    "warn_at",
    "status",
    "warned_at",
    "met_at",
    "breached_at",
    "cancelled_at",
)


def timer_columns(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + c for c in TIMER_COLUMNS)


def timer_from_row(row: Mapping[str, Any]) -> Timer:
    """A `Timer` from its row, without revalidation: the table's CHECK constraints hold the
    model's invariants (the scanner reads thousands of rows a second)."""
    return Timer.model_construct(
        timer_id=row["timer_id"],
        child_id=row["child_id"],
        kind=row["kind"],
        policy=row["policy"],
        subject_ref=row["subject_ref"],
        started_at=row["started_at"],
        due_at=row["due_at"],
        warn_at=row["warn_at"],
        status=TimerStatus(row["status"]),
        warned_at=row["warned_at"],
        met_at=row["met_at"],
        breached_at=row["breached_at"],
        cancelled_at=row["cancelled_at"],
    )


SCHEDULE_SQL = """
INSERT INTO sla_outbox (event_id, timer_id, event_type, topic, record_key, record_value,
                        available_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bytea[], $6::bytea[],
                     $7::timestamptz[])
ON CONFLICT (event_id) DO NOTHING
"""


async def schedule(conn: asyncpg.Connection, entries: Sequence[OutboxEntry]) -> None:
    if not entries:
        return
    await conn.execute(
        SCHEDULE_SQL,
        [e.event_id for e in entries],
        [e.timer_id for e in entries],
        [e.event_type for e in entries],
        [e.record.topic for e in entries],
        [e.record.key for e in entries],
        [e.record.value for e in entries],
        [e.available_at for e in entries],
    )
