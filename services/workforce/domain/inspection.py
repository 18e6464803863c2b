"""The inspection bundle: for each child an inspector tracks, what the record shows.

DOMAIN.md §7: inspectors (2012) tracked 73 children and wanted, for any child they sample, the
worker, the team and that worker's supervision record. ``bundle_for`` folds the accepted history
(the child's own events and the directory's) as of a moment into one ``ChildBundle``: the
timeline (every event about the child, in event-time order, in words — codes and teams, no
narrative), the allocation history, the case-supervision entries and management-oversight notes
on the child's record, the case audits, and for every worker who held the child the supervision
compliance as of that moment under the profile in force then (counted and flagged sessions in
the last six months, the last counted one, the next due and whether it is overdue — the rules of
``supervision.py``). Pure: the history, the profiles and the calendar are passed in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from schemas.envelope import EventBase
from schemas.events.audits import AuditCompleted, AuditModerated, AuditScheduled
from schemas.events.workforce import (
    ChildAllocated,
    ChildReallocated,
    ChildUnallocated,
    LeaveEnded,
    LeaveStarted,
    OversightRecorded,
    SupervisionHeld,
    WorkerJoined,
)
from services.common.calendar import WorkingCalendar, to_london
from services.workforce.domain.profiles import ProfileBook, ProfileError
from services.workforce.domain.supervision import Leave, next_supervision, session_flag

WINDOW = timedelta(days=183)
"""Supervision compliance looks at the six months before the bundle's moment."""

WORDS_FROM = (
    "decision",
    "outcome",
    "priority",
    "kind",
    "case_type",
    "reason",
    "category",
    "team",
    "team_id",
    "worker",
    "worker_id",
    "grade",
    "tool",
)
"""Payload fields a timeline line may quote: codes, teams and worker ids, never narrative."""


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    event_type: str
    what: str


class AllocationEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    change: str
    worker_id: str
    team_id: str | None = None
    case_type: str | None = None
    reason: str | None = None


class SupervisionEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    worker_id: str
    supervisor_id: str
    kind: str
    minutes: int
    interrupted: bool
    decision: str | None = None


class OversightEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    manager_id: str
    note: str


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    stage: str
    audit_id: str
    by: str
    tool: str | None = None
    grade: str | None = None
    actions: int = 0


