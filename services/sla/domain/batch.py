"""What one batch of lifecycle events leaves behind: the rows to write and the events to announce.

The lifecycle handler loads each child's stored state (`ChildRecord`), applies the batch's events
to it (`ChildClocks`), and then asks this module what follows, purely: `announcements` — one
``sla.started`` / ``sla.met`` / ``sla.cancelled`` per change, and for a change that recorded a
breach (a late meet or cancel) a *scheduled* ``sla.breached`` that may not go out before its own
moment — and `batch_write`, the rows the store writes in the batch's transaction: each changed
timer (with the team when it is new), each child's new team, the new early events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from schemas.envelope import EventBase
from schemas.topics import SLA
from services.common.calendar import WorkingCalendar
from services.common.publishing import OutRecord, event_record
from services.sla.domain import announcements
from services.sla.domain.announcements import OutboxEntry
from services.sla.domain.clocks import Applied, ChildClocks, EarlyEvent
from services.sla.domain.policies import Policy
from services.sla.domain.timers import Timer
from services.sla.domain.triggers import Verb


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
    """Everything a batch writes; `recorded_at` is the worker's clock (processing time)."""

    recorded_at: datetime
    timers: Sequence[TimerWrite] = ()
    teams: Sequence[TeamWrite] = ()
    early: Sequence[tuple[str, EarlyEvent]] = ()
    scheduled: Sequence[OutboxEntry] = ()


def clocks_of(
    child_id: str, record: ChildRecord, policy: Policy, calendar: WorkingCalendar
) -> ChildClocks:
    """A child's clocks for one batch, from what is stored about it."""
    return ChildClocks.load(
        child_id,
        policy,
        calendar,
        timers=record.timers,
        team=record.team,
        team_as_of=record.team_as_of,
        early=record.early,
    )


def _announcement(applied: Applied, team: str | None) -> EventBase:
    change, cause = applied.change, applied.cause
    if change.verb is Verb.START:
        return announcements.started(change.after, team=team, cause=cause)
    if change.verb is Verb.STOP:
        return announcements.met(change.after, team=team, cause=cause)
    return announcements.cancelled(change.after, team=team, cause=cause, reason=change.cause)


def announcements_of(
    children: Iterable[ChildClocks],
) -> tuple[list[OutRecord], list[OutboxEntry]]:
    """The records to emit with the batch's commit, and the breaches scheduled for later."""
    records: list[OutRecord] = []
    scheduled: list[OutboxEntry] = []
    for clocks in children:
        for applied in clocks.applied:
            records.append(event_record(SLA.name, _announcement(applied, clocks.team)))
            if applied.change.newly_breached:
                after = applied.change.after
                event = announcements.breached(after, team=clocks.team, cause=applied.cause)
                scheduled.append(announcements.outbox_entry(after, event))
    return records, scheduled


def batch_write(
    recorded_at: datetime, children: Iterable[ChildClocks], scheduled: Sequence[OutboxEntry]
) -> BatchWrite:
    """The rows one batch writes: changed timers, new teams, new early events, scheduled events."""
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
        recorded_at=recorded_at, timers=timers, teams=teams, early=early, scheduled=scheduled
    )
