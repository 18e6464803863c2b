"""One child's clocks while a batch is planned: a function of the child's history, not of the order
it was read in.

`ChildClocks` wraps the pure `apply_event` with the state a batch needs: every timer the child
has (a start of a clock that exists is dropped — the insert-if-absent rule), the child's *team
history* and its *early events*. Topics are not ordered with each other (SLA reads four, each in
its own consumer group), so every rule here gives the same clocks whatever order a child's events
are processed in:

- **Team.** Every event naming a team (`TEAM_EVENT_TYPES`, read at `TEAM_FIELDS`) is kept as a
  `TeamMark` (its event time ``occurred_at``, its id, the team). A timer's team is the child's team
  *as of the timer's start*: the mark latest by (event time, event id) at or before
  ``started_at``, else none (`team_as_of`); it is recomputed for every timer of the child whenever
  a mark arrives, in any order. The child's current team is the latest mark overall.
- **Early events.** A stop or cancel that could close a clock the child does not have yet — one
  that names no subject (it closes every clock of its kind started before it), or whose subject's
  clock does not exist — is kept; whenever a clock of the child starts, the kept events are
  applied to it. `apply_event` refuses to close a clock that started after the closing moment,
  so a kept event never closes a later clock.
- **Earliest closing wins.** A closed clock is closed again by a closing event that is earlier by
  (closing moment, event id) than the one that closed it, whichever arrived first: met_at,
  cancelled_at, the status and ``closed_event_id`` are those of the earliest applicable closing.
  Such a correction is written but not announced again (`Applied.correction`): its transition's
  announcement id was already used.

Pure: no I/O, the calendar and policy are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from services.common.calendar import WorkingCalendar
from services.sla.domain.announcements import Cause
from services.sla.domain.lifecycle import Plan, TimerChange, apply_event, close_changes, plan_of
from services.sla.domain.policies import Policies
from services.sla.domain.timers import Timer, closed_at, reopened, timer_id_for
from services.sla.domain.triggers import TriggerError, Verb, as_moment

TEAM_FIELDS = ("payload.team", "payload.route.team")
"""Where an event names the team now responsible for the child (first present wins)."""

TEAM_EVENT_TYPES = frozenset(
    {"referral.accepted", "assessment.started", "screening.decision_recorded", "screening.triaged"}
)
"""Event types that name the child's team, read even when the policy starts no clock on them."""

_NO_EVENT = UUID(int=0)
"""The closing event id of a clock closed before ids were recorded: loses every tie."""


def wanted_event_types(policy: Policies) -> frozenset[str]:
    """Every event type the SLA service reads: what the policy's clocks react to, and teams."""
    return frozenset(policy.event_types) | TEAM_EVENT_TYPES


@dataclass(frozen=True)
class EarlyEvent:
    """A stop or cancel kept for clocks of the child that start later."""

    event_id: UUID
    event_type: str
    occurred_at: datetime
    body: Mapping[str, Any]


@dataclass(frozen=True)
class TeamMark:
    """One team-naming event: from `as_of` (its event time) on, the child's team is `team`."""

    as_of: datetime
    event_id: UUID
    team: str

    @property
    def key(self) -> tuple[datetime, UUID]:
        """The total order of marks: event time, then event id."""
        return (_utc(self.as_of), self.event_id)


@dataclass(frozen=True)
class Applied:
    """One timer change and the event that caused it; a `correction` (an earlier closing of a
    clock already closed) is written but not announced."""

    change: TimerChange
    cause: Cause
    correction: bool = False


def team_named_by(body: Mapping[str, Any]) -> str | None:
    """The team an event names (``payload.team`` or the screening route's team), if any."""
    for path in TEAM_FIELDS:
        value: Any = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value:
            return value
    return None


def team_as_of(history: Iterable[TeamMark], moment: datetime) -> TeamMark | None:
    """The mark in force at `moment`: the latest by (event time, event id) at or before it."""
    at = _utc(moment)
    return max((m for m in history if _utc(m.as_of) <= at), key=lambda m: m.key, default=None)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _closing_key(timer: Timer, event_id: UUID | None) -> tuple[datetime, UUID]:
    moment = closed_at(timer)
    if moment is None:  # only closed timers are compared; kept for the type checker
        raise ValueError(f"timer {timer.timer_id} is not closed")
    return (_utc(moment), event_id or _NO_EVENT)


