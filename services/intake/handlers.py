"""Intake's one use case: accept a batch of partner records.

For each batch: decode and validate every record; drop repeats of events already recorded (same
id, same content); dead-letter records that cannot be accepted, with the original bytes; publish
the new events to their frontdoor topic and wait for the broker; then append them to ``events``
in one transaction. Publishing before the commit, with the event's own id, means a crash at any
point loses nothing: a redelivered record that was published but not committed is published again
and downstream consumers drop the repeat by ``event_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

import structlog

from services.common.deadletter import DeadLetterReason, Origin, dead_letter_for
from services.common.publishing import OutRecord, Publisher
from services.intake.domain.decoding import Accepted, Rejected, decode
from services.intake.domain.routing import route

log = structlog.get_logger(__name__)


class EventIdReusedError(ValueError):
    """An event id arrived again with different content."""


@dataclass(frozen=True)
class NewEvent:
    accepted: Accepted
    origin: Origin


class EventStore(Protocol):
    async def known_hashes(self, event_ids: Sequence[UUID]) -> dict[UUID, bytes]: ...

    async def append(self, events: Sequence[NewEvent]) -> int: ...


@dataclass(frozen=True)
class BatchOutcome:
    accepted: int
    duplicates: int
    dead_lettered: int


@dataclass
class IntakeHandler:
    store: EventStore
    publisher: Publisher
    consumer_group: str
    max_bytes: int
    clock: Callable[[], datetime]

    async def handle_batch(self, records: Sequence[Origin]) -> BatchOutcome:
        now = self.clock()
        dead: list[OutRecord] = []
        candidates: dict[UUID, NewEvent] = {}
        duplicates = 0

        def reject(origin: Origin, reason: DeadLetterReason, exc: Exception) -> None:
            letter = dead_letter_for(
                origin, reason, exc, consumer_group=self.consumer_group, failed_at=now
            )
            dead.append(letter.record())
            log.warning(
                "intake_event_deadlettered",
                reason=reason.value,
                error_class=letter.exception_class,
                topic=origin.topic,
                partition=origin.partition,
                offset=origin.offset,
            )

        for origin in records:
            result = decode(origin.value, max_bytes=self.max_bytes)
            if isinstance(result, Rejected):
                reject(origin, result.reason, result.error)
                continue
            event_id = result.event.event_id
            earlier = candidates.get(event_id)
            if earlier is None:
                candidates[event_id] = NewEvent(result, origin)
            elif earlier.accepted.content_hash == result.content_hash:
                duplicates += 1
            else:
                reject(origin, DeadLetterReason.VALIDATION, _reused(event_id))

        known = await self.store.known_hashes(list(candidates))
        fresh: list[NewEvent] = []
        for event_id, new in candidates.items():
            if event_id not in known:
                fresh.append(new)
            elif known[event_id] == new.accepted.content_hash:
                duplicates += 1
                _log_event("intake_event_duplicate", new)
            else:
                reject(new.origin, DeadLetterReason.VALIDATION, _reused(event_id))

        routed = [
            OutRecord(
                route(n.accepted.event.event_type),
                n.accepted.event.subject.child_id.encode(),
                n.accepted.canonical,
                [("event_type", n.accepted.event.event_type.encode())],
            )
            for n in fresh
        ]
        await self.publisher.publish([*dead, *routed])
        await self.store.append(fresh)
        for n in fresh:
            _log_event("intake_event_accepted", n)
        return BatchOutcome(accepted=len(fresh), duplicates=duplicates, dead_lettered=len(dead))


def _reused(event_id: UUID) -> EventIdReusedError:
    return EventIdReusedError(
        f"event_id {event_id} was already accepted with different content; "
        "a corrected event needs a new event_id"
    )


def _log_event(name: str, new: NewEvent) -> None:
    event = new.accepted.event
    log.info(
        name,
        event_id=str(event.event_id),
        event_type=event.event_type,
        child_id=event.subject.child_id,
        partition=new.origin.partition,
        offset=new.origin.offset,
    )
