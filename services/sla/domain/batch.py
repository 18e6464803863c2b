"""What one batch of lifecycle events leaves behind: the rows to write and the events to announce.

The lifecycle handler loads each child's stored state (`ChildRecord`), applies the batch's events
to it (`ChildClocks`), and then asks this module what follows, purely: `announcements` — one
``sla.started`` / ``sla.met`` / ``sla.cancelled`` per change, and for a change that recorded a
breach (a late meet or cancel) a *scheduled* ``sla.breached`` that may not go out before its own
moment — and `batch_write`, the rows the store writes in the batch's transaction: each timer that
changed or whose team (the child's team as of its start) changed, the new team marks, each
child's new current team, the new early events. A correction (an earlier closing of a clock
already closed) is written and not announced: its announcement id was already used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from schemas.envelope import EventBase
from schemas.topics import SLA
from services.common.calendar import WorkingCalendar
from services.common.publishing import OutRecord, event_record
from services.sla.domain import announcements
from services.sla.domain.announcements import OutboxEntry
from services.sla.domain.clocks import Applied, ChildClocks, EarlyEvent, TeamMark
from services.sla.domain.policies import Policies
from services.sla.domain.timers import Timer
from services.sla.domain.triggers import Verb


@dataclass(frozen=True)
class ChildRecord:
    """What is stored about one child: every clock (with its recorded team and closing event),
    the team history, the event of the recorded current team, the early events."""

    timers: tuple[Timer, ...] = ()
    timer_teams: Mapping[UUID, str | None] = field(default_factory=dict)
    closed_by: Mapping[UUID, UUID] = field(default_factory=dict)
    teams: tuple[TeamMark, ...] = ()
    team_event_id: UUID | None = None
    early: tuple[EarlyEvent, ...] = ()


@dataclass(frozen=True)
class TimerWrite:
    """A timer to insert (`new`) or update; `team` (always written) is its team as of its start,
    recomputed when the timer is new or a team mark of its child arrived, else the one stored."""

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
    team_marks: Sequence[tuple[str, TeamMark]] = ()
    early: Sequence[tuple[str, EarlyEvent]] = ()
    scheduled: Sequence[OutboxEntry] = ()


def clocks_of(
    child_id: str, record: ChildRecord, policy: Policies, calendar: WorkingCalendar
) -> ChildClocks:
    """A child's clocks for one batch, from what is stored about it."""
    return ChildClocks.load(
        child_id,
        policy,
        calendar,
        timers=record.timers,
        timer_teams=record.timer_teams,
        closed_by=record.closed_by,
        teams=record.teams,
        team_event_id=record.team_event_id,
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
            if applied.correction:
                continue
            records.append(event_record(SLA.name, _announcement(applied, clocks.team)))
            if applied.change.newly_breached:
                after = applied.change.after
                event = announcements.breached(after, team=clocks.team, cause=applied.cause)
                scheduled.append(announcements.outbox_entry(after, event))
    return records, scheduled


def batch_write(
    recorded_at: datetime, children: Iterable[ChildClocks], scheduled: Sequence[OutboxEntry]
) -> BatchWrite:
    """The rows one batch writes: changed timers (when a team mark arrived, every timer of the
    child whose team as of its start changed too), team marks, new current teams, new early
    events, scheduled events."""
    timers: list[TimerWrite] = []
    teams: list[TeamWrite] = []
    marks: list[tuple[str, TeamMark]] = []
    early: list[tuple[str, EarlyEvent]] = []
    for clocks in children:
        changed = {a.change.after.timer_id for a in clocks.applied}
        for timer_id in sorted(clocks.timers):
            timer, new = clocks.timers[timer_id], timer_id in clocks.started_by
            stored = clocks.timer_teams.get(timer_id)
            # a timer's team changes only with the child's team history (or it is new)
            team = clocks.team_of(timer) if new or clocks.new_teams else stored
            if timer_id not in changed and team == stored:
                continue
            timers.append(
                TimerWrite(
                    timer=timer,
                    new=new,
                    team=team,
                    started_event_id=clocks.started_by.get(timer_id),
                    closed_event_id=clocks.closed_by.get(timer_id),
                )
            )
        latest = clocks.latest_team
        if latest is not None and clocks.team_changed:
            teams.append(TeamWrite(clocks.child_id, latest.team, latest.as_of, latest.event_id))
        marks.extend((clocks.child_id, m) for m in clocks.new_teams)
        early.extend((clocks.child_id, e) for e in clocks.new_early)
    return BatchWrite(
        recorded_at=recorded_at,
        timers=timers,
        teams=teams,
        team_marks=marks,
        early=early,
        scheduled=scheduled,
    )
