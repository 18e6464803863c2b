"""One statutory clock (a timer) and the pure transitions of its life: start, warn, breach, meet
and cancel.

A `Timer` is the row the SLA views hold: whose clock (`child_id`), which (`kind`, under which
`policy`), on what record (`subject_ref`, e.g. the referral or plan id), when it started and falls
due, when to warn, and its status. Its id is derived (`timer_id_for`), so a redelivered start
event starts the same timer and an insert can simply do nothing on conflict. Every transition
takes the moment it happens and returns a new timer; none reads a clock.

Status rules. `open` until something happens. `breach` only strictly after `due_at` (never at or
before it) and only once, leaving the timer live (`breached`): the work is still owed. `meet`
closes an open or breached timer as `met` and `cancel` as `cancelled` (the clock no longer
applies: plan ended, case closed). Closing sets `breached_at` from the closing moment alone: a
close after the deadline keeps the recorded breach, or records one at the closing moment if the
breach loop had not (the event arrived before the loop ran, or in a replay), so `breached_at` is
set exactly when the clock was missed and the handler can announce that breach once; a close at or
before the deadline clears a breach the loop recorded because the closing event reached us only
after the deadline had passed (the clock was met in time; `sla.met` says `late = false`). A
replay and live processing therefore agree on every closed timer however the loop was timed.
Closed timers (`met`, `cancelled`) ignore further transitions, which keeps redelivery harmless;
a closing event with an *earlier* moment that arrives later is applied to `reopened(timer)` (the
clock as it was before its close) by `ChildClocks`, so the earliest closing wins in any order.
Comparisons are done in UTC: Python compares two datetimes with the same zone by wall clock,
which is wrong in the repeated autumn hour.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Literal, Self
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from services.common.calendar import WorkingCalendar, to_london
from services.sla.domain.deadlines import Deadline, WarnBefore
from services.sla.domain.policies import Policy
from services.sla.domain.triggers import SUBJECT_SEPARATOR

TIMER_NAMESPACE = UUID("6f1d7a0e-4b7c-5d38-9a51-3c2e8f0b9d14")
"""uuid5 namespace of timer ids. Changing it would start a second copy of every live clock."""


class TimerStatus(StrEnum):
    OPEN = "open"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


LIVE_STATUSES = frozenset({TimerStatus.OPEN, TimerStatus.BREACHED})
"""Statuses a timer can still be met or cancelled from."""


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class Timer(BaseModel):
    """A statutory clock for one child on one record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timer_id: UUID
    child_id: str
    kind: str
    policy: str
    subject_ref: str
    started_at: AwareDatetime
    due_at: AwareDatetime
    warn_at: AwareDatetime | None = None
    status: TimerStatus = TimerStatus.OPEN
    warned_at: AwareDatetime | None = None
    met_at: AwareDatetime | None = None
    breached_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if _utc(self.due_at) < _utc(self.started_at):
            raise ValueError("due_at is before started_at")
        if self.breached_at is not None and _utc(self.breached_at) <= _utc(self.due_at):
            raise ValueError("breached_at must be strictly after due_at")
        if (self.met_at is not None) != (self.status is TimerStatus.MET):
            raise ValueError(f"met_at must be set exactly when status is met ({self.status})")
        if (self.cancelled_at is not None) != (self.status is TimerStatus.CANCELLED):
            raise ValueError(f"cancelled_at must be set exactly when cancelled ({self.status})")
        if self.status is TimerStatus.BREACHED and self.breached_at is None:
            raise ValueError("a breached timer records breached_at")
        return self

    @property
    def live(self) -> bool:
        """Still owed: open or breached."""
        return self.status in LIVE_STATUSES

    @property
    def anchor_id(self) -> UUID | None:
        """The record id for `sla.*` events' `anchor_id`: the subject's first part, if a UUID."""
        try:
            return UUID(self.subject_ref.split(SUBJECT_SEPARATOR, 1)[0])
        except ValueError:
            return None

    @property
    def late(self) -> bool:
        """Met after its deadline."""
        return self.met_at is not None and _utc(self.met_at) > _utc(self.due_at)


@lru_cache(maxsize=65_536)
def timer_id_for(child_id: str, kind: str, subject_ref: str) -> UUID:
    """The deterministic id of the `kind` clock on `subject_ref` for `child_id` (uuid5).

    The policy is not part of it: switching a council's policy must not open a second clock.
    Memoised (a pure function of three strings, asked for several times per event).
    """
    return uuid5(TIMER_NAMESPACE, "\x1f".join((child_id, kind, subject_ref)))