@dataclass(frozen=True)
class _Saved:
    """A child's clocks before one event, to put back if the event is refused."""

    timers: dict[UUID, Timer]
    teams: list[TeamMark]
    early: list[EarlyEvent]
    started_by: dict[UUID, UUID]
    closed_by: dict[UUID, UUID]
    applied: int
    new_early: int
    new_teams: int


@dataclass
class ChildClocks:
    """The clocks of one child during one batch, and what the batch changed.

    `timer_teams` and `team_event_id` are what is stored (each timer's recorded team, the event of
    the child's recorded current team), to write only what changed; `closed_by` holds the closing
    event of every closed timer (stored, then this batch's).
    """

    child_id: str
    policy: Policies
    calendar: WorkingCalendar
    timers: dict[UUID, Timer]
    teams: list[TeamMark] = field(default_factory=list)
    timer_teams: dict[UUID, str | None] = field(default_factory=dict)
    team_event_id: UUID | None = None
    early: list[EarlyEvent] = field(default_factory=list)
    closed_by: dict[UUID, UUID] = field(default_factory=dict)
    applied: list[Applied] = field(default_factory=list)
    new_early: list[EarlyEvent] = field(default_factory=list)
    new_teams: list[TeamMark] = field(default_factory=list)
    started_by: dict[UUID, UUID] = field(default_factory=dict)
    plans: dict[UUID, Plan] = field(default_factory=dict, repr=False, compare=False)
    """The kept early events' plans (derived from their bodies alone, so never invalid)."""

    @classmethod
    def load(
        cls,
        child_id: str,
        policy: Policies,
        calendar: WorkingCalendar,
        *,
        timers: Iterable[Timer] = (),
        timer_teams: Mapping[UUID, str | None] | None = None,
        closed_by: Mapping[UUID, UUID] | None = None,
        teams: Iterable[TeamMark] = (),
        team_event_id: UUID | None = None,
        early: Iterable[EarlyEvent] = (),
    ) -> ChildClocks:
        return cls(
            child_id=child_id,
            policy=policy,
            calendar=calendar,
            timers={t.timer_id: t for t in timers},
            teams=sorted(teams, key=lambda m: m.key),
            timer_teams=dict(timer_teams or {}),
            team_event_id=team_event_id,
            early=sorted(early, key=lambda e: (_utc(e.occurred_at), e.event_id)),
            closed_by=dict(closed_by or {}),
        )

    # -- teams -------------------------------------------------------------------------------

    @property
    def latest_team(self) -> TeamMark | None:
        """The child's current team: the latest mark by (event time, event id)."""
        return self.teams[-1] if self.teams else None

    @property
    def team(self) -> str | None:
        latest = self.latest_team
        return None if latest is None else latest.team

    @property
    def team_changed(self) -> bool:
        """Whether the current team is another event's than the one stored."""
        latest = self.latest_team
        return latest is not None and latest.event_id != self.team_event_id

    def team_of(self, timer: Timer) -> str | None:
        """The timer's team: the child's team as of the timer's start (event time)."""
        mark = team_as_of(self.teams, timer.started_at)
        return None if mark is None else mark.team

    # -- events ------------------------------------------------------------------------------

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
        closed = [t for t in self.timers.values() if not t.live]
        plan = plan_of(self.policy, body)
        changes = [
            c
            for c in apply_event(
                self.policy,
                body,
                live_timers=self.timers.values(),
                calendar=self.calendar,
                plan=plan,
            )
            if not (c.verb is Verb.START and c.after.timer_id in self.timers)
        ]
        for change in changes:
            self._record(change, cause)
        changes.extend(self._close_earlier(body, cause, closed, plan))
        self._note_team(body, cause.event_id)
        if self._may_close_a_clock_not_yet_started(body, plan):
            event = EarlyEvent(
                event_id=cause.event_id,
                event_type=str(body["event_type"]),
                occurred_at=as_moment(body["occurred_at"], "occurred_at"),
                body=body,
            )
            self.early.append(event)
            self.early.sort(key=lambda e: (_utc(e.occurred_at), e.event_id))
            self.new_early.append(event)
            self.plans[event.event_id] = plan
        new = [c.after.timer_id for c in changes if c.verb is Verb.START]
        if new:
            changes.extend(self._apply_early(new, cause.event_id))
        return changes

    def _snapshot(self) -> _Saved:
        return _Saved(
            timers=dict(self.timers),
            teams=list(self.teams),
            early=list(self.early),
            started_by=dict(self.started_by),
            closed_by=dict(self.closed_by),
            applied=len(self.applied),
            new_early=len(self.new_early),
            new_teams=len(self.new_teams),
        )

    def _restore(self, saved: _Saved) -> None:
        self.timers, self.teams, self.early = saved.timers, saved.teams, saved.early
        self.started_by, self.closed_by = saved.started_by, saved.closed_by
        del self.applied[saved.applied :]  # append-only during a batch: cut back to the mark
        del self.new_early[saved.new_early :]
        del self.new_teams[saved.new_teams :]

    def _record(self, change: TimerChange, cause: Cause, *, correction: bool = False) -> None:
        timer_id = change.after.timer_id
        self.timers[timer_id] = change.after
        if change.verb is Verb.START:
            self.started_by[timer_id] = cause.event_id
        else:
            self.closed_by[timer_id] = cause.event_id
        self.applied.append(Applied(change, cause, correction))

    def _note_team(self, body: Mapping[str, Any], event_id: UUID) -> None:
        team = team_named_by(body)
        if team is None or any(m.event_id == event_id for m in self.teams):
            return
        mark = TeamMark(
            as_of=as_moment(body["occurred_at"], "occurred_at"), event_id=event_id, team=team
        )
        self.teams.append(mark)
        self.teams.sort(key=lambda m: m.key)
        self.new_teams.append(mark)

    def _may_close_a_clock_not_yet_started(self, body: Mapping[str, Any], plan: Plan) -> bool:
        """Whether a stop or cancel of the event could close a clock this child does not have:
        it names no subject (every clock of its kind), or its subject's clock does not exist."""
        for action in plan.closing:
            subject = plan.subject(action, body)
            if (
                subject is None
                or timer_id_for(self.child_id, action.kind, subject) not in self.timers
            ):
                return True
        return False

    def _close_earlier(
        self, body: Mapping[str, Any], cause: Cause, closed: Iterable[Timer], plan: Plan
    ) -> list[TimerChange]:
        """Close again the `closed` timers this event closes earlier than their closing did."""
        closing = plan.closing
        if not closing:
            return []
        kinds = {a.kind for a in closing}
        earliest = min(_utc(plan.moment(a)) for a in closing)
        candidates = [
            reopened(t) for t in closed if t.kind in kinds and _closing_key(t, None)[0] >= earliest
        ]
        if not candidates:
            return []
        made: list[TimerChange] = []
        for change in close_changes(self.policy, body, live_timers=candidates, plan=plan):
            timer_id = change.after.timer_id
            before = self.timers[timer_id]
            if _closing_key(change.after, cause.event_id) < _closing_key(
                before, self.closed_by.get(timer_id)
            ):
                corrected = change.model_copy(update={"before": before})
                self._record(corrected, cause, correction=True)
                made.append(corrected)
        return made

    def _apply_early(self, new_ids: list[UUID], current_event: UUID) -> list[TimerChange]:
        """Apply the kept early events to the clocks this event just started."""
        kinds = {self.timers[i].kind for i in new_ids}
        made: list[TimerChange] = []
        for early in list(self.early):
            if early.event_id == current_event or not any(
                a.kind in kinds and a.verb is not Verb.START
                for a in self.policy.actions_for(early.event_type)
            ):
                continue
            cause = Cause(early.event_id, _correlation(early.body))
            plan = self.plans.get(early.event_id)
            if plan is None:
                plan = self.plans[early.event_id] = plan_of(self.policy, early.body)
            new = [self.timers[i] for i in new_ids]
            closed = [t for t in new if not t.live]
            for change in close_changes(
                self.policy, early.body, live_timers=[t for t in new if t.live], plan=plan
            ):
                self._record(change, cause)
                made.append(change)
            made.extend(self._close_earlier(early.body, cause, closed, plan))
        return made


def _correlation(body: Mapping[str, Any]) -> UUID | None:
    value = body.get("correlation_id")
    return UUID(str(value)) if value else None
