"""The out-of-hours use cases: raise crisis items, keep the night's record, hand the night over.

The pipeline (``services/common/pipeline.py``) has already decoded each record, dead-lettered
what the contract refuses, dropped the types a subscription does not want and claimed the batch's
event ids, all inside the batch's one transaction. What is left is this service's own:

- **Casework** (``frontdoor.casework``): decide which events are crisis items
  (``domain.crises``) and emit their ``crisis.raised`` to ``frontdoor.crisis``; record each
  ``ooh.action_recorded`` in the shift its action happened in. The crisis ids derive from the
  trigger's id; the emitted records go through the outbox, so they leave only if the batch
  commits.
- **Crisis stream** (``frontdoor.crisis``): record every ``crisis.raised`` (screening's and
  ours), ``ooh.handover_published`` and ``ooh.handover_acknowledged`` in the night's record; a
  valid event of any other type does not belong on the topic and is refused. An item belongs to
  the night its trigger happened in: ``trigger_at`` when the producer gave it, else the
  trigger's ``occurred_at`` in ``events`` (a replayed history lands in its own nights, not
  tonight's), else ``raised_at``.
- **Handover**: ``publish_handover`` builds a night's ranked parts (``domain.handover``) and
  announces every part not already in the record; ``acknowledge_handover`` announces the day
  team's acknowledgement of each part (that meets its 09:00 clock); ``HandoverScheduler.tick`` is
  the automatic handover, owed from the configured time on the morning a shift ends. Parts' ids
  derive from their content and are announced once per id (``Announcements``), so the command,
  the scheduler and a second replica never send one part twice.

A failure in any record's handling (a moment outside the calendar's years, say) raises: the
pipeline isolates that record and dead-letters it while the rest of the batch proceeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog

from schemas.events.outofhours import (
    OohActionRecorded,
    OohHandoverAcknowledged,
    OohHandoverPublished,
)
from schemas.events.triage import CrisisRaised
from schemas.topics import CRISIS
from services.common.pipeline import Delivery, Unit
from services.common.publishing import event_record
from services.outofhours.domain.crises import (
    CRISIS_TRIGGER_TYPES,
    OutOfHoursTest,
    crisis_call,
    crisis_event,
)
from services.outofhours.domain.handover import (
    HandoverPart,
    PartStatus,
    acknowledgement_event,
    handover_events,
    handover_id_for,
    handover_parts,
)
from services.outofhours.domain.record import (
    CrisisStreamBatch,
    NightRecord,
    ShiftedAction,
    ShiftedCrisis,
)
from services.outofhours.domain.shifts import Shift, ShiftOf
from services.outofhours.ports import Announcements, NightReader, StoreFor

log = structlog.get_logger(__name__)

CASEWORK_TYPES = CRISIS_TRIGGER_TYPES | {"ooh.action_recorded"}
CRISIS_TYPES = frozenset(CRISIS.event_types)


class UnexpectedEventTypeError(ValueError):
    """A valid event of a type that does not belong on the topic it was read from."""


class NoHandoverError(LookupError):
    """The day team acknowledged a night whose handover was never published."""


# -- the two streams ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseworkHandler:
    """``frontdoor.casework`` → ``crisis.raised`` on ``frontdoor.crisis``; actions recorded."""

    store_for: StoreFor
    out_of_hours: OutOfHoursTest
    shift_of: ShiftOf

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        actions: list[ShiftedAction] = []
        for d in deliveries:
            event = d.event
            call = crisis_call(event, out_of_hours=self.out_of_hours)
            if call is not None:
                crisis = crisis_event(event, call, at=call.happened_at)  # event time
                unit.emit(event_record(CRISIS.name, crisis))
                unit.note(
                    d,
                    crisis_id=str(crisis.payload.crisis_id),
                    reason=call.reason.value,
                    urgency=call.urgency.value,
                )
            if isinstance(event, OohActionRecorded):
                shift = self.shift_of(event.payload.action_at)
                actions.append(ShiftedAction(event, shift))
                unit.note(d, shift_start=shift.starts_at.isoformat())
        if actions:
            await self.store_for(unit.connection).record_actions(actions)


@dataclass(frozen=True)
class CrisisRecordHandler:
    """``frontdoor.crisis`` → the night's record (items, handovers, acknowledgements)."""

    store_for: StoreFor
    shift_of: ShiftOf

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        store = self.store_for(unit.connection)
        accepted: list[Delivery] = []
        for d in deliveries:
            if d.event.event_type in CRISIS_TYPES:
                accepted.append(d)
            else:
                unit.reject(
                    d,
                    UnexpectedEventTypeError(
                        f"{d.event.event_type!r} does not belong on {d.origin.topic}"
                    ),
                )
        untimed = [
            d.event.payload.trigger_event_id
            for d in accepted
            if isinstance(d.event, CrisisRaised) and d.event.payload.trigger_at is None
        ]
        moments = await store.trigger_moments(untimed) if untimed else {}
        items: list[ShiftedCrisis] = []
        handovers: list[OohHandoverPublished] = []
        acks: list[OohHandoverAcknowledged] = []
        for d in accepted:
            event = d.event
            if isinstance(event, CrisisRaised):
                p = event.payload
                moment = p.trigger_at or moments.get(p.trigger_event_id) or p.raised_at
                shift = self.shift_of(moment)
                items.append(ShiftedCrisis(event, shift, moment))
                unit.note(d, shift_start=shift.starts_at.isoformat())
            elif isinstance(event, OohHandoverPublished):
                handovers.append(event)
            elif isinstance(event, OohHandoverAcknowledged):
                acks.append(event)
        batch = CrisisStreamBatch(items, handovers, acks)
        if not batch.empty:
            await store.record_crisis_stream(batch)


