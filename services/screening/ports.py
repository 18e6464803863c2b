"""What screening's use cases need from the outside world: its store, bound to the batch.

The pipeline hands each batch one PostgreSQL transaction (``unit.connection``); ``StoreFor``
binds the store to it, so the history read, the results or decisions written and the batch's
claims and outbox rows all commit together — or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

from schemas.events.casework import ScreeningDecisionRecorded
from services.screening.domain.announcements import Triaged
from services.screening.domain.from_event import TriageHistory
from services.screening.domain.history import HistoryQuery


class ScreeningStore(Protocol):
    async def histories(self, queries: Sequence[HistoryQuery]) -> Mapping[UUID, TriageHistory]:
        """Each contact's stored history, as of its incident time (the batch not included)."""
        ...

    async def record_triage(self, triaged: Sequence[Triaged]) -> int:
        """Store the results (with any decision already recorded); returns how many were new."""
        ...

    async def record_decisions(self, decisions: Sequence[ScreeningDecisionRecorded]) -> int:
        """Keep each contact's latest decision and copy it onto its result; returns rows closed."""
        ...


StoreFor = Callable[[Any], ScreeningStore]
"""The store bound to one batch's connection (``unit.connection``)."""
