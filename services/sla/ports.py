"""What the SLA use cases need from the outside world: the timer store, the scan store, the lease.

The lifecycle handler's `TimerStore` is bound to the pipeline's transaction for the batch
(``unit.connection``, through `StoreFor`): the children's rows it locks, the timers it writes,
the batch's claims and the emitted announcements all commit together, and the locks are released
by that commit before anything is sent to Kafka. The scanner's `ScanStore` opens its own short
transactions; each returns the outbox rows it committed, which the scanner relays (`OutboxRelay`)
only after the commit — no Kafka round trip ever runs while a row lock is held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.common.outbox import OutboxRow
from services.sla.domain.batch import BatchWrite, ChildRecord
from services.sla.domain.breaches import Settle


class TimerStore(Protocol):
    async def load(self, child_ids: Sequence[str]) -> Mapping[str, ChildRecord]:
        """Lock the children's rows (sorted, creating any new child) and read their clocks (with
        each one's recorded team and closing event), team histories, current team's event and
        early events; the locks are held until the batch's transaction ends."""
        ...

    async def save(self, write: BatchWrite) -> None:
        """Write the batch's timers (team included, on update too), team marks (insert if
        absent), current teams, early events and scheduled announcements."""
        ...


StoreFor = Callable[[Any], TimerStore]
"""The timer store bound to one batch's connection (``unit.connection``)."""


class ScanStore(Protocol):
    async def settle_due(
        self, now: datetime, limit: int, settle: Settle, *, recorded_before: datetime
    ) -> Sequence[OutboxRow]:
        """In one transaction: lock up to `limit` owed clocks of each kind of debt, skipping
        locked ones (a clock recorded when already overdue owes its breach only if recorded
        before `recorded_before`), `settle` them, write the new states and put their
        announcements in the outbox; return the committed outbox rows."""
        ...

    async def release_scheduled(self, now: datetime, limit: int) -> Sequence[OutboxRow]:
        """In one transaction: move up to `limit` scheduled announcements whose moment has come
        (``available_at <= now``, in that order) into the outbox; return the committed rows."""
        ...

    async def next_moment(self, grace: timedelta) -> datetime | None:
        """The earliest moment something becomes owed: an open deadline (for a clock recorded
        already overdue, its recording + `grace`), an unwarned warning, a scheduled
        announcement."""
        ...

    async def forget_early_events(self, recorded_before: datetime, limit: int) -> int:
        """Delete up to `limit` early events recorded before `recorded_before`; how many."""
        ...


class OutboxRelay(Protocol):
    async def relay(self, rows: Sequence[OutboxRow]) -> None:
        """Send committed outbox rows and mark them relayed (``services.common.outbox.Relay``)."""
        ...


class Leadership(Protocol):
    async def hold(self) -> bool:
        """Whether this replica holds the lease now (acquiring it if free)."""
        ...

    async def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`; return early when new work was signalled."""
        ...

    async def close(self) -> None: ...
