"""Supervision, ASYE and case-oversight schedules: when each is next due, from event time alone.

Rules (DOMAIN.md §7, values from the dated ``Profile``): an NQSW is supervised at the cadence of
the step their employment has reached (LGA 2020: weekly to 6 weeks, fortnightly to 6 months;
CWDC 2008: fortnightly for the programme year), monthly after, an experienced worker monthly;
the next session is due one interval after the last *counted* session (or after employment
start); a session shorter than ``min_minutes``, interrupted, or of a kind the profile does not
count is flagged and does not count. Long leave pauses everything: a due date, a step boundary
and the ASYE end move later by the days of leave they span, and nothing is due while the worker
is on leave. A due date on a weekend or bank holiday moves to the next working day (as SLA
deadlines do). Invariant: every function here is a pure function of the dates given and the
``as_of`` date passed in — never the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from schemas.events.workforce import CaseType, SupervisionKind
from services.common.calendar import WorkingCalendar, shift_months
from services.workforce.domain.profiles import Duration, Profile


@dataclass(frozen=True)
class Leave:
    """Long leave: from ``starts_on`` up to (not including) ``returned_on``; open while away."""

    starts_on: date
    returned_on: date | None = None

    def covers(self, day: date) -> bool:
        return self.starts_on <= day and (self.returned_on is None or day < self.returned_on)


def paused_days(leaves: Iterable[Leave], start: date, end: date) -> int:
    """Days of leave within ``[start, end)``."""
    total = 0
    for leave in leaves:
        a = max(start, leave.starts_on)
        b = end if leave.returned_on is None else min(end, leave.returned_on)
        total += max(0, (b - a).days)
    return total


def extended(start: date, end: date, leaves: Sequence[Leave]) -> date:
    """``end`` moved later by the leave days between ``start`` and it (leave it now spans too)."""
    current = end
    for _ in range(100):
        moved = end + timedelta(days=paused_days(leaves, start, current))
        if moved == current:
            return current
        current = moved
    return current  # pragma: no cover - leave is finite, so the fixed point is reached


SessionFlag = Literal["short", "interrupted", "kind_not_counted"]


def session_flag(
    profile: Profile, kind: SupervisionKind, minutes: int, interrupted: bool
) -> SessionFlag | None:
    """Why a session does not count, or ``None`` when it does."""
    if kind not in profile.counted_kinds:
        return "kind_not_counted"
    if interrupted:
        return "interrupted"
    if minutes < profile.min_minutes:
        return "short"
    return None


def interval_at(
    profile: Profile, employed_from: date, nqsw: bool, day: date, leaves: Sequence[Leave]
) -> Duration:
    """The cadence in force on ``day``: the NQSW step reached (boundaries paused by leave)."""
    if nqsw:
        for step in profile.nqsw_steps:
            if day < extended(employed_from, step.until.after(employed_from), leaves):
                return step.every
    return profile.experienced_every


@dataclass(frozen=True)
class SupervisionDue:
    profile: str
    every: str
    last_counted: date | None
    due_on: date | None
    status: Literal["due", "overdue", "paused"]


def working_or_next(calendar: WorkingCalendar, day: date) -> date:
    return day if calendar.is_working_day(day) else calendar.next_working_day(day)


def due_after(
    profile: Profile,
    calendar: WorkingCalendar,
    *,
    employed_from: date,
    nqsw: bool,
    anchor: date,
    leaves: Sequence[Leave],
) -> tuple[Duration, date]:
    every = interval_at(profile, employed_from, nqsw, anchor, leaves)
    due = extended(anchor, every.after(anchor), leaves)
    return every, working_or_next(calendar, due)


def next_supervision(
    profile: Profile,
    calendar: WorkingCalendar,
    *,
    employed_from: date,
    nqsw: bool,
    counted: Iterable[date],
    leaves: Sequence[Leave],
    as_of: date,
) -> SupervisionDue:
    """The worker's next supervision as of ``as_of`` (sessions after ``as_of`` are ignored)."""
    held = [d for d in counted if d <= as_of]
    last = max(held) if held else None
    every, due = due_after(
        profile,
        calendar,
        employed_from=employed_from,
        nqsw=nqsw,
        anchor=last or employed_from,
        leaves=leaves,
    )
    if any(leave.covers(as_of) for leave in leaves):
        return SupervisionDue(profile.name, str(every), last, None, "paused")
    return SupervisionDue(profile.name, str(every), last, due, "overdue" if as_of > due else "due")


def planned_schedule(
    profile: Profile,
    calendar: WorkingCalendar,
    *,
    employed_from: date,
    nqsw: bool,
    leaves: Sequence[Leave],
    until: date,
) -> list[date]:
    """Every due date up to ``until`` if each session is held on the day it is due."""
    out: list[date] = []
    anchor = employed_from
    while True:
        _, due = due_after(
            profile, calendar, employed_from=employed_from, nqsw=nqsw, anchor=anchor, leaves=leaves
        )
        if due > until:
            return out
        out.append(due)
        anchor = due


@dataclass(frozen=True)
class AsyePlan:
    ends_on: date
    reviews: tuple[tuple[int, date], ...]
    """(month, due date) of each review, paused days added."""


def asye_plan(profile: Profile, starts_on: date, pauses: Sequence[Leave]) -> AsyePlan:
    """The ASYE's end and reviews: ``programme_months`` and ``review_months`` plus paused days."""

    def at(months: int) -> date:
        return extended(starts_on, shift_months(starts_on, months), pauses)

    return AsyePlan(
        ends_on=at(profile.programme_months),
        reviews=tuple((m, at(m)) for m in profile.review_months),
    )


def next_review(plan: AsyePlan, held_months: Iterable[int]) -> tuple[int, date] | None:
    held = set(held_months)
    return next(((m, d) for m, d in plan.reviews if m not in held), None)


def oversight_due(profile: Profile, case_type: CaseType, last: date) -> date:
    """Case supervision / management oversight due ``oversight_days`` after the last entry."""
    return last + timedelta(days=profile.oversight_days[case_type])


def allocation_due(profile: Profile, calendar: WorkingCalendar, referral_on: date) -> date:
    """A referred child should have an allocated worker within ``allocation_working_days``."""
    return calendar.add_working_days(referral_on, profile.allocation_working_days)
