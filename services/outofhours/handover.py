"""The handover use cases: publish a night's handover; the day team acknowledges it.

``publish_handover`` reads the night's record, builds the ranked parts (``domain.handover``) and
publishes every part not already on ``frontdoor.crisis`` (parts' ids derive from their content,
so the command, the automatic handover and a second replica agree on them). It returns the full
report either way: the command prints it. ``acknowledge_handover`` publishes the day team's
``ooh.handover_acknowledged`` for each child's part not yet acknowledged (or the children named);
that meets each part's ``ooh_handover`` clock. ``HandoverScheduler`` publishes the handover on its
own from the configured time on the morning a shift ends, so a night is never left without one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

import structlog

from schemas.events.outofhours import OohHandoverAcknowledged, OohHandoverPublished
from schemas.topics import CRISIS
from services.common.publishing import Publisher
from services.outofhours.domain.handover import (
    HandoverPart,
    PartStatus,
    acknowledgement_event,
    handover_events,
    handover_id_for,
    handover_parts,
)
from services.outofhours.domain.record import NightRecord
from services.outofhours.domain.shifts import Shift
from services.outofhours.handlers import event_record

log = structlog.get_logger(__name__)


class NightReader(Protocol):
    async def night(self, shift: Shift) -> NightRecord: ...

    async def handover_status(self, handover_id: UUID) -> dict[str, PartStatus]: ...


class NoHandoverError(LookupError):
    """The day team acknowledged a night whose handover was never published."""


@dataclass(frozen=True)
class HandoverReport:
    """A night's handover: its record, its ranked parts, the events and what was sent now."""

    record: NightRecord
    handover_id: UUID
    parts: Sequence[HandoverPart]
    events: Sequence[OohHandoverPublished]
    sent: int
    status: dict[str, PartStatus]


async def publish_handover(
    reader: NightReader,
    publisher: Publisher,
    shift: Shift,
    *,
    team: str,
    at: datetime,
    publish: bool = True,
) -> HandoverReport:
    """Build the night's handover and publish the parts not published yet (unless ``publish``
    is false: a preview)."""
    record = await reader.night(shift)
    handover_id = handover_id_for(shift)
    status = await reader.handover_status(handover_id)
    events = handover_events(record, team=team, at=at)
    known = set().union(*(s.event_ids for s in status.values())) if status else set()
    new = [e for e in events if e.event_id not in known] if publish else []
    await publisher.publish([event_record(CRISIS.name, e) for e in new])
    for event in new:
        log.info(
            "ooh_handover_published",
            event_id=str(event.event_id),
            handover_id=str(handover_id),
            child_id=event.subject.child_id,
            rank=event.payload.rank,
        )
    return HandoverReport(
        record=record,
        handover_id=handover_id,
        parts=handover_parts(record),
        events=events,
        sent=len(new),
        status=status,
    )


async def acknowledge_handover(
    reader: NightReader,
    publisher: Publisher,
    shift: Shift,
    *,
    team: str,
    worker: str,
    at: datetime,
    children: Sequence[str] = (),
) -> list[OohHandoverAcknowledged]:
    """The day team acknowledges the night's handover (every part not yet acknowledged)."""
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
    await publisher.publish([event_record(CRISIS.name, e) for e in events])
    for event in events:
        log.info(
            "ooh_handover_acknowledged",
            event_id=str(event.event_id),
            handover_id=str(handover_id),
            child_id=event.subject.child_id,
        )
    return events


@dataclass
class HandoverScheduler:
    """Publishes the owed handover on its own, every ``interval`` seconds, from the set time."""

    reader: NightReader
    publisher: Publisher
    shift_to_publish: Callable[[datetime], Shift | None]
    team: str
    clock: Callable[[], datetime]
    interval: float = 30.0

    async def tick(self) -> HandoverReport | None:
        now = self.clock()
        shift = self.shift_to_publish(now)
        if shift is None:
            return None
        return await publish_handover(self.reader, self.publisher, shift, team=self.team, at=now)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next tick tries again; the handover clock is the net
                log.warning("ooh_handover_tick_failed", error_class=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
