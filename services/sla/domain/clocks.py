"""One child's clocks while a batch is planned: events applied in order, early closures kept.

`ChildClocks` wraps the pure `apply_event` with the state a batch needs: every timer the child
has (a start of a clock that exists but is closed is dropped — the insert-if-absent rule), the
child's current team (from the latest event that names one) and the child's *early events*.
Topics are not ordered with each other, and a stop can be read before the start it closes (a
``screening.decision_recorded`` on ``frontdoor.casework`` before its contact on
``frontdoor.contacts``, or before screening published ``screening.triaged``). So an event whose
stop or cancel found no clock to close is kept, and whenever a clock of the child starts, the kept
events are applied to the new clock in their order; `apply_event` already refuses to close a
clock that started after the closing moment, so a kept event never closes a later clock. Pure:
no I/O, the calendar and policy are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from services.common.calendar import WorkingCalendar
from services.sla.domain.announcements import Cause
from services.sla.domain.lifecycle import TimerChange, apply_event
from services.sla.domain.policies import Policy
from services.sla.domain.timers import Timer
from services.sla.domain.triggers import TriggerError, Verb, as_moment

TEAM_FIELDS = ("payload.team", "payload.route.team")
"""Where an event names the team now responsible for the child (first present wins)."""

TEAM_EVENT_TYPES = frozenset(
    {"referral.accepted", "assessment.started", "screening.decision_recorded", "screening.triaged"}
)
"""Event types that name the child's team, read even when the policy starts no clock on them."""


def wanted_event_types(policy: Policy) -> frozenset[str]:
    """Every event type the SLA service reads: what the policy's clocks react to, and teams."""
    return frozenset(policy.event_types) | TEAM_EVENT_TYPES


@dataclass(frozen=True)
class EarlyEvent:
    """A stop or cancel that found no clock to close, kept for clocks that start later."""

    event_id: UUID
    event_type: str
    occurred_at: datetime
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Applied:
    """One timer change and the event that caused it."""

    change: TimerChange
    cause: Cause


def team_named_by(body: Mapping[str, Any]) -> str | None:
    """The team an event names (``payload.team`` or the screening route's team), if any."""
    for path in TEAM_FIELDS:
        value: Any = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value:
            return value
    return None


@dataclass(frozen=True)
class _Saved:
    """A child's clocks before one event, to put back if the event is refused."""

    timers: dict[UUID, Timer]
    team: tuple[str | None, datetime | None, UUID | None]
    early: list[EarlyEvent]
    applied: int
    new_early: int
    started_by: dict[UUID, UUID]
    closed_by: dict[UUID, UUID]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@dataclass
class ChildClocks:
    """The clocks of one child during one batch, and what the batch changed."""

    child_id: str
    policy: Policy
    calendar: WorkingCalendar
    timers: dict[UUID, Timer]
    team: str | None = None
    team_as_of: datetime | None = None
    early: list[EarlyEvent] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)
    new_early: list[EarlyEvent] = field(default_factory=list)
    team_event_id: UUID | None = None
    started_by: dict[UUID, UUID] = field(default_factory=dict)
    closed_by: dict[UUID, UUID] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        child_id: str,
        policy: Policy,
        calendar: WorkingCalendar,
        *,
        timers: Iterable[Timer] = (),
        team: str | None = None,
        team_as_of: datetime | None = None,
        early: Iterable[EarlyEvent] = (),
    ) -> ChildClocks:
        return cls(
            child_id=child_id,
            policy=policy,
            calendar=calendar,
            timers={t.timer_id: t for t in timers},
            team=team,
            team_as_of=team_as_of,
            early=sorted(early, key=lambda e: _utc(e.occurred_at)),
        )

    @property
    def team_changed(self) -> bool:
        return self.team_event_id is not None

    def apply(self, body: Mapping[str, Any], cause: Cause) -> list[TimerChange]:
        """Apply one event (as a JSON mapping); return the changes it made, in order.

        Raises `TriggerError` (the event, or a kept early event it brings back, lacks a field the
        policy needs) and leaves the clocks exactly as they were: a refused event changes nothing.
        """
        saved = self._snapshot()
        try:
            return self._apply(body, cause)
        except TriggerError:
            self._restore(saved)
            raise

    def _apply(self, body: Mapping[str, Any], cause: Cause) -> list[TimerChange]:
        changes = [
            c
            for c in apply_event(
                self.policy, body, live_timers=self.timers.values(), calendar=self.calendar
            )
            if not (c.verb is Verb.START and c.after.timer_id in self.timers)
        ]
        self._note_team(body, cause.event_id)
        for change in changes:
            self._record(change, cause)
        if self._closes_nothing_for_some_kind(body, changes):
            event = EarlyEvent(
                event_id=cause.event_id,
                event_type=str(body["event_type"]),
                occurred_at=as_moment(body["occurred_at"], "occurred_at"),
                body=body,
            )
            self.early.append(event)
            self.early.sort(key=lambda e: _utc(e.occurred_at))
            self.new_early.append(event)
        new = [c.after.timer_id for c in changes if c.verb is Verb.START]
        if new:
            changes.extend(self._apply_early(new, cause.event_id))
        return changes

    def _snapshot(self) -> _Saved:
        return _Saved(
            timers=dict(self.timers),
            team=(self.team, self.team_as_of, self.team_event_id),
            early=list(self.early),
            applied=len(self.applied),
            new_early=len(self.new_early),
            started_by=dict(self.started_by),
            closed_by=dict(self.closed_by),
        )

    def _restore(self, saved: _Saved) -> None:
        self.timers, self.early = saved.timers, saved.early
        self.team, self.team_as_of, self.team_event_id = saved.team
        del self.applied[saved.applied :]  # append-only during a batch: cut back to the mark
        del self.new_early[saved.new_early :]
        self.started_by, self.closed_by = saved.started_by, saved.closed_by

    def _record(self, change: TimerChange, cause: Cause) -> None:
        timer_id = change.after.timer_id
        self.timers[timer_id] = change.after
        if change.verb is Verb.START:
            self.started_by[timer_id] = cause.event_id
        else:
            self.closed_by[timer_id] = cause.event_id
        self.applied.append(Applied(change, cause))

    def _note_team(self, body: Mapping[str, Any], event_id: UUID) -> None:
        team = team_named_by(body)
        if team is None:
            return
        at = as_moment(body["occurred_at"], "occurred_at")
        if self.team_as_of is None or _utc(at) >= _utc(self.team_as_of):
            self.team, self.team_as_of, self.team_event_id = team, at, event_id

    def _closes_nothing_for_some_kind(
        self, body: Mapping[str, Any], changes: list[TimerChange]
    ) -> bool:
        closed = {c.after.kind for c in changes if c.verb is not Verb.START}
        return any(
            action.verb is not Verb.START and action.kind not in closed and action.applies_to(body)
            for action in self.policy.actions_for(str(body["event_type"]))
        )

    def _apply_early(self, new_ids: list[UUID], current_event: UUID) -> list[TimerChange]:
        made: list[TimerChange] = []
        for early in list(self.early):
            if early.event_id == current_event:
                continue
            live = [self.timers[i] for i in new_ids if self.timers[i].live]
            if not live:
                break
            for change in apply_event(
                self.policy, early.body, live_timers=live, calendar=self.calendar
            ):
                if change.verb is not Verb.START:
                    self._record(change, Cause(early.event_id, _correlation(early.body)))
                    made.append(change)
        return made


def _correlation(body: Mapping[str, Any]) -> UUID | None:
    value = body.get("correlation_id")
    return UUID(str(value)) if value else None
