"""The port the conferences use case needs: the children's records, inside the batch's transaction.

A ``ConferenceStore`` is bound to the pipeline unit's connection (``StoreFor``), so what it locks
stays locked, and what it saves commits, together with the batch's ``processed_events`` claims
and the invitations emitted into the outbox — or not at all. ``load`` locks the batch's children
(one writer per child at a time, whichever replica holds the batch) and returns their records;
``save`` writes what the batch changed. The store never publishes: nothing waits on the broker
while those locks are held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from schemas.events.conferences import ConferenceInvitationIssued
from services.conferences.domain.state import ChildFile


@dataclass(frozen=True)
class ChildWrite:
    """One child's record as loaded and as the batch left it; the store writes the difference."""

    before: ChildFile
    after: ChildFile


@dataclass(frozen=True)
class BatchWrite:
    recorded_at: datetime
    """Processing time, for ``updated_at`` only."""
    children: Sequence[ChildWrite] = ()
    invitations: Sequence[ConferenceInvitationIssued] = ()


class ConferenceStore(Protocol):
    async def load(
        self, child_ids: Sequence[str], referral_ids: Mapping[str, Sequence[UUID]]
    ) -> Mapping[str, ChildFile]:
        """Lock the children and return their records (an empty one for a new child).

        A referral in ``referral_ids`` that the record does not hold is looked up in intake's
        ``events`` history, so the rules can still be checked against its date.
        """
        ...

    async def save(self, write: BatchWrite) -> None: ...


StoreFor = Callable[[Any], ConferenceStore]
"""A store bound to a connection (the pipeline unit's)."""
