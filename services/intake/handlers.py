"""Intake's one use case: accept a batch of partner events into the history and route them.

The pipeline (``services/common/pipeline.py``) has already decoded and validated each record,
dead-lettered what the contract refuses and claimed the batch's event ids. What is left is
intake's own: refuse the types frontdoor publishes itself (partners may not send them); drop an
event already in ``events`` (kept forever, so a repeat older than the ledger's retention is still
a repeat) and refuse an id already there with other content; append the rest to ``events`` and
emit each to its frontdoor topic. The append and the emitted records commit in one transaction
(the outbox), so a crash at any point loses nothing and publishes nothing that was not recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.registry import INBOUND_TYPES
from services.common.pipeline import Delivery, EventIdReusedError, Unit
from services.common.publishing import OutRecord
from services.intake.domain.routing import route
from services.intake.ports import StoreFor


class NotPartnerPublishableError(ValueError):
    """The event type exists but is produced by frontdoor itself, not by partners."""


def routed(delivery: Delivery) -> OutRecord:
    """The accepted event on its frontdoor topic: key = child id, its canonical JSON."""
    event = delivery.event
    return OutRecord(
        route(event.event_type),
        event.subject.child_id.encode(),
        delivery.canonical,
        [("event_type", event.event_type.encode())],
        event_id=event.event_id,
        event_type=event.event_type,
    )


def watermarks(recorded: Sequence[Delivery]) -> dict[int, datetime]:
    """The latest event time recorded per partner.events partition (records from Kafka only)."""
    through: dict[int, datetime] = {}
    for d in recorded:
        p, at = d.origin.partition, d.event.occurred_at
        if d.origin.offset >= 0 and (p not in through or at > through[p]):
            through[p] = at
    return through


class IntakeHandler:
    def __init__(self, store_for: StoreFor) -> None:
        self._store_for = store_for

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        store = self._store_for(unit.connection)
        partner: list[Delivery] = []
        for d in deliveries:
            if d.event.event_type in INBOUND_TYPES:
                partner.append(d)
            else:
                unit.reject(
                    d,
                    NotPartnerPublishableError(
                        f"{d.event.event_type} is published by frontdoor itself; "
                        "partners may not send it"
                    ),
                )
        known = await store.known_hashes([d.id for d in partner])
        fresh: list[Delivery] = []
        for d in partner:
            if d.id not in known:
                fresh.append(d)
            elif known[d.id] != d.content_hash:
                unit.reject(
                    d,
                    EventIdReusedError(
                        f"event_id {d.id} was already accepted with different content; "
                        "a corrected event needs a new event_id"
                    ),
                )
            else:
                unit.note(d, already_recorded=True)
        await store.append(fresh)
        await store.advance(watermarks(fresh))
        for d in fresh:
            record = routed(d)
            unit.emit(record)
            unit.note(d, routed_to=record.topic)
