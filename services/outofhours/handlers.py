"""The out-of-hours service's two stream use cases: raise crisis items; keep the night's record.

Casework (``frontdoor.casework``), per batch: decode the records this service wants (the crisis
triggers and ``ooh.action_recorded``; a wanted record that cannot be read goes to the dead-letter
topic with its original bytes), drop events already handled (the ``processed_events`` ledger),
decide which are crisis items (``domain.crises``), publish their ``crisis.raised`` to
``frontdoor.crisis`` and wait for the broker, then record the actions and the processed ids in one
transaction. The crisis ids derive from the trigger's id, so a crash between publish and commit
republishes the same ids and downstream consumers drop the repeat.

Crisis stream (``frontdoor.crisis``), per batch: every ``crisis.raised`` (screening's and ours),
``ooh.handover_published`` and ``ooh.handover_acknowledged`` is recorded, in one transaction with
the ledger; the store notifies watchers on commit. An item belongs to the night its trigger
happened in: ``trigger_at`` when the producer gave it, else the trigger's ``occurred_at`` in
``events`` (a replayed history lands in its own nights, not tonight's), else ``raised_at``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

import structlog

from schemas.envelope import EventBase
from schemas.events.outofhours import (
    OohActionRecorded,
    OohHandoverAcknowledged,
    OohHandoverPublished,
)
from schemas.events.triage import CrisisRaised
from schemas.topics import CRISIS
from services.common.deadletter import DeadLetterReason, Origin, dead_letter_for
from services.common.publishing import OutRecord, Publisher
from services.outofhours.decoding import Rejected, decode_wanted
from services.outofhours.domain.crises import (
    CRISIS_TRIGGER_TYPES,
    OutOfHoursTest,
    crisis_call,
    crisis_event,
)
from services.outofhours.domain.shifts import Shift

log = structlog.get_logger(__name__)

CASEWORK_CONSUMER = "outofhours.casework"
RECORD_CONSUMER = "outofhours.record"
CASEWORK_TYPES = CRISIS_TRIGGER_TYPES | {"ooh.action_recorded"}
CRISIS_TYPES = frozenset(CRISIS.event_types)

ShiftOf = Callable[[datetime], Shift]


@dataclass(frozen=True)
class ShiftedAction:
    event: OohActionRecorded
    shift: Shift


@dataclass(frozen=True)
class ShiftedCrisis:
    event: CrisisRaised
    shift: Shift
    happened_at: datetime


@dataclass(frozen=True)
class CrisisStreamBatch:
    """What one batch of ``frontdoor.crisis`` adds to the night's record."""

    items: Sequence[ShiftedCrisis] = ()
    handovers: Sequence[OohHandoverPublished] = ()
    acknowledgements: Sequence[OohHandoverAcknowledged] = ()


class RecordStore(Protocol):
    async def processed(self, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]: ...

    async def trigger_moments(self, event_ids: Sequence[UUID]) -> dict[UUID, datetime]: ...

    async def record_casework(
        self, consumer: str, event_ids: Sequence[UUID], actions: Sequence[ShiftedAction]
    ) -> int: ...

    async def record_crisis_stream(
        self, consumer: str, event_ids: Sequence[UUID], batch: CrisisStreamBatch
    ) -> int: ...


@dataclass(frozen=True)
class BatchOutcome:
    done: int
    duplicates: int
    dead_lettered: int
    crises: int = 0
    ignored: int = 0


def event_record(topic: str, event: EventBase) -> OutRecord:
    return OutRecord(
        topic,
        event.subject.child_id.encode(),
        event.model_dump_json().encode(),
        [("event_type", event.event_type.encode())],
    )


@dataclass
class _Batch:
    """Dead letters and the de-duplicated events of one batch."""

    consumer_group: str
    failed_at: datetime
    dead: list[OutRecord] = field(default_factory=list)
    fresh: dict[UUID, tuple[EventBase, Origin]] = field(default_factory=dict)
    duplicates: int = 0
    ignored: int = 0

    def take(self, origin: Origin, decoded: EventBase | Rejected | None) -> None:
        if decoded is None:
            self.ignored += 1
        elif isinstance(decoded, Rejected):
            self.reject(origin, decoded)
        elif decoded.event_id in self.fresh:
            self.duplicates += 1
        else:
            self.fresh[decoded.event_id] = (decoded, origin)

    async def drop_processed(self, store: RecordStore, consumer: str) -> None:
        for event_id in await store.processed(consumer, list(self.fresh)):
            del self.fresh[event_id]
            self.duplicates += 1

    def reject(self, origin: Origin, rejected: Rejected) -> None:
        letter = dead_letter_for(
            origin,
            rejected.reason,
            rejected.error,
            consumer_group=self.consumer_group,
            failed_at=self.failed_at,
        )
        self.dead.append(letter.record())
        log.warning(
            "ooh_event_deadlettered",
            reason=rejected.reason.value,
            error_class=letter.exception_class,
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
        )