# -- the handover -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoverReport:
    """A night's handover: its record, its ranked parts, the events and how many went now."""

    record: NightRecord
    handover_id: UUID
    parts: Sequence[HandoverPart]
    events: Sequence[OohHandoverPublished]
    sent: int
    status: dict[str, PartStatus]


async def publish_handover(
    reader: NightReader,
    announcements: Announcements,
    shift: Shift,
    *,
    team: str,
    at: datetime,
    publish: bool = True,
) -> HandoverReport:
    """Build the night's handover and announce the parts not in the record yet (unless
    ``publish`` is false: a preview)."""
    record = await reader.night(shift)
    handover_id = handover_id_for(shift)
    status = await reader.handover_status(handover_id)
    events = handover_events(record, team=team, at=at)
    known = set().union(*(s.event_ids for s in status.values())) if status else set()
    new = [e for e in events if e.event_id not in known] if publish else []
    sent = await _announce(announcements, new, "ooh_handover_published", handover_id)
    return HandoverReport(
        record=record,
        handover_id=handover_id,
        parts=handover_parts(record),
        events=events,
        sent=len(sent),
        status=status,
    )


async def acknowledge_handover(
    reader: NightReader,
    announcements: Announcements,
    shift: Shift,
    *,
    team: str,
    worker: str,
    at: datetime,
    children: Sequence[str] = (),
) -> list[OohHandoverAcknowledged]:
    """The day team acknowledges the night's handover: the named children's parts, else every
    part not yet acknowledged. Returns the acknowledgements sent now (one per night and child,
    ever)."""
    handover_id = handover_id_for(shift)
    status = await reader.handover_status(handover_id)
    if not status:
        raise NoHandoverError(
            f"no handover was published for the night of {shift.night.isoformat()}"
        )
    unknown = sorted(set(children) - set(status))
    if unknown:
        raise NoHandoverError(f"no handover part for child(ren) {', '.join(unknown)}")
    targets = list(children) or [c for c, s in status.items() if s.acknowledged_at is None]
    events = [
        acknowledgement_event(handover_id, child, team=team, worker=worker, at=at)
        for child in sorted(targets, key=lambda c: status[c].rank)
    ]
    sent = await _announce(announcements, events, "ooh_handover_acknowledged", handover_id)
    return [e for e in events if e.event_id in sent]


async def _announce(
    announcements: Announcements,
    events: Sequence[OohHandoverPublished | OohHandoverAcknowledged],
    fact: str,
    handover_id: UUID,
) -> list[UUID]:
    """Announce ``events`` on the crisis stream; log and return those sent now."""
    if not events:
        return []
    fresh = await announcements.send_once([event_record(CRISIS.name, e) for e in events])
    sent = [e for e in events if e.event_id in fresh]
    for event in sent:
        log.info(
            fact,
            event_id=str(event.event_id),
            handover_id=str(handover_id),
            child_id=event.subject.child_id,
        )
    return [e.event_id for e in sent]


@dataclass(frozen=True)
class HandoverScheduler:
    """The automatic handover: publishes the handover owed at the clock's time, if any."""

    reader: NightReader
    announcements: Announcements
    shift_to_publish: Callable[[datetime], Shift | None]
    team: str
    clock: Callable[[], datetime]

    async def tick(self) -> HandoverReport | None:
        now = self.clock()
        shift = self.shift_to_publish(now)
        if shift is None:
            return None
        return await publish_handover(
            self.reader, self.announcements, shift, team=self.team, at=now
        )
