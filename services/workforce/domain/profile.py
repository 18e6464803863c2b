"""The workforce profile inspectors ask for: the team tree and every worker in post, as of a day.

In 2012 inspectors wanted, within 24 hours, the "organisational structures and workforce profile
of social workers" (DOMAIN.md §7). ``workforce_profile`` folds the accepted workforce history (the
directory's events and the allocations) as it stood at the end of ``as_of`` (Europe/London) into
one ``WorkforceProfile``: the teams as a tree (team, manager, parent) with, per team, the workers
in post, their FTE, the agency headcount and FTE, the vacancies and the DfE caseload; and per
worker the role, FTE, agency flag, NQSW status, open cases, weighted load against the cap of the
profile in force that day, and the last counted supervision. Invariant: nothing is invented —
an item the history does not hold is ``None`` and named in that worker's (or team's) ``gaps``,
and an event naming a team or worker the directory did not hold at its time is left out and
counted (``refused_events``), by the same rule as the workforce service (``references.py``).
Pure: the history, the profiles and the calendar are passed in; events are folded in event-time
order (events of the same instant in the order given: the log's, from the adapter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from schemas.envelope import EventBase
from schemas.events.workforce import (
    AsyeCompletedPayload,
    AsyeStartedPayload,
    ChildAllocated,
    ChildReallocated,
    ChildUnallocated,
    LeaveEndedPayload,
    LeaveStartedPayload,
    Role,
    SupervisionHeld,
    TeamRecordedPayload,
    WorkerChangedPayload,
    WorkerJoined,
    WorkerJoinedPayload,
    WorkerLeftPayload,
)
from schemas.events.workforce import TeamRecorded as TeamRecordedEvent
from services.common.calendar import LONDON, WorkingCalendar, to_london
from services.workforce.domain.caseload import Allocation, Holder, cap, dfe_caseload, weighted_load
from services.workforce.domain.profiles import Profile, ProfileBook, ProfileError
from services.workforce.domain.references import references
from services.workforce.domain.supervision import Leave, next_supervision, session_flag


class WorkerProfile(BaseModel):
    """One worker in post on the day; ``None`` where the history lacks the item (see ``gaps``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    worker_id: str
    team_id: str
    role: str
    org_role: int
    fte: Decimal
    agency_worker: bool
    newly_qualified: bool
    """An NQSW on the day: joined newly qualified and the ASYE not completed by then."""
    asye: str
    employed_from: date
    case_holder: bool
    on_leave_since: date | None
    swe_number: str | None
    cases: int
    cp_not_co_worked: int
    weighted_load: Decimal | None
    cap: Decimal | None
    over_cap: bool | None
    last_supervision: date | None
    next_supervision: date | None
    supervision_status: str | None
    flagged_sessions: int
    gaps: tuple[str, ...]


class TeamProfile(BaseModel):
    """One team's node in the tree, with the counts of its own workers (not its sub-teams')."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team_id: str
    name: str
    manager_id: str | None
    parent_team_id: str | None
    depth: int
    headcount: int
    fte: Decimal
    agency_headcount: int
    agency_fte: Decimal
    nqsw_headcount: int
    establishment_fte: Decimal | None
    vacancies_fte: Decimal | None
    children: int
    dfe_caseload: Decimal | None
    gaps: tuple[str, ...]


class WorkforceProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: date
    profile: str | None
    teams: tuple[TeamProfile, ...]
    """Depth-first: each team followed by its sub-teams (``depth`` 0 for a top-level team)."""
    workers: tuple[WorkerProfile, ...]
    headcount: int
    fte: Decimal
    agency_headcount: int
    agency_fte: Decimal
    vacancies_fte: Decimal | None
    """The sum over teams, or ``None`` when any team's establishment is not in the history."""
    refused_events: int
    """Events naming a team or worker not in the directory at their time: left out, as the
    workforce service leaves them out (dead letters), never turned into a new team or worker."""


@dataclass
class _Worker:
    joined: WorkerJoinedPayload
    role: Role
    fte: Decimal
    team_id: str
    case_holder: bool
    left_on: date | None = None
    leaves: list[Leave] = field(default_factory=list)
    asye_started: date | None = None
    asye_completed: date | None = None
    counted: list[date] = field(default_factory=list)
    flagged: int = 0


@dataclass
class _Fold:
    as_of: date
    teams: dict[str, TeamRecordedPayload] = field(default_factory=dict)
    workers: dict[str, _Worker] = field(default_factory=dict)
    allocations: dict[str, tuple[datetime, Allocation]] = field(default_factory=dict)
    book: ProfileBook | None = None
    refused: int = 0

    def apply(self, e: EventBase, cutoff: datetime) -> None:
        for _field, kind, ref in references(e):
            if ref not in (self.teams if kind == "team" else self.workers):
                self.refused += 1  # the workforce service dead-letters it: so does the fold
                return
        if isinstance(e, TeamRecordedEvent):
            self.teams[e.payload.team_id] = e.payload
        elif isinstance(e, WorkerJoined):
            j = e.payload
            if j.employed_from <= self.as_of and j.worker_id not in self.workers:
                self.workers[j.worker_id] = _Worker(j, j.role, j.fte, j.team_id, j.case_holder)
        elif isinstance(e, SupervisionHeld):
            self._session(e, cutoff)
        elif isinstance(e, ChildAllocated | ChildReallocated | ChildUnallocated):
            self._allocation(e, cutoff)
        else:
            w = self.workers.get(getattr(e.payload, "worker_id", ""))
            if w is not None:
                self._worker_fact(w, e)

    def _worker_fact(self, w: _Worker, e: EventBase) -> None:
        """A change, leaving, long leave or ASYE step of a worker already in the fold."""
        p = e.payload
        if isinstance(p, WorkerChangedPayload) and p.effective_from <= self.as_of:
            w.role = p.role or w.role
            w.fte = w.fte if p.fte is None else p.fte
            w.team_id = p.team_id or w.team_id
            w.case_holder = w.case_holder if p.case_holder is None else p.case_holder
        elif isinstance(p, WorkerLeftPayload):
            w.left_on = p.left_on
        elif isinstance(p, LeaveStartedPayload) and p.starts_on <= self.as_of:
            w.leaves.append(Leave(p.starts_on))
        elif isinstance(p, LeaveEndedPayload) and p.returned_on <= self.as_of:
            if w.leaves and w.leaves[-1].returned_on is None:
                w.leaves[-1] = Leave(w.leaves[-1].starts_on, p.returned_on)
        elif isinstance(p, AsyeStartedPayload) and p.starts_on <= self.as_of:
            w.asye_started = p.starts_on
        elif isinstance(p, AsyeCompletedPayload) and p.completed_on <= self.as_of:
            w.asye_completed = p.completed_on

    def _allocation(
        self, e: ChildAllocated | ChildReallocated | ChildUnallocated, cutoff: datetime
    ) -> None:
        child = e.subject.child_id
        if isinstance(e, ChildUnallocated):
            current = self.allocations.get(child)
            if current is not None and current[0] <= e.payload.unallocated_at < cutoff:
                del self.allocations[child]
            return
        a = e.payload
        if a.allocated_at < cutoff:
            held = Allocation(child, a.worker_id, a.case_type, a.co_worker_id is not None)
            self.allocations[child] = (a.allocated_at, held)

    def _session(self, e: SupervisionHeld, cutoff: datetime) -> None:
        p = e.payload
        w = self.workers.get(p.worker_id)
        if w is None or p.started_at >= cutoff or self.book is None:
            return
        try:
            profile = self.book.in_force(to_london(p.started_at).date())
        except ProfileError:
            w.flagged += 1
            return
        if session_flag(profile, p.kind, p.duration_minutes, p.interrupted) is None:
            w.counted.append(to_london(p.started_at).date())
        else:
            w.flagged += 1


def _in_post(w: _Worker, as_of: date) -> bool:
    return w.left_on is None or w.left_on >= as_of


def _asye(w: _Worker) -> tuple[str, bool, list[str]]:
    """(ASYE status in words, NQSW on the day, gaps)."""
    if w.asye_completed is not None:
        return f"completed {w.asye_completed.isoformat()}", False, []
    if not w.joined.newly_qualified:
        return "not newly qualified", False, []
    if w.asye_started is None:
        return "not started", True, ["asye: no asye.started in the history"]
    return f"since {w.asye_started.isoformat()}", True, []


def _worker_profile(
    w: _Worker,
    fold: _Fold,
    profile: Profile | None,
    calendar: WorkingCalendar,
) -> WorkerProfile:
    as_of = fold.as_of
    gaps: list[str] = []
    asye, nqsw, asye_gaps = _asye(w)
    gaps += asye_gaps
    if w.team_id not in fold.teams:
        gaps.append("team: no team.recorded in the history for this worker's team")
    if w.joined.swe_number is None:
        gaps.append("swe_number: not in the history")
    held = [a for _, a in fold.allocations.values() if a.worker_id == w.joined.worker_id]
    cp_alone = sum(1 for a in held if nqsw and a.case_type.value == "cp" and not a.co_worked)
    load = limit = None
    if profile is None:
        gaps.append("weighted_load: no workforce profile in force on the day")
    else:
        load = weighted_load(profile, held)
        limit = cap(profile, Holder(w.joined.worker_id, w.fte, w.case_holder, nqsw))
    due = None
    if fold.book is not None:
        try:
            supervision_profile = fold.book.in_force(w.joined.employed_from)
        except ProfileError:
            gaps.append("next_supervision: no workforce profile in force at employment start")
        else:
            due = next_supervision(
                supervision_profile,
                calendar,
                employed_from=w.joined.employed_from,
                nqsw=w.joined.newly_qualified,
                counted=w.counted,
                leaves=w.leaves,
                as_of=as_of,
            )
    last = max(w.counted) if w.counted else None
    if last is None:
        flagged = f" ({w.flagged} flagged, not counted)" if w.flagged else ""
        gaps.append(f"last_supervision: no counted session in the history{flagged}")
    on_leave = next((lv.starts_on for lv in w.leaves if lv.covers(as_of)), None)
    return WorkerProfile(
        worker_id=w.joined.worker_id,
        team_id=w.team_id,
        role=w.role.value,
        org_role=w.role.org_role,
        fte=w.fte,
        agency_worker=w.joined.agency_worker,
        newly_qualified=nqsw,
        asye=asye,
        employed_from=w.joined.employed_from,
        case_holder=w.case_holder,
        on_leave_since=on_leave,
        swe_number=w.joined.swe_number,
        cases=len(held),
        cp_not_co_worked=cp_alone,
        weighted_load=load,
        cap=limit,
        over_cap=None if load is None or limit is None else load > limit,
        last_supervision=last,
        next_supervision=None if due is None else due.due_on,
        supervision_status=None if due is None else due.status,
        flagged_sessions=w.flagged,
        gaps=tuple(gaps),
    )


def _team_profile(
    team: TeamRecordedPayload,
    depth: int,
    workers: list[WorkerProfile],
    fold: _Fold,
    profile: Profile | None,
) -> TeamProfile:
    mine = [w for w in workers if w.team_id == team.team_id]
    own = sum((w.fte for w in mine if not w.agency_worker), Decimal(0))
    agency = [w for w in mine if w.agency_worker]
    gaps: list[str] = []
    if team.manager_id is None:
        gaps.append("manager: not in the history")
    elif team.manager_id not in {w.worker_id for w in workers}:
        gaps.append("manager: not a worker in post on the day")
    vacancies = None
    if team.establishment_fte is None:
        gaps.append("vacancies: no establishment_fte on team.recorded")
    else:
        vacancies = max(team.establishment_fte - own, Decimal(0))
    holders = [
        Holder(w.worker_id, w.fte, w.case_holder, w.newly_qualified) for w in mine if w.fte > 0
    ]
    held = [a for _, a in fold.allocations.values() if a.worker_id in {w.worker_id for w in mine}]
    per_fte = None if profile is None else dfe_caseload(profile, holders, held).per_fte
    return TeamProfile(
        team_id=team.team_id,
        name=team.name,
        manager_id=team.manager_id,
        parent_team_id=team.parent_team_id,
        depth=depth,
        headcount=len(mine),
        fte=sum((w.fte for w in mine), Decimal(0)),
        agency_headcount=len(agency),
        agency_fte=sum((w.fte for w in agency), Decimal(0)),
        nqsw_headcount=sum(1 for w in mine if w.newly_qualified),
        establishment_fte=team.establishment_fte,
        vacancies_fte=vacancies,
        children=len({a.child_id for a in held}),
        dfe_caseload=per_fte,
        gaps=tuple(gaps),
    )


def _tree(teams: dict[str, TeamRecordedPayload]) -> list[tuple[TeamRecordedPayload, int]]:
    """Depth-first, children by id; a team whose parent is not recorded is a top-level team."""
    below: dict[str | None, list[str]] = {}
    for t in teams.values():
        parent = t.parent_team_id if t.parent_team_id in teams else None
        below.setdefault(parent, []).append(t.team_id)
    out: list[tuple[TeamRecordedPayload, int]] = []
    seen: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for team_id in sorted(below.get(parent, ())):
            if team_id not in seen:  # a cycle in the parents is cut, not followed
                seen.add(team_id)
                out.append((teams[team_id], depth))
                walk(team_id, depth + 1)

    walk(None, 0)
    for team_id in sorted(set(teams) - seen):  # teams only reachable through a cycle
        out.append((teams[team_id], 0))
    return out


def workforce_profile(
    history: Iterable[EventBase],
    *,
    as_of: date,
    book: ProfileBook,
    calendar: WorkingCalendar,
) -> WorkforceProfile:
    """The profile at the end of ``as_of`` from the workforce history, folded in event time."""
    cutoff = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), LONDON)
    fold = _Fold(as_of, book=book)
    # stable: events of one instant keep the order given (the adapter gives the log's order)
    for e in sorted((e for e in history if e.occurred_at < cutoff), key=lambda e: e.occurred_at):
        fold.apply(e, cutoff)
    try:
        profile: Profile | None = book.in_force(as_of)
    except ProfileError:
        profile = None
    in_post = sorted(
        (w for w in fold.workers.values() if _in_post(w, as_of)),
        key=lambda w: (w.team_id, w.joined.worker_id),
    )
    workers = [_worker_profile(w, fold, profile, calendar) for w in in_post]
    teams = [_team_profile(t, d, workers, fold, profile) for t, d in _tree(fold.teams)]
    vacancies = [t.vacancies_fte for t in teams]
    agency = [w for w in workers if w.agency_worker]
    return WorkforceProfile(
        as_of=as_of,
        profile=None if profile is None else profile.name,
        teams=tuple(teams),
        workers=tuple(workers),
        headcount=len(workers),
        fte=sum((w.fte for w in workers), Decimal(0)),
        agency_headcount=len(agency),
        agency_fte=sum((w.fte for w in agency), Decimal(0)),
        vacancies_fte=None
        if None in vacancies
        else sum((v for v in vacancies if v is not None), Decimal(0)),
        refused_events=fold.refused,
    )
