"""The conferences use case: a batch of casework events updates conferences, plans and invitations.

Per batch of ``frontdoor.casework`` records: decode each (a record that cannot be decoded or
validated is dead-lettered with its original bytes) and keep the event types the service reads;
then, inside one unit of work (one transaction): lock the batch's children, drop events already in
the ``processed_events`` ledger, load each child's record (with the referrals the events name,
from intake's ``events`` history when this service has not seen them), apply the events in order
(`apply_event`), publish each invitation to the invited agency's inbox and a copy to
``frontdoor.conferences`` plus any dead letters and wait for the broker, and only then write the
changed records and the ledger rows and commit. Invitations carry deterministic ids, so a crash
between publishing and committing republishes the same ids. An event that breaks a rule of the
child's record (`InvariantViolation`) goes to ``frontdoor.deadletter`` with reason ``validation``
and a message a data officer can act on; it changes nothing and is not marked processed, so it can
be replayed once the record is corrected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

import orjson
import pydantic
import structlog

from schemas.envelope import EventBase
from schemas.events.conferences import ConferenceInvitationIssued
from schemas.registry import UnknownEventType, parse_event
from schemas.topics import CONFERENCES, agency_inbox
from services.common.calendar import WorkingCalendar
from services.common.deadletter import DeadLetterReason, Origin, dead_letter_for
from services.common.publishing import OutRecord, Publisher
from services.conferences.domain.invariants import InvariantViolation
from services.conferences.domain.processing import HANDLED_EVENT_TYPES, apply_event
from services.conferences.domain.rules import ConferenceRules
from services.conferences.domain.state import ChildFile

log = structlog.get_logger(__name__)

CONSUMER = "conferences"
"""The ``processed_events.consumer`` of this handler."""

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ChildWrite:
    """One child's record as loaded and as the batch left it; the store writes the difference."""

    before: ChildFile
    after: ChildFile


@dataclass(frozen=True)
class BatchWrite:
    recorded_at: datetime
    children: Sequence[ChildWrite] = ()
    processed: Sequence[UUID] = ()
    invitations: Sequence[ConferenceInvitationIssued] = ()


class ConferenceUnit(Protocol):
    """One transaction over a batch's children, their rows locked until it ends."""

    @property
    def processed(self) -> frozenset[UUID]: ...

    @property
    def children(self) -> Mapping[str, ChildFile]: ...

    async def save(self, write: BatchWrite) -> None: ...


class ConferenceStore(Protocol):
    def unit(
        self,
        consumer: str,
        child_ids: Sequence[str],
        event_ids: Sequence[UUID],
        referral_ids: Mapping[str, Sequence[UUID]],
    ) -> AbstractAsyncContextManager[ConferenceUnit]: ...


@dataclass(frozen=True)
class BatchOutcome:
    applied: int
    invitations: int
    duplicates: int
    ignored: int
    dead_lettered: int


@dataclass(frozen=True)
class _Fresh:
    event: EventBase
    origin: Origin


@dataclass
class _Batch:
    consumer_group: str
    failed_at: datetime
    dead: list[OutRecord] = field(default_factory=list)

    def reject(self, origin: Origin, reason: DeadLetterReason, exc: Exception) -> None:
        letter = dead_letter_for(
            origin, reason, exc, consumer_group=self.consumer_group, failed_at=self.failed_at
        )
        self.dead.append(letter.record())
        log.warning(
            "conference_event_deadlettered",
            reason=reason.value,
            error_class=letter.exception_class,
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
        )


def _decode(origin: Origin) -> EventBase | tuple[DeadLetterReason, Exception]:
    if origin.value is None:
        return DeadLetterReason.DESERIALIZATION, ValueError("record has no value")
    try:
        data = orjson.loads(origin.value)
    except orjson.JSONDecodeError as exc:
        return DeadLetterReason.DESERIALIZATION, exc
    if not isinstance(data, dict):
        return DeadLetterReason.DESERIALIZATION, ValueError("expected a JSON object")
    try:
        return parse_event(data)
    except (UnknownEventType, pydantic.ValidationError) as exc:
        return DeadLetterReason.VALIDATION, exc


def _header(origin: Origin, name: str) -> str | None:
    for key, value in origin.headers:
        if key == name:
            return value.decode("utf-8", "replace")
    return None