def start_timer(
    policy: Policy,
    kind: str,
    *,
    child_id: str,
    subject_ref: str,
    started_at: datetime,
    calendar: WorkingCalendar,
    timer_id: UUID | None = None,
    anchor: datetime | None = None,
    deadline: Deadline | None = None,
    warn_before: WarnBefore | Literal["none"] | None = None,
) -> Timer:
    """A new open timer of `kind` under `policy`, due by the rule's deadline.

    The deadline and warning (the rule's, unless a start trigger overrides them) are counted
    from `anchor` (default `started_at`). A deadline that falls before
    the start (reports due 2 working days before a conference booked tomorrow) is moved to the
    start: the clock is already due and breaches at once. `timer_id` defaults to
    `timer_id_for(child_id, kind, subject_ref)`.
    """
    rule = policy.rule(kind)
    started = to_london(started_at)
    due = (deadline or rule.deadline).due(
        anchor if anchor is not None else started, calendar, policy.office_hours
    )
    if _utc(due) < _utc(started):
        due = started
    warning = policy.warning_for(kind, warn_before)
    warn_at = None if warning is None else warning.warn_at(due, started, calendar)
    return Timer(
        timer_id=timer_id or timer_id_for(child_id, kind, subject_ref),
        child_id=child_id,
        kind=kind,
        policy=policy.name,
        subject_ref=subject_ref,
        started_at=started,
        due_at=due,
        warn_at=warn_at,
    )


def due_for_warning(timer: Timer, now: datetime) -> bool:
    """Whether the warning is owed at `now`: open, not warned, warn_at reached, not yet overdue.

    A timer already past its deadline gets the breach, not a late warning.
    """
    return (
        timer.status is TimerStatus.OPEN
        and timer.warn_at is not None
        and timer.warned_at is None
        and _utc(timer.warn_at) <= _utc(now) <= _utc(timer.due_at)
    )


def due_for_breach(timer: Timer, now: datetime) -> bool:
    """Whether the breach is owed at `now`: open and `now` strictly after `due_at`."""
    return timer.status is TimerStatus.OPEN and _utc(now) > _utc(timer.due_at)


def warn(timer: Timer, at: datetime) -> Timer:
    """Record the warning at `at`; refuses when `due_for_warning` is false."""
    if not due_for_warning(timer, at):
        raise ValueError(f"timer {timer.timer_id} is not due for a warning at {at.isoformat()}")
    return timer.model_copy(update={"warned_at": to_london(at)})


def breach(timer: Timer, at: datetime) -> Timer:
    """Record the breach at `at`; refuses at or before `due_at` and on a timer not open."""
    if not due_for_breach(timer, at):
        raise ValueError(f"timer {timer.timer_id} is not due for a breach at {at.isoformat()}")
    # valid by construction (open → breached, strictly after due_at): no revalidation, because
    # the breach loop calls this thousands of times a second when a backlog falls due
    return timer.model_copy(update={"status": TimerStatus.BREACHED, "breached_at": to_london(at)})


def _breach_when_closed(timer: Timer, at: datetime) -> datetime | None:
    """`breached_at` after closing at `at`: none if in time, else the recorded breach or `at`."""
    if _utc(at) <= _utc(timer.due_at):
        return None
    return timer.breached_at or at


def meet(timer: Timer, at: datetime) -> Timer:
    """Close the timer as met at `at`; a late meet records the breach if not yet recorded, an
    on-time meet clears one recorded before the meeting event arrived."""
    if not timer.live:
        return timer
    met_at = to_london(at)
    return _revalidated(
        timer,
        status=TimerStatus.MET,
        met_at=met_at,
        breached_at=_breach_when_closed(timer, met_at),
    )


def cancel(timer: Timer, at: datetime) -> Timer:
    """Close the timer as cancelled at `at`; the breach is settled as for `meet`."""
    if not timer.live:
        return timer
    cancelled_at = to_london(at)
    return _revalidated(
        timer,
        status=TimerStatus.CANCELLED,
        cancelled_at=cancelled_at,
        breached_at=_breach_when_closed(timer, cancelled_at),
    )


def closed_at(timer: Timer) -> datetime | None:
    """When the timer was met or cancelled (None while it is live)."""
    return timer.met_at or timer.cancelled_at


def reopened(timer: Timer) -> Timer:
    """A closed timer as it was before its close, to close it again at an earlier moment.

    A breach the close itself recorded (at or after the closing moment) goes with the close; a
    breach the loop recorded before it stays. A live timer is returned as it is.
    """
    closed = closed_at(timer)
    if timer.live or closed is None:
        return timer
    breached = timer.breached_at
    if breached is not None and _utc(breached) >= _utc(closed):
        breached = None
    return timer.model_copy(
        update={
            "status": TimerStatus.OPEN if breached is None else TimerStatus.BREACHED,
            "met_at": None,
            "cancelled_at": None,
            "breached_at": breached,
        }
    )


def newly_breached(before: Timer, after: Timer) -> bool:
    """Whether a transition recorded a breach (the handler announces `sla.breached` once)."""
    return before.breached_at is None and after.breached_at is not None


def _revalidated(timer: Timer, **changes: object) -> Timer:
    return Timer.model_validate({**timer.model_dump(), **changes})
