"""Event-to-view latency: from a partner's publish to the event being recorded in PostgreSQL.

What is measured, honestly: the start is the Kafka record timestamp of the event on
``partner.events`` (CreateTime, stamped by the publishing producer — the moment the partner
published); the end is ``events.recorded_at``, the moment intake's transaction recorded the event
in the ``events`` table, the first materialised view, from which every other view is built
(PostgreSQL's ``now()``: the start of that transaction, so the insert's own few milliseconds are
not counted). The two clocks are the producer's and the database server's; on one machine they are
the same clock, across machines their skew is part of the figure (a negative result is counted as
0). Events that never reach the table (dead-lettered, or duplicates of an event recorded before the
ops service started watching) expire from the ledger unmatched.

`PublishLedger` holds the publishes seen but not yet matched, first publish of an id wins, bounded
in size (oldest dropped first) and in age.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from uuid import UUID


class PublishLedger:
    """Published event ids waiting to be matched with the moment they were recorded."""

    def __init__(
        self, *, capacity: int = 100_000, expire_after: timedelta = timedelta(minutes=5)
    ) -> None:
        self._capacity = capacity
        self._expire_after = expire_after
        self._published: OrderedDict[UUID, datetime] = OrderedDict()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._published)

    def published(self, event_id: UUID, at: datetime) -> None:
        """Remember the first publish of ``event_id``."""
        if event_id in self._published:
            return
        self._published[event_id] = at
        while len(self._published) > self._capacity:
            self._published.popitem(last=False)
            self.dropped += 1

    def waiting(self, limit: int | None = None) -> list[UUID]:
        """The ids not yet matched, oldest first."""
        ids = list(self._published)
        return ids if limit is None else ids[:limit]

    def settle(self, recorded: Mapping[UUID, datetime]) -> list[float]:
        """Latencies in seconds (never negative) of the ids now recorded; they leave the ledger."""
        latencies: list[float] = []
        for event_id, recorded_at in recorded.items():
            published_at = self._published.pop(event_id, None)
            if published_at is not None:
                latencies.append(max(0.0, (recorded_at - published_at).total_seconds()))
        return latencies

    def expire(self, now: datetime) -> int:
        """Forget publishes older than the expiry; returns how many were forgotten."""
        expired = 0
        while self._published:
            event_id, at = next(iter(self._published.items()))
            if now - at <= self._expire_after:
                break
            del self._published[event_id]
            expired += 1
        self.dropped += expired
        return expired
