"""Retention of the pipeline's own tables: ``processed_events`` and relayed ``outbox`` rows.

Both tables grow with every event; neither may forget anything that can still be needed. A claim
in ``processed_events`` is needed for as long as a copy of its event can be delivered again: from
Kafka (topic retention — ``deploy/`` sets 7 days) or from the outbox through a catch-up (outbox
retention). So the rule, checked at start-up, is ``processed ≥ outbox ≥ broker retention``; the
defaults keep 35 days of both, five times the broker's week. Un-relayed outbox rows are never
deleted, whatever their age. Intake's own repeat check reads ``events``, which is history and kept
forever, so a partner re-sending a year-old event is still recognised.

Any worker may run the sweep; a PostgreSQL advisory lock lets one at a time do it, hourly, in
chunks so that no statement holds locks for long.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

import structlog

from services.common.periodic import every

log = structlog.get_logger(__name__)

RETENTION_LOCK_ID = 0x6672_6F6E_7472  # "frontr"
BROKER_RETENTION_DAYS = 7  # deploy/: retention.ms of every frontdoor topic


@dataclass(frozen=True)
class Retention:
    processed_days: float = 35.0
    outbox_days: float = 35.0
    chunk: int = 10_000

    @classmethod
    def from_env(cls) -> Retention:
        kept = cls(
            processed_days=float(os.environ.get("FRONTDOOR_RETENTION_PROCESSED_DAYS", "35")),
            outbox_days=float(os.environ.get("FRONTDOOR_RETENTION_OUTBOX_DAYS", "35")),
        )
        kept.check()
        return kept

    def check(self) -> None:
        if self.outbox_days < BROKER_RETENTION_DAYS:
            raise ValueError(
                f"FRONTDOOR_RETENTION_OUTBOX_DAYS={self.outbox_days:g} is shorter than the "
                f"broker's {BROKER_RETENTION_DAYS} days: a lost record could not be caught up"
            )
        if self.processed_days < self.outbox_days:
            raise ValueError(
                f"FRONTDOOR_RETENTION_PROCESSED_DAYS={self.processed_days:g} is shorter than the "
                f"outbox's {self.outbox_days:g} days: a catch-up would apply an event twice"
            )


async def sweep(pool: Any, retention: Retention) -> dict[str, int]:
    """Delete what is past retention, in chunks; skip if another worker is sweeping."""
    deleted = {"processed_events": 0, "outbox": 0}
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RETENTION_LOCK_ID):
            return deleted
        try:
            for table, sql, days in (
                (
                    "processed_events",
                    "DELETE FROM processed_events WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
                    "processed_events WHERE processed_at < now() - make_interval(days => $1) "
                    "LIMIT $2))",
                    retention.processed_days,
                ),
                (
                    "outbox",
                    "DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM outbox WHERE "
                    "relayed_at IS NOT NULL AND created_at < now() - make_interval(days => $1) "
                    "LIMIT $2))",
                    retention.outbox_days,
                ),
            ):
                while True:
                    status = await conn.execute(sql, int(days), retention.chunk)
                    n = int(status.rsplit(" ", 1)[-1])
                    deleted[table] += n
                    if n < retention.chunk:
                        break
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", RETENTION_LOCK_ID)
    if any(deleted.values()):
        log.info("retention_swept", **deleted)
    return deleted


async def sweep_forever(pool: Any, stop: asyncio.Event, *, interval: float = 3600.0) -> None:
    retention = Retention.from_env()
    await every(interval, stop, lambda: sweep(pool, retention), name="retention")
