"""What intake's use case needs from the outside: the ``events`` history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol
from uuid import UUID

from services.common.pipeline import Delivery


class EventStore(Protocol):
    async def known_hashes(self, event_ids: Sequence[UUID]) -> dict[UUID, bytes]: ...

    async def append(self, events: Sequence[Delivery]) -> int: ...


StoreFor = Callable[[Any], EventStore]
"""Binds the store to the batch's transaction (``Unit.connection``)."""
