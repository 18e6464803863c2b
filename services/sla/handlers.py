"""The SLA lifecycle use case: a batch of lifecycle events starts, meets and cancels clocks.

Per batch of records (from any lifecycle topic): decode each (a record that cannot be decoded or
validated is dead-lettered with its original bytes); keep the events the policy reacts to or that
name the child's team; then, inside one unit of work (one transaction): lock the batch's children,
drop events already in the ``processed_events`` ledger, load each child's clocks, apply the events
in order (`ChildClocks`), publish ``sla.started`` / ``sla.met`` / ``sla.cancelled`` and any dead
letters and wait for the broker, and only then write the timers, the team, the early events, the
ledger rows and the outbox rows (a late meet or cancel's ``sla.breached``) and commit. Publishing
before the commit with deterministic ids means a crash between the two loses nothing: the batch is
delivered again, computes the same changes and republishes the same ids. An event that lacks a
field the policy needs (`TriggerError`) is dead-lettered as a validation failure and not recorded
as processed, so it can be replayed after a fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import orjson
import pydantic
import structlog

from schemas.envelope import EventBase
from schemas.registry import UnknownEventType, parse_event
from services.common.calendar import WorkingCalendar
from services.common.deadletter import DeadLetterReason, Origin, dead_letter_for
from services.common.publishing import OutRecord, Publisher
from services.sla import announcements
from services.sla.announcements import Cause, OutboxEntry
from services.sla.clocks import TEAM_EVENT_TYPES, Applied, ChildClocks, EarlyEvent
from services.sla.domain.policies import Policy
from services.sla.domain.timers import Timer
from services.sla.domain.triggers import TriggerError, Verb

log = structlog.get_logger(__name__)

TIMERS_CONSUMER = "sla.timers"
"""The ``processed_events.consumer`` of the lifecycle handler."""

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ChildRecord:
    """What is stored about one child: every clock, the current team, the early events."""

    timers: tuple[Timer, ...] = ()
    team: str | None = None
    team_as_of: datetime | None = None
    early: tuple[EarlyEvent, ...] = ()


@dataclass(frozen=True)
class TimerWrite:
    """A timer to insert or update; `team` is recorded when the timer is new."""

    timer: Timer
    new: bool
    team: str | None
    started_event_id: UUID | None
    closed_event_id: UUID | None


@dataclass(frozen=True)
class TeamWrite:
    child_id: str
    team: str
    as_of: datetime
    event_id: UUID


@dataclass(frozen=True)
class BatchWrite:
    recorded_at: datetime
    timers: Sequence[TimerWrite] = ()
    teams: Sequence[TeamWrite] = ()
    early: Sequence[tuple[str, EarlyEvent]] = ()
    processed: Sequence[UUID] = ()
    outbox: Sequence[OutboxEntry] = ()


class TimerUnit(Protocol):
    """One transaction over a batch's children, their rows locked until it ends."""

    @property
    def processed(self) -> frozenset[UUID]: ...

    @property
    def children(self) -> Mapping[str, ChildRecord]: ...

    async def save(self, write: BatchWrite) -> None: ...


class TimerStore(Protocol):
    def unit(
        self, consumer: str, child_ids: Sequence[str], event_ids: Sequence[UUID]
    ) -> AbstractAsyncContextManager[TimerUnit]: ...


@dataclass(frozen=True)
class BatchOutcome:
    applied: int
    changes: int
    duplicates: int
    ignored: int
    dead_lettered: int


@dataclass(frozen=True)
class _Fresh:
    body: dict[str, Any]
    cause: Cause
    origin: Origin

    @property
    def child_id(self) -> str:
        return str(self.body["subject"]["child_id"])

    @property
    def event_type(self) -> str:
        return str(self.body["event_type"])


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
            "sla_event_deadlettered",
            reason=reason.value,
            error_class=letter.exception_class,
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
        )


def _decode(origin: Origin) -> dict[str, Any] | tuple[DeadLetterReason, Exception]:
    if origin.value is None:
        return DeadLetterReason.DESERIALIZATION, ValueError("record has no value")
    try:
        data = orjson.loads(origin.value)
    except orjson.JSONDecodeError as exc:
        return DeadLetterReason.DESERIALIZATION, exc
    if not isinstance(data, dict):
        return DeadLetterReason.DESERIALIZATION, ValueError("expected a JSON object")
    try:
        return parse_event(data).model_dump(mode="json")
    except (UnknownEventType, pydantic.ValidationError) as exc:
        return DeadLetterReason.VALIDATION, exc


def _header(origin: Origin, name: str) -> str | None:
    for key, value in origin.headers:
        if key == name:
            return value.decode("utf-8", "replace")
    return None


