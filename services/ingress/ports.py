"""The ports partner ingress's use cases need: the audit trail (with the outbox) and the relay.

``AuditTrail`` is where a request's audit entry goes, and what says which event ids are taken
(``known``: the content hash ingress accepted them with, or intake stored them with). A submission
with accepted events is ``accept``ed: its audit row and one outbox row per accepted event commit in
ONE PostgreSQL transaction (the common outbox, ``services/common/migrations/001_pipeline.sql``), so
a 202 holds both or neither. Any other request is only ``record``ed. ``purge`` is the retention of
``ingress_audit`` (``retention.py``). ``Relayer`` sends committed outbox rows to the broker and
marks them relayed (``services.common.outbox.Relay``). ``RateLimit`` is the per-agency token bucket
and ``AuthFailures`` the failed-authentication counter; both are shared by every replica (PostgreSQL
in production, ``adapters/memory.py`` in unit tests); ``AuthFailures`` is the protocol of the
shared authenticator (``services.common.authentication``), named here for ingress's adapters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from schemas.envelope import Agency
from services.common.authentication import AuthFailures  # noqa: F401 - re-exported
from services.common.outbox import OutboxRow
from services.ingress.audit import AuditEntry
from services.ingress.domain.ratelimit import Decision

OUTBOX_PRODUCER = "ingress"
"""``outbox.producer`` of the rows ingress writes (the ledger unit's name)."""


@dataclass(frozen=True)
class EventState:
    """``accepted`` / ``recorded`` (in intake's history) / ``refused`` (with the code), and when."""

    status: str
    at: datetime
    code: str | None = None


class EventIdReusedError(Exception):
    """A concurrent submission took one of these event ids for other content; nothing stored."""

    def __init__(self, event_ids: Sequence[UUID]) -> None:
        super().__init__(f"{len(event_ids)} event id(s) already taken for other content")
        self.event_ids = tuple(event_ids)


class AuditTrail(Protocol):
    async def known(self, event_ids: Sequence[UUID]) -> Mapping[UUID, bytes]:
        """The content hash each of these ids is already stored with (absent: never seen)."""
        ...

    async def record(self, entry: AuditEntry) -> None:
        """The audit row of a request that accepted nothing."""
        ...

    async def accept(self, entry: AuditEntry, rows: Sequence[OutboxRow]) -> Sequence[OutboxRow]:
        """The audit row, the events' outbox rows and their ids (``ingress_events``) in one
        transaction; the rows as stored. Raises ``EventIdReusedError`` (and stores nothing) if an
        id was taken for other content since ``known`` was asked."""
        ...

    async def status_of(self, agency: str, event_id: UUID) -> EventState | None:
        """What became of ``agency``'s event ``event_id``; ``None`` when unknown to it."""
        ...

    async def purge(self, *, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` audit rows received before ``before``; how many went."""
        ...


class Relayer(Protocol):
    async def relay(self, rows: Sequence[OutboxRow]) -> None: ...


class RateLimit(Protocol):
    """The agency's token bucket, shared by every replica."""

    rate: float
    burst: int

    async def take(self, agency: Agency, n: int) -> Decision: ...
