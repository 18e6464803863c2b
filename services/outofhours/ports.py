"""The protocols the out-of-hours use cases need, and nothing else.

``RecordStore`` writes the night's record; it is opened on the pipeline unit's connection
(``StoreFor``), so its rows commit with the batch's claims and outbox rows. ``NightReader`` reads
a night back (items, actions, the handover's status). ``Announcements`` is how the handover and
its acknowledgement leave the service: into the transactional outbox, once per event id, relayed
after the commit. ``WatchFeed`` is what the watch view reads and sends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from schemas.events.outofhours import OohActionKind
from services.common.publishing import OutRecord
from services.outofhours.domain.cards import ChildCard
from services.outofhours.domain.handover import PartStatus
from services.outofhours.domain.record import (
    CrisisItem,
    CrisisStreamBatch,
    NightRecord,
    ShiftedAction,
)
from services.outofhours.domain.shifts import Shift


class RecordStore(Protocol):
    async def trigger_moments(self, event_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        """When each trigger happened, as ``events`` recorded it; unknown ids are left out."""
        ...

    async def record_actions(self, actions: Sequence[ShiftedAction]) -> int: ...

    async def record_crisis_stream(self, batch: CrisisStreamBatch) -> int: ...


StoreFor = Callable[[Any], RecordStore]
"""Opens the record store on a batch's connection (``Unit.connection``)."""


class NightReader(Protocol):
    async def night(self, shift: Shift) -> NightRecord: ...

    async def latest_active_night(self, until: datetime) -> datetime | None:
        """The start of the latest shift starting at or before ``until`` with any item or
        action recorded (``None``: nothing recorded)."""
        ...

    async def handover_status(self, handover_id: UUID) -> dict[str, PartStatus]: ...


class Announcements(Protocol):
    async def send_once(self, records: Sequence[OutRecord]) -> set[UUID]:
        """Commit each record to the outbox unless an earlier call did (by event id), relay the
        new ones after the commit, and return their ids."""
        ...


class WatchFeed(Protocol):
    async def open(self, on_change: Callable[[], None]) -> None: ...

    async def close(self) -> None: ...

    async def items(self, shift: Shift) -> list[CrisisItem]: ...

    async def cards(self, child_ids: Sequence[str]) -> dict[str, ChildCard]:
        """Who each child is (name, date of birth, address, police ref, team), from the history."""
        ...

    async def acknowledge(self, item: CrisisItem, *, worker: str) -> object: ...

    async def record_action(
        self,
        item: CrisisItem,
        *,
        summary: str,
        decision_reason: str,
        worker: str,
        kind: OohActionKind | None = None,
    ) -> object: ...