class Compliance(BaseModel):
    """One worker's supervision as of the bundle's moment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    worker_id: str
    profile: str | None
    newly_qualified: bool | None
    sessions_in_six_months: int
    counted_in_six_months: int
    flagged: dict[str, int]
    last_counted: date | None
    next_due: date | None
    status: str


class ChildBundle(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    child_id: str
    as_of: datetime
    timeline: tuple[TimelineEntry, ...]
    allocations: tuple[AllocationEntry, ...]
    case_supervision: tuple[SupervisionEntry, ...]
    oversight: tuple[OversightEntry, ...]
    audits: tuple[AuditEntry, ...]
    workers: tuple[Compliance, ...]

    @property
    def current_worker(self) -> str | None:
        if not self.allocations or self.allocations[-1].change == "unallocated":
            return None
        return self.allocations[-1].worker_id


def _what(event: EventBase) -> str:
    payload = event.payload.model_dump(mode="json")
    said = [f"{k} {payload[k]}" for k in WORDS_FROM if isinstance(payload.get(k), str | int)]
    words = event.event_type.replace(".", " ").replace("_", " ")
    return f"{words} ({', '.join(said)})" if said else words


def bundle_for(
    child_id: str,
    child_events: Iterable[EventBase],
    directory: Iterable[EventBase],
    *,
    as_of: datetime,
    book: ProfileBook,
    calendar: WorkingCalendar,
) -> ChildBundle:
    """The child's bundle from its events and the directory's (any order; folded by event time)."""

    def ordered(events: Iterable[EventBase]) -> list[EventBase]:
        return sorted(
            (e for e in events if e.occurred_at < as_of), key=lambda e: (e.occurred_at, e.event_id)
        )

    mine, dir_ = ordered(child_events), ordered(directory)
    timeline = tuple(
        TimelineEntry(at=e.occurred_at, event_type=e.event_type, what=_what(e)) for e in mine
    )
    allocations: list[AllocationEntry] = []
    oversight: list[OversightEntry] = []
    audits: list[AuditEntry] = []
    for e in mine:
        if isinstance(e, ChildAllocated | ChildReallocated):
            p = e.payload
            change = "allocated" if isinstance(e, ChildAllocated) else "reallocated"
            reason = e.payload.reason.value if isinstance(e, ChildReallocated) else None
            allocations.append(
                AllocationEntry(
                    at=p.allocated_at,
                    change=change,
                    worker_id=p.worker_id,
                    team_id=p.team_id,
                    case_type=p.case_type.value,
                    reason=reason,
                )
            )
        elif isinstance(e, ChildUnallocated):
            allocations.append(
                AllocationEntry(
                    at=e.payload.unallocated_at,
                    change="unallocated",
                    worker_id=e.payload.worker_id,
                    reason=e.payload.reason.value,
                )
            )
        elif isinstance(e, OversightRecorded):
            oversight.append(
                OversightEntry(
                    at=e.payload.recorded_at, manager_id=e.payload.manager_id, note=e.payload.note
                )
            )
        elif isinstance(e, AuditScheduled):
            audits.append(
                AuditEntry(
                    at=e.occurred_at,
                    stage="scheduled",
                    audit_id=str(e.payload.audit_id),
                    by=e.payload.auditor_id,
                    tool=e.payload.tool,
                )
            )
        elif isinstance(e, AuditCompleted):
            audits.append(
                AuditEntry(
                    at=e.payload.completed_at,
                    stage="completed",
                    audit_id=str(e.payload.audit_id),
                    by=e.payload.auditor_id,
                    tool=e.payload.tool,
                    grade=e.payload.grade.value,
                    actions=len(e.payload.actions),
                )
            )
        elif isinstance(e, AuditModerated):
            audits.append(
                AuditEntry(
                    at=e.payload.moderated_at,
                    stage="moderated",
                    audit_id=str(e.payload.audit_id),
                    by=e.payload.moderator_id,
                    grade=e.payload.grade.value,
                )
            )
    holders = sorted({a.worker_id for a in allocations})
    case_supervision = [
        SupervisionEntry(
            at=e.payload.started_at,
            worker_id=e.payload.worker_id,
            supervisor_id=e.payload.supervisor_id,
            kind=e.payload.kind.value,
            minutes=e.payload.duration_minutes,
            interrupted=e.payload.interrupted,
            decision=entry.decision,
        )
        for e in dir_
        if isinstance(e, SupervisionHeld)
        for entry in e.payload.children
        if entry.child_id == child_id
    ]
    return ChildBundle(
        child_id=child_id,
        as_of=as_of,
        timeline=timeline,
        allocations=tuple(allocations),
        case_supervision=tuple(case_supervision),
        oversight=tuple(oversight),
        audits=tuple(audits),
        workers=tuple(_compliance(w, dir_, as_of, book, calendar) for w in holders),
    )


def _compliance(
    worker_id: str,
    directory: list[EventBase],
    as_of: datetime,
    book: ProfileBook,
    calendar: WorkingCalendar,
) -> Compliance:
    joined: WorkerJoined | None = None
    leaves: list[Leave] = []
    sessions: list[SupervisionHeld] = []
    open_leave: dict[str, date] = {}
    for e in directory:
        if isinstance(e, WorkerJoined) and e.payload.worker_id == worker_id:
            joined = e
        elif isinstance(e, LeaveStarted) and e.payload.worker_id == worker_id:
            open_leave[worker_id] = e.payload.starts_on
        elif isinstance(e, LeaveEnded) and e.payload.worker_id == worker_id:
            started = open_leave.pop(worker_id, None)
            if started is not None:
                leaves.append(Leave(started, e.payload.returned_on))
        elif isinstance(e, SupervisionHeld) and e.payload.worker_id == worker_id:
            sessions.append(e)
    if worker_id in open_leave:
        leaves.append(Leave(open_leave[worker_id]))
    day = to_london(as_of).date()
    recent = [s for s in sessions if as_of - s.payload.started_at <= WINDOW]
    if joined is None:
        return Compliance(
            worker_id=worker_id,
            profile=None,
            newly_qualified=None,
            sessions_in_six_months=len(recent),
            counted_in_six_months=0,
            flagged={},
            last_counted=None,
            next_due=None,
            status="worker not in the directory",
        )
    try:
        profile = book.in_force(day)
    except ProfileError:
        return Compliance(
            worker_id=worker_id,
            profile=None,
            newly_qualified=joined.payload.newly_qualified,
            sessions_in_six_months=len(recent),
            counted_in_six_months=0,
            flagged={},
            last_counted=None,
            next_due=None,
            status="no workforce profile in force",
        )
    flagged: dict[str, int] = defaultdict(int)
    counted: list[date] = []
    counted_recently = 0
    for s in sessions:
        p = s.payload
        flag = session_flag(profile, p.kind, p.duration_minutes, p.interrupted)
        is_recent = as_of - p.started_at <= WINDOW
        if flag is None:
            counted.append(to_london(p.started_at).date())
            counted_recently += is_recent
        elif is_recent:
            flagged[flag] += 1
    due = next_supervision(
        profile,
        calendar,
        employed_from=joined.payload.employed_from,
        nqsw=joined.payload.newly_qualified,
        counted=counted,
        leaves=leaves,
        as_of=day,
    )
    return Compliance(
        worker_id=worker_id,
        profile=profile.name,
        newly_qualified=joined.payload.newly_qualified,
        sessions_in_six_months=len(recent),
        counted_in_six_months=counted_recently,
        flagged=dict(flagged),
        last_counted=due.last_counted,
        next_due=due.due_on,
        status=due.status,
    )