@dataclass
class TimerHandler:
    store: TimerStore
    publisher: Publisher
    policy: Policy
    calendar: WorkingCalendar
    consumer_group: str
    clock: Clock
    consumer: str = TIMERS_CONSUMER

    def _starts_or_ends_clocks(self, event_type: str) -> bool:
        return event_type in self.policy.event_types

    def _relevant(self, event_type: str) -> bool:
        return self._starts_or_ends_clocks(event_type) or event_type in TEAM_EVENT_TYPES

    async def handle_batch(self, records: Sequence[Origin]) -> BatchOutcome:
        now = self.clock()
        batch = _Batch(self.consumer_group, now)
        fresh: dict[UUID, _Fresh] = {}
        ignored = duplicates = 0
        for origin in records:
            labelled = _header(origin, "event_type")
            if labelled is not None and not self._relevant(labelled):
                ignored += 1
                continue
            decoded = _decode(origin)
            if isinstance(decoded, tuple):
                batch.reject(origin, *decoded)
                continue
            if not self._relevant(decoded["event_type"]):
                ignored += 1
                continue
            event_id = UUID(decoded["event_id"])
            if event_id in fresh:
                duplicates += 1
                continue
            correlation = decoded.get("correlation_id")
            cause = Cause(event_id, UUID(correlation) if correlation else None)
            fresh[event_id] = _Fresh(decoded, cause, origin)

        if not fresh:
            await self.publisher.publish(batch.dead)
            return BatchOutcome(0, 0, duplicates, ignored, len(batch.dead))

        child_ids = sorted({f.child_id for f in fresh.values()})
        async with self.store.unit(self.consumer, child_ids, list(fresh)) as unit:
            for event_id in unit.processed & fresh.keys():
                duplicates += 1
                _log("sla_event_duplicate", fresh.pop(event_id))
            clocks = {
                child: self._clocks(child, unit.children.get(child, ChildRecord()))
                for child in child_ids
            }
            done: list[UUID] = []
            for event_id, item in fresh.items():
                try:
                    changes = clocks[item.child_id].apply(item.body, item.cause)
                except TriggerError as exc:
                    batch.reject(item.origin, DeadLetterReason.VALIDATION, exc)
                    continue
                except ValueError as exc:  # a deterministic domain failure: retrying cannot help
                    batch.reject(item.origin, DeadLetterReason.PROCESSING, exc)
                    continue
                if self._starts_or_ends_clocks(item.event_type):
                    done.append(event_id)
                _log("sla_event_applied", item, changes=len(changes))

            published, outbox = self._announce(clocks.values())
            await self.publisher.publish([*batch.dead, *published])
            await unit.save(_write(now, clocks.values(), done, outbox))

        n_changes = sum(len(c.applied) for c in clocks.values())
        return BatchOutcome(len(done), n_changes, duplicates, ignored, len(batch.dead))

    def _clocks(self, child_id: str, record: ChildRecord) -> ChildClocks:
        return ChildClocks.load(
            child_id,
            self.policy,
            self.calendar,
            timers=record.timers,
            team=record.team,
            team_as_of=record.team_as_of,
            early=record.early,
        )

    def _announce(
        self, children: Iterable[ChildClocks]
    ) -> tuple[list[OutRecord], list[OutboxEntry]]:
        records: list[OutRecord] = []
        outbox: list[OutboxEntry] = []
        for clocks in children:
            for applied in clocks.applied:
                records.append(announcements.record_of(_announcement(applied, clocks.team)))
                after = applied.change.after
                if applied.change.newly_breached:
                    event = announcements.breached(after, team=clocks.team, cause=applied.cause)
                    outbox.append(announcements.outbox_entry(after, event))
                _log_change(applied)
        return records, outbox


def _announcement(applied: Applied, team: str | None) -> EventBase:
    change, cause = applied.change, applied.cause
    if change.verb is Verb.START:
        return announcements.started(change.after, team=team, cause=cause)
    if change.verb is Verb.STOP:
        return announcements.met(change.after, team=team, cause=cause)
    return announcements.cancelled(change.after, team=team, cause=cause, reason=change.cause)


def _write(
    now: datetime,
    children: Iterable[ChildClocks],
    processed: Sequence[UUID],
    outbox: Sequence[OutboxEntry],
) -> BatchWrite:
    timers: list[TimerWrite] = []
    teams: list[TeamWrite] = []
    early: list[tuple[str, EarlyEvent]] = []
    for clocks in children:
        changed = {a.change.after.timer_id for a in clocks.applied}
        for timer_id in changed:
            timers.append(
                TimerWrite(
                    timer=clocks.timers[timer_id],
                    new=timer_id in clocks.started_by,
                    team=clocks.team,
                    started_event_id=clocks.started_by.get(timer_id),
                    closed_event_id=clocks.closed_by.get(timer_id),
                )
            )
        if clocks.team_changed and clocks.team and clocks.team_as_of and clocks.team_event_id:
            teams.append(
                TeamWrite(clocks.child_id, clocks.team, clocks.team_as_of, clocks.team_event_id)
            )
        early.extend((clocks.child_id, e) for e in clocks.new_early)
    return BatchWrite(
        recorded_at=now,
        timers=timers,
        teams=teams,
        early=early,
        processed=processed,
        outbox=outbox,
    )


def _log(name: str, item: _Fresh, **extra: object) -> None:
    log.info(
        name,
        event_id=str(item.cause.event_id),
        event_type=item.event_type,
        child_id=item.child_id,
        topic=item.origin.topic,
        partition=item.origin.partition,
        offset=item.origin.offset,
        **extra,
    )


def _log_change(applied: Applied) -> None:
    timer = applied.change.after
    log.info(
        _LOG_NAMES[applied.change.verb],
        timer_id=str(timer.timer_id),
        child_id=timer.child_id,
        kind=timer.kind,
        due_at=timer.due_at.isoformat(),
        cause_event_id=str(applied.cause.event_id),
        late_breach=applied.change.newly_breached,
    )


_LOG_NAMES = {
    Verb.START: "sla_timer_started",
    Verb.STOP: "sla_timer_met",
    Verb.CANCEL: "sla_timer_cancelled",
}