def _log(name: str, event: EventBase, origin: Origin, **extra: object) -> None:
    log.info(
        name,
        event_id=str(event.event_id),
        event_type=event.event_type,
        child_id=event.subject.child_id,
        partition=origin.partition,
        offset=origin.offset,
        **extra,
    )


@dataclass
class CaseworkHandler:
    """``frontdoor.casework`` → ``crisis.raised`` on ``frontdoor.crisis``; actions recorded."""

    store: RecordStore
    publisher: Publisher
    out_of_hours: OutOfHoursTest
    shift_of: ShiftOf
    consumer_group: str
    clock: Callable[[], datetime]

    async def handle_batch(self, records: Sequence[Origin]) -> BatchOutcome:
        now = self.clock()
        batch = _Batch(self.consumer_group, now)
        for origin in records:
            batch.take(origin, decode_wanted(origin, CASEWORK_TYPES))
        await batch.drop_processed(self.store, CASEWORK_CONSUMER)

        raised: list[tuple[CrisisRaised, Origin]] = []
        actions: list[ShiftedAction] = []
        done: list[UUID] = []
        for event_id, (event, origin) in batch.fresh.items():
            try:
                call = crisis_call(event, out_of_hours=self.out_of_hours)
                if call is not None:
                    raised.append((crisis_event(event, call, at=now), origin))
                if isinstance(event, OohActionRecorded):
                    actions.append(ShiftedAction(event, self.shift_of(event.payload.action_at)))
            except Exception as exc:  # a pure, deterministic failure: retrying cannot help
                batch.reject(origin, Rejected(DeadLetterReason.PROCESSING, exc))
                continue
            done.append(event_id)

        out = [event_record(CRISIS.name, crisis) for crisis, _ in raised]
        await self.publisher.publish([*batch.dead, *out])
        await self.store.record_casework(CASEWORK_CONSUMER, done, actions)
        for crisis, origin in raised:
            _log(
                "ooh_crisis_raised",
                crisis,
                origin,
                reason=crisis.payload.reason.value,
                urgency=crisis.payload.urgency.value,
                trigger_event_type=crisis.payload.trigger_event_type,
            )
        for action in actions:
            _log("ooh_action_recorded", action.event, batch.fresh[action.event.event_id][1])
        return BatchOutcome(
            done=len(done),
            duplicates=batch.duplicates,
            dead_lettered=len(batch.dead),
            crises=len(raised),
            ignored=batch.ignored,
        )


@dataclass
class CrisisRecordHandler:
    """``frontdoor.crisis`` → the night's record (items, handovers, acknowledgements)."""

    store: RecordStore
    publisher: Publisher
    shift_of: ShiftOf
    consumer_group: str
    clock: Callable[[], datetime]

    async def handle_batch(self, records: Sequence[Origin]) -> BatchOutcome:
        batch = _Batch(self.consumer_group, self.clock())
        for origin in records:
            batch.take(origin, decode_wanted(origin, CRISIS_TYPES, reject_others=True))
        await batch.drop_processed(self.store, RECORD_CONSUMER)

        untimed = [
            e.payload.trigger_event_id
            for e, _ in batch.fresh.values()
            if isinstance(e, CrisisRaised) and e.payload.trigger_at is None
        ]
        moments = await self.store.trigger_moments(untimed) if untimed else {}
        items: list[ShiftedCrisis] = []
        handovers: list[OohHandoverPublished] = []
        acks: list[OohHandoverAcknowledged] = []
        done: list[UUID] = []
        for event_id, (event, origin) in batch.fresh.items():
            try:
                if isinstance(event, CrisisRaised):
                    p = event.payload
                    moment = p.trigger_at or moments.get(p.trigger_event_id) or p.raised_at
                    items.append(ShiftedCrisis(event, self.shift_of(moment), moment))
                elif isinstance(event, OohHandoverPublished):
                    handovers.append(event)
                elif isinstance(event, OohHandoverAcknowledged):
                    acks.append(event)
            except Exception as exc:  # e.g. a moment outside the calendar's years
                batch.reject(origin, Rejected(DeadLetterReason.PROCESSING, exc))
                continue
            done.append(event_id)

        await self.publisher.publish(batch.dead)
        await self.store.record_crisis_stream(
            RECORD_CONSUMER, done, CrisisStreamBatch(items, handovers, acks)
        )
        for event_id in done:
            event, origin = batch.fresh[event_id]
            _log("ooh_record_updated", event, origin)
        return BatchOutcome(
            done=len(done),
            duplicates=batch.duplicates,
            dead_lettered=len(batch.dead),
            crises=len(items),
        )
