"""The ``events`` history in memory, for unit tests: the same contract as ``PostgresEventStore``
(``tests/integration/test_intake_store_contract.py`` runs one suite against both)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from services.common.pipeline import Delivery
from services.intake.domain.speakers import LaneRefusal


class MemoryEventStore:
    def __init__(self) -> None:
        self.rows: dict[UUID, Delivery] = {}
        self.through: dict[tuple[str, int], datetime] = {}
        self.refusals: list[LaneRefusal] = []

    def __call__(self, _connection: Any) -> MemoryEventStore:
        return self

    async def known_hashes(self, event_ids: Sequence[UUID]) -> dict[UUID, bytes]:
        return {i: self.rows[i].content_hash for i in event_ids if i in self.rows}

    async def append(self, events: Sequence[Delivery]) -> int:
        fresh = [e for e in events if e.id not in self.rows]
        for e in fresh:
            self.rows[e.id] = e
        return len(fresh)

    async def advance(self, through: Mapping[tuple[str, int], datetime]) -> None:
        for p, at in through.items():
            self.through[p] = max(at, self.through.get(p, at))

    async def refused(self, refusals: Sequence[LaneRefusal]) -> None:
        self.refusals.extend(refusals)
