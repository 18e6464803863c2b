"""Intake's one use case: accept a batch of partner events into the history and route them.

The pipeline (``services/common/pipeline.py``) has already decoded and validated each record,
dead-lettered what the contract refuses and claimed the batch's event ids. What is left is
intake's own: refuse the types frontdoor publishes itself (partners may not send them); refuse
a record outside its speaker's lane — the agency its transport proves must be the event's
``source.agency`` and its payload's author, and the role table must let it publish the type
(``domain/speakers.py``; a ``validation`` dead letter ``agency_not_permitted`` and an audit row in
``intake_lane_refusals``, counted per agency on the ops dashboard); drop an
event already in ``events`` (kept forever, so a repeat older than the ledger's retention is still
a repeat) and refuse an id already there with other content; append the rest to ``events`` and
emit each to its frontdoor topic. The append and the emitted records commit in one transaction
(the outbox), so a crash at any point loses nothing and publishes nothing that was not recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog

from schemas.registry import INBOUND_TYPES
from schemas.roles import RoleTable
from services.common.pipeline import Delivery, EventIdReusedError, Unit
from services.common.publishing import OutRecord
from services.intake.domain.routing import route
from services.intake.domain.speakers import (
    AgencyNotPermittedError,
    LaneRefusal,
    SpeakerMode,
    judge,
)
from services.intake.ports import StoreFor

log = structlog.get_logger(__name__)


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


def watermarks(recorded: Sequence[Delivery]) -> dict[tuple[str, int], datetime]:
    """The latest event time recorded per (topic, partition) read (records from Kafka only)."""
    through: dict[tuple[str, int], datetime] = {}
    for d in recorded:
        p, at = (d.origin.topic, d.origin.partition), d.event.occurred_at
        if d.origin.offset >= 0 and (p not in through or at > through[p]):
            through[p] = at
    return through


class IntakeHandler:
    def __init__(self, store_for: StoreFor, *, roles: RoleTable, mode: SpeakerMode) -> None:
        self._store_for = store_for
        self._roles = roles
        self._mode = mode

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        store = self._store_for(unit.connection)
        partner: list[Delivery] = []
        refusals: list[LaneRefusal] = []
        for d in deliveries:
            if d.event.event_type not in INBOUND_TYPES:
                unit.reject(
                    d,
                    NotPartnerPublishableError(
                        f"{d.event.event_type} is published by frontdoor itself; "
                        "partners may not send it"
                    ),
                )
                continue
            try:
                speaker = judge(d.origin, d.event, self._mode, self._roles)
            except AgencyNotPermittedError as exc:
                unit.reject(d, exc)
                refusals.append(LaneRefusal.of(d.origin, d.event, exc))
                log.warning(
                    "agency_not_permitted",
                    event_id=str(d.id),
                    event_type=d.event.event_type,
                    topic=d.origin.topic,
                    via=exc.speaker.via.value,
                    speaker=exc.speaker.agency.value if exc.speaker.agency else None,
                    claimed_agency=d.event.source.agency.value,
                    rules=exc.rules,
                )
                continue
            unit.note(d, speaker_via=speaker.via.value)
            partner.append(d)
        await store.refused(refusals)
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
