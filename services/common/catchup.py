"""Catching up from PostgreSQL when the broker has forgotten records.

The broker may forget (the embedded one forgets everything when it restarts; a real cluster can
lose or recreate a topic, or delete records past retention that a stopped consumer never read).
PostgreSQL does not: every record frontdoor ever relayed is in the outbox with the Kafka timestamp
of its send (``relay_ts``). A record the broker no longer holds is one relayed *before the oldest
record the partition still holds* (or, for an empty partition, before a short grace period) — the
relay stamps each send with a fresh timestamp, so everything a new broker holds was sent after
everything an old one acknowledged. Those records, if this consumer never processed them, are fed
through the consumer's own pipeline, in outbox order, before it reads on — the claim in
``processed_events`` makes a record that is in both places count once.

This runs for every partition a consumer is assigned (so replicas split the work as they split
the partitions and one child's records stay with one process) and again every
``interval`` seconds for a topic recreated while the worker runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from services.common.deadletter import Origin
from services.common.ledger import Ledger
from services.common.outbox import OutboxRow

log = structlog.get_logger(__name__)

OldestTimestamps = Callable[[str, Sequence[int]], Awaitable[dict[int, datetime | None]]]
"""(topic, partitions) → the timestamp of each partition's oldest record, ``None`` when empty;
a partition left out did not answer."""


def origin_of(row: OutboxRow) -> Origin:
    """An outbox row as if it had been read from Kafka (offset -1: it came from PostgreSQL)."""
    return Origin(row.topic, row.partition, -1, row.key, row.value, row.headers)


@dataclass
class CatchUp:
    consumer: str
    topic: str
    event_types: frozenset[str] | None
    ledger: Ledger
    oldest: OldestTimestamps
    process: Callable[[Sequence[Origin]], Awaitable[object]]
    batch: int = 500
    grace_seconds: float = 10.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _cursor: dict[int, int] = field(default_factory=dict)

    async def run(self, partitions: Iterable[int]) -> int:
        """Feed every lost, unprocessed record of ``partitions`` to the pipeline; count them."""
        wanted = sorted(set(partitions))
        if not wanted:
            return 0
        oldest = await self.oldest(self.topic, wanted)
        total = 0
        for partition in wanted:
            if partition not in oldest:
                continue  # the broker did not answer for it: try again next round
            before = oldest[partition]
            if before is None:  # empty: whatever was relayed before the grace period is gone
                before = self.clock() - timedelta(seconds=self.grace_seconds)
            total += await self._partition(partition, before)
        if total:
            log.info(
                "caught_up_from_postgres", consumer=self.consumer, topic=self.topic, records=total
            )
        return total

    async def _partition(self, partition: int, before: datetime) -> int:
        done = 0
        while True:
            rows = await self.ledger.lost(
                self.consumer,
                topic=self.topic,
                partition=partition,
                before=before,
                event_types=self.event_types,
                after_id=self._cursor.get(partition, 0),
                limit=self.batch,
            )
            if not rows:
                return done
            await self.process([origin_of(r) for r in rows])
            self._cursor[partition] = max(r.id or 0 for r in rows)
            done += len(rows)
