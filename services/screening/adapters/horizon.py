"""How far the front door's history is complete: intake's progress over ``partner.events``.

A contact is triaged against what was received before it — the child's and household's earlier
incidents, an open plan, an open case. Those arrive on other partitions (siblings have other
keys) and are recorded by intake, possibly by another replica, possibly later than the contact
reaches screening; a triage that ran before they were recorded would depend on which process
happened to be faster. The horizon is the event time up to which every partner event is
recorded: for each partition of every topic intake reads (``partner.events`` and the agency
lanes), unbounded when intake's consumer groups have committed it to its log end, else intake's
watermark for it (``intake_watermarks``: partners publish in time order per partition).
Triage holds a contact received after the horizon
(``RetryLaterError``: the batch is simply tried again) for at most ``history_wait_seconds``, so
in live operation, where intake keeps up, nothing waits; in a fast replay screening keeps pace
with the slowest intake partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import INTAKE_TOPICS
from services.common.kafka import LogEndReader, security_kwargs
from services.common.periodic import every

log = structlog.get_logger(__name__)

UNBOUNDED = datetime.max.replace(tzinfo=UTC)


class IntakeHorizon:
    def __init__(self, bootstrap: str, pool: Any, groups: Sequence[str]) -> None:
        self._bootstrap = bootstrap
        self._pool = pool
        self._groups = tuple(groups)
        self._partitions = [
            TopicPartition(t.name, p) for t in INTAKE_TOPICS for p in range(t.partitions)
        ]
        self.value: datetime | None = None
        """The last horizon read; ``None`` until the first read (then nothing is released)."""

    async def read(self, ends_reader: LogEndReader, admin: AIOKafkaAdminClient) -> datetime:
        ends = await ends_reader.read(self._partitions)
        committed: dict[TopicPartition, int] = {}
        for group in self._groups:
            offsets = await admin.list_consumer_group_offsets(group, partitions=self._partitions)
            for tp, meta in offsets.items():
                if meta is not None and meta.offset >= 0:
                    committed[tp] = max(committed.get(tp, 0), meta.offset)
        rows = await self._pool.fetch("SELECT topic, partition, through FROM intake_watermarks")
        through = {TopicPartition(r["topic"], r["partition"]): r["through"] for r in rows}
        horizon = UNBOUNDED
        for tp in self._partitions:
            end = ends.get(tp)
            if end is None:
                raise TimeoutError(f"no log end for {tp}")
            if committed.get(tp, 0) >= end:
                continue  # intake has recorded everything on it (an empty lane: end 0)
            seen = through.get(tp)
            if seen is None:
                return datetime.min.replace(tzinfo=UTC)
            horizon = min(horizon, seen)
        return horizon

    async def follow(self, stop: asyncio.Event, *, interval: float = 0.1) -> None:
        """Keep ``value`` fresh until ``stop``."""
        reader = LogEndReader(self._bootstrap, timeout=2.0)
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, **security_kwargs())
        await reader.start()
        await admin.start()

        async def refresh() -> None:
            self.value = await self.read(reader, admin)

        try:
            await every(interval, stop, refresh, name="history_horizon")
        finally:
            await reader.stop()
            await admin.close()
