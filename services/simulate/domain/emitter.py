"""Collects generated events in time order and releases them once no earlier event can follow.

Every event is an envelope dict ready for JSON (UUIDs, dates and aware datetimes are left as
Python objects for orjson). Internal times are UTC; the envelope and payload show them in
Europe/London. Ids come from the seeded generator, so a seed always yields the same feed. Events
at or after the end of the simulated window are dropped, though the case state that produced
them is kept.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.envelope import LONDON

Event = dict[str, Any]


class Emitter:
    def __init__(self, rng: random.Random, *, ends_at: datetime) -> None:
        self._rng = rng
        self._ends_at = ends_at
        self._heap: list[tuple[datetime, int, Event]] = []
        self._seq = 0

    def new_id(self) -> UUID:
        return UUID(int=self._rng.getrandbits(128), version=4)

    def emit(
        self,
        event_type: str,
        at: datetime,
        *,
        agency: str,
        system: str,
        ref: str,
        child_id: str,
        family_id: str | None,
        payload: dict[str, Any],
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
        version: int = 1,
        event_id: UUID | None = None,
    ) -> UUID:
        """Queue one event at instant ``at`` (UTC) and return its event id (``event_id`` when
        the caller draws ids from a generator of its own)."""
        event_id = self.new_id() if event_id is None else event_id
        if at >= self._ends_at:
            return event_id
        event: Event = {
            "event_id": event_id,
            "event_type": event_type,
            "schema_version": version,
            "occurred_at": at.astimezone(LONDON),
            "source": {"agency": agency, "system": system, "ref": ref},
            "subject": {"child_id": child_id, "family_id": family_id},
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "payload": {
                k: v.astimezone(LONDON) if isinstance(v, datetime) else v
                for k, v in payload.items()
            },
        }
        heapq.heappush(self._heap, (at, self._seq, event))
        self._seq += 1
        return event_id

    def release_before(self, moment: datetime) -> Iterator[Event]:
        """Yield, in time order, every queued event strictly before ``moment``."""
        while self._heap and self._heap[0][0] < moment:
            yield heapq.heappop(self._heap)[2]

    def release_all(self) -> Iterator[Event]:
        while self._heap:
            yield heapq.heappop(self._heap)[2]
