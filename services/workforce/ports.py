"""What the workforce use case needs: the directory and its facts, inside the batch's transaction.

A ``WorkforceStore`` is bound to the pipeline unit's connection (``StoreFor``), so every fact it
records, every clock it sets and the batch's ``processed_events`` claims and emitted alerts
commit together or not at all. The store records facts and answers questions about them; the
rules that turn facts into due dates and alerts are the domain's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from schemas.envelope import EventBase
from services.common.deadletter import Origin
from services.workforce.domain.caseload import Allocated, Term
from services.workforce.domain.supervision import Leave


@dataclass(frozen=True)
class Worker:
    worker_id: str
    team_id: str
    fte: Decimal
    case_holder: bool
    newly_qualified: bool
    employed_from: date
    left_on: date | None
    asye_starts_on: date | None
    asye_completed_on: date | None


@dataclass(frozen=True)
class Team:
    team_id: str
    manager_id: str | None


@dataclass(frozen=True)
class Clock:
    """A workforce clock in the SLA timer shape (``kind`` / ``subject_ref`` identify it)."""

    kind: str
    subject_ref: str
    child_id: str
    policy: str
    started_at: datetime
    due_at: datetime
    team: str | None


@dataclass(frozen=True)
class SupervisionFacts:
    worker: Worker
    leaves: tuple[Leave, ...]
    counted: tuple[date, ...]
    asye_pauses: tuple[Leave, ...]
    asye_reviews: tuple[int, ...]


@dataclass(frozen=True)
class OpenCase:
    child_id: str
    worker_id: str
    team_id: str
    case_type: str
    allocated_at: datetime
    last_entry: datetime | None


@dataclass(frozen=True)
class ChildFacts:
    """A child's open case (its latest allocation not ended) and its referral still waiting for
    an allocation — (referral time, team) — if any."""

    case: OpenCase | None = None
    waiting: tuple[datetime, str] | None = None


@dataclass(frozen=True)
class Parked:
    """An event set aside until the directory catches up: the id it names and its record."""

    event_id: UUID
    occurred_at: datetime
    field: str
    kind: str
    ref: str
    origin: Origin


class WorkforceStore(Protocol):
    async def directory_through(self) -> datetime | None: ...

    async def advance_directory(self, at: datetime) -> None: ...

    async def parked_since(self, consumer: str, event_id: UUID) -> datetime | None: ...

    async def park(self, consumer: str, parked: Parked, at: datetime) -> None: ...

    async def unpark(self, consumer: str, event_ids: Sequence[UUID]) -> None: ...

    async def lock_children(self, child_ids: Sequence[str]) -> None: ...

    async def team(self, team_id: str) -> Team | None: ...

    async def worker(self, worker_id: str) -> Worker | None: ...

    async def worker_terms(self, worker_id: str) -> Sequence[Term]:
        """Every FTE / case-holding the worker has had, with the day each took effect."""

    async def record(self, event: EventBase, *, flag: str | None = None) -> None:
        """Record the fact one workforce event states (``flag``: a session's, if not counted)."""

    async def allocation_history(self, worker_id: str, since: datetime) -> Sequence[Allocated]:
        """The worker's allocations made from ``since`` on or still open then (the worker's row
        locked: one worker's alerts are decided by one batch at a time)."""

    async def alert_ids(self, worker_id: str, since: datetime) -> set[UUID]:
        """The worker's alerts for allocations made from ``since`` on."""

    async def withdraw_alerts(self, alert_ids: Sequence[UUID]) -> None: ...

    async def claim_alert(
        self,
        alert_id: UUID,
        *,
        rule: str,
        worker_id: str,
        child_id: str,
        team_id: str,
        raised_at: datetime,
    ) -> bool:
        """True the first time this alert is claimed (a repeat raises nothing)."""

    async def referral(self, child_id: str, referral_at: datetime, team: str) -> None: ...

    async def supervision_facts(self, worker_id: str) -> SupervisionFacts | None: ...

    async def open_allocation(self, child_id: str) -> tuple[str, datetime] | None:
        """The child's open allocation: (worker, allocated at), the latest if several."""

    async def flush(self) -> None:
        """Write what the store holds back (case entries, written together: nothing in the
        batch's loop reads them); every read that could see them flushes first."""

    async def child_facts(self, child_ids: Sequence[str]) -> Mapping[str, ChildFacts]:
        """What each child's clocks are computed from, every child in one read (a child with
        neither an open case nor a waiting referral may be left out)."""

    async def write_clocks(self, clocks: Mapping[tuple[str, str], Clock | None]) -> None:
        """Upsert each clock, keyed by (kind, subject), or drop it where the value is None."""


StoreFor = Callable[[Any], WorkforceStore]
