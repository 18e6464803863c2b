"""What intake's use case needs from the outside: the ``events`` history."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from services.common.pipeline import Delivery
from services.intake.domain.speakers import LaneRefusal


class EventStore(Protocol):
    async def known_hashes(self, event_ids: Sequence[UUID]) -> dict[UUID, bytes]: ...

    async def append(self, events: Sequence[Delivery]) -> int: ...

    async def advance(self, through: Mapping[tuple[str, int], datetime]) -> None:
        """Record that each (topic, partition) is recorded up to (at least) this event time."""

    async def refused(self, refusals: Sequence[LaneRefusal]) -> None:
        """Audit the records refused for leaving their speaker's lane (no payload)."""


StoreFor = Callable[[Any], EventStore]
"""Binds the store to the batch's transaction (``Unit.connection``)."""