def _referral_named(event: EventBase) -> UUID | None:
    value = getattr(event.payload, "referral_id", None)
    return value if isinstance(value, UUID) else None


def invitation_records(invitation: ConferenceInvitationIssued) -> list[OutRecord]:
    """The invitation on the invited agency's inbox, and its copy on ``frontdoor.conferences``."""
    value = orjson.dumps(invitation.model_dump(mode="json"))
    key = invitation.subject.child_id.encode()
    headers = [("event_type", invitation.event_type.encode())]
    return [
        OutRecord(agency_inbox(invitation.payload.agency).name, key, value, headers),
        OutRecord(CONFERENCES.name, key, value, headers),
    ]


@dataclass
class ConferenceHandler:
    store: ConferenceStore
    publisher: Publisher
    rules: ConferenceRules
    calendar: WorkingCalendar
    consumer_group: str
    clock: Clock
    consumer: str = CONSUMER

    async def handle_batch(self, records: Sequence[Origin]) -> BatchOutcome:
        now = self.clock()
        batch = _Batch(self.consumer_group, now)
        fresh, ignored, duplicates = _sort(records, batch)
        if not fresh:
            await self.publisher.publish(batch.dead)
            return BatchOutcome(0, 0, duplicates, ignored, len(batch.dead))

        child_ids = sorted({f.event.subject.child_id for f in fresh.values()})
        referrals: dict[str, list[UUID]] = {}
        for item in fresh.values():
            named = _referral_named(item.event)
            if named is not None:
                referrals.setdefault(item.event.subject.child_id, []).append(named)

        async with self.store.unit(self.consumer, child_ids, list(fresh), referrals) as unit:
            for event_id in unit.processed & fresh.keys():
                duplicates += 1
                _log("conference_event_duplicate", fresh.pop(event_id))
            before = {c: unit.children.get(c) or ChildFile(child_id=c) for c in child_ids}
            after = dict(before)
            issued: list[ConferenceInvitationIssued] = []
            done: list[UUID] = []
            for event_id, item in fresh.items():
                child_id = item.event.subject.child_id
                try:
                    outcome = apply_event(
                        after[child_id], item.event, rules=self.rules, calendar=self.calendar
                    )
                except InvariantViolation as exc:
                    batch.reject(item.origin, DeadLetterReason.VALIDATION, exc)
                    continue
                except ValueError as exc:  # deterministic (e.g. a date outside the calendar)
                    batch.reject(item.origin, DeadLetterReason.PROCESSING, exc)
                    continue
                after[child_id] = outcome.child
                issued.extend(outcome.issued)
                done.append(event_id)
                _log(
                    "conference_event_applied",
                    item,
                    action=outcome.action,
                    invitations=len(outcome.issued),
                )
            published = [r for invitation in issued for r in invitation_records(invitation)]
            await self.publisher.publish([*batch.dead, *published])
            changed = [ChildWrite(before[c], after[c]) for c in child_ids if after[c] != before[c]]
            await unit.save(
                BatchWrite(recorded_at=now, children=changed, processed=done, invitations=issued)
            )

        return BatchOutcome(len(done), len(issued), duplicates, ignored, len(batch.dead))


def _sort(records: Sequence[Origin], batch: _Batch) -> tuple[dict[UUID, _Fresh], int, int]:
    """The batch's events the service reads, by id; how many were ignored and repeated.

    Records that cannot be decoded or validated are dead-lettered on `batch`.
    """
    fresh: dict[UUID, _Fresh] = {}
    ignored = duplicates = 0
    for origin in records:
        labelled = _header(origin, "event_type")
        if labelled is not None and labelled not in HANDLED_EVENT_TYPES:
            ignored += 1
            continue
        decoded = _decode(origin)
        if isinstance(decoded, tuple):
            batch.reject(origin, *decoded)
        elif decoded.event_type not in HANDLED_EVENT_TYPES:
            ignored += 1
        elif decoded.event_id in fresh:
            duplicates += 1
        else:
            fresh[decoded.event_id] = _Fresh(decoded, origin)
    return fresh, ignored, duplicates


def _log(name: str, item: _Fresh, **extra: object) -> None:
    log.info(
        name,
        event_id=str(item.event.event_id),
        event_type=item.event.event_type,
        child_id=item.event.subject.child_id,
        topic=item.origin.topic,
        partition=item.origin.partition,
        offset=item.origin.offset,
        **extra,
    )
