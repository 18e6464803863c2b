"""The workforce behind the simulated front door: teams, workers, allocations, supervision, audits.

At the start of the window the council's HR and case systems publish the directory (DOMAIN.md §7):
a children's social care service (head of service, principal social worker) with a front door
service (MASH, three assessment teams — North the busiest: its duty rota takes a share of the
other areas' referrals and it has two vacant posts) and a safeguarding service (two child
protection teams, two children-in-need locality teams), and the emergency duty team; each team
with its manager, its parent and its establishment (``establishment_fte``, so vacancies show).
Case-holding teams are sized to the volume (``scale``, at least three case holders). Workers are
experienced or newly qualified (NQSWs in their ASYE, or the CWDC NQSW programme before September
2012), some agency; each worker carries the CSWW census items (an agency worker, the
qualification only). During the window some leave (their children reallocated the day they go)
and are replaced, one worker's FTE changes, one takes long leave (supervision and, for an NQSW,
the ASYE paused), and new NQSWs start.

Every child whose referral goes on is allocated to a worker of the accepting assessment team,
then transferred with the case (child protection plan → a safeguarding team, a child in need plan
or a step-down → a locality team) and unallocated when the case closes; team managers record
management oversight notes at about the profile's interval. Supervision follows the cadence of
the worker's employment step (NQSW weekly to 6 weeks, fortnightly to 6 months, monthly after;
CWDC fortnightly for the year; experienced monthly), held on or just before the due day — but in
the busiest team often late, and some sessions everywhere short or interrupted (not counted, so
made up soon after). Case supervision names the worker's children. Each month every case-holding
team manager audits files of another team (not audited in the last 12 months); some audits are
moderated by the principal social worker.

Ids are the feed's own (``<prefix>T-…`` teams, ``<prefix>W0001`` workers). The workforce draws
from a generator of its own (event ids too) and takes no draw from the feed's: the draws that
once made free-text team and worker names now pick the area's team and the duty worker, so every
seed's contacts, decisions, episodes and conferences are what they were before the workforce.
Invariant: every worker or team an event names is in the directory (joined) at the event's time,
so the workforce service (``known_team`` / ``known_worker``) refuses nothing. The directory's load
is at the first seconds of the window; a replay that publishes everything at once can bring
casework or an allocation to the service before the join it needs, and the service parks such an
event until its directory has caught up (services/workforce/handlers.py), so nothing is refused.
"""

from __future__ import annotations

import random
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.simulate.domain.calendar import (
    add_months,
    add_working_days,
    is_working_day,
    local_moment,
    london_day,
    working_day_on_or_after,
    working_day_on_or_before,
)
from services.simulate.domain.emitter import Emitter
from services.simulate.domain.people import Child

DIRECTORY = "workforce"
HR, CASE_SYSTEM = "hr-system", "mosaic"
ASYE_FROM = date(2012, 9, 1)
"""NQSWs employed from this day are on the ASYE (LGA steps); before, the CWDC programme."""
PROFILES_FROM = date(2008, 9, 1)
"""The first workforce profile; no one is employed before it in the directory."""
LEAVER_RATE = 0.15
"""Yearly share of experienced case holders who leave."""
CASE_KINDS = frozenset({"assessment", "cp", "cin"})
"""Kinds of team that hold cases (their managers audit each other's files)."""
OVERSIGHT_DAYS = {"assessment": 20, "cin": 30, "cp": 20}
NORTH_OVERFLOW = 0.15
"""Share of South's and Central's referrals North's duty rota takes: North is the busiest."""
UNIVERSITIES = (
    "University of Sheffield", "Sheffield Hallam University", "University of Leeds",
    "University of Huddersfield", "University of York", "Leeds Beckett University",
)  # fmt: skip
ETHNICITIES = (("WBRI", 80), ("APKN", 6), ("BAFR", 4), ("MWBC", 3), ("WOTH", 5), ("AIND", 2))
DECISIONS = (
    "Continue the plan; visit within 10 working days.",
    "Chronology to be updated before the next review.",
    "Seek consent for a health assessment.",
    "Step down to early help at the next review if progress is kept.",
    "Arrange a strategy discussion if the school reports further injuries.",
)
OVERSIGHT_NOTES = (
    "Case discussed; risks and the plan reviewed; actions agreed with the worker.",
    "Allocated; the worker to see the child within 5 working days.",
    "Plan progressing; the family engaging; no change to the level of need.",
    "Concerns about drift; the worker to convene a meeting with the school.",
)
AUDIT_TOOL = "Practice quality audit tool (2024)"
AUDIT_ACTIONS = (
    "Update the chronology and the genogram.",
    "Record the child's views in the assessment.",
    "Make the plan SMART with dates and owners.",
    "Record management oversight of the latest decision.",
)


@dataclass(frozen=True)
class _TeamPlan:
    code: str
    name: str
    kind: str
    """``service``, ``mash``, ``assessment``, ``cp``, ``cin`` or ``edt``."""
    parent: str | None
    holders: int
    """Social workers at scale 1 (besides the manager)."""


TEAMS = (
    _TeamPlan("CSC", "Children's Social Care", "service", None, 0),
    _TeamPlan("FD", "Front Door and Assessment Service", "service", "CSC", 0),
    _TeamPlan("SG", "Safeguarding and Children in Need Service", "service", "CSC", 0),
    _TeamPlan("MASH", "MASH", "mash", "FD", 8),
    _TeamPlan("ASN", "Assessment Team North", "assessment", "FD", 9),
    _TeamPlan("ASS", "Assessment Team South", "assessment", "FD", 9),
    _TeamPlan("ASC", "Assessment Team Central", "assessment", "FD", 9),
    _TeamPlan("CP1", "Safeguarding Team 1", "cp", "SG", 6),
    _TeamPlan("CP2", "Safeguarding Team 2", "cp", "SG", 6),
    _TeamPlan("LTE", "Locality Team East", "cin", "SG", 20),
    _TeamPlan("LTW", "Locality Team West", "cin", "SG", 20),
    _TeamPlan("EDT", "Emergency Duty Team", "edt", "CSC", 6),
)
BUSIEST = "ASN"


@dataclass
class Worker:
    worker_id: str
    team_id: str
    role: str
    fte: Decimal
    employed_from: date
    joined_at: datetime
    nqsw: bool
    agency: bool
    case_holder: bool
    left_on: date | None = None
    leave: tuple[date, date] | None = None
    """Long leave: (first day away, first day back)."""
    asye_from: date | None = None
    next_session: date | None = None
    last_counted: date | None = None
    held: list[list[Any]] = field(default_factory=list)
    """[start, end, child] of every allocation segment (end ``None`` while it is open)."""

    def in_post(self, at: datetime) -> bool:
        return self.joined_at <= at and (self.left_on is None or london_day(at) <= self.left_on)

    def away(self, day: date) -> bool:
        return self.leave is not None and self.leave[0] <= day < self.leave[1]

    def load(self, at: datetime) -> int:
        return sum(1 for s, e, _ in self.held if s <= at and (e is None or at < e))


@dataclass
class Team:
    team_id: str
    name: str
    kind: str
    parent: str | None
    manager: str = ""
    members: list[str] = field(default_factory=list)
    establishment: Decimal = Decimal(0)


@dataclass
class _Episode:
    child: Child
    referral_id: UUID
    first: Worker
    steps: list[tuple[datetime, str, str, bool]] = field(default_factory=list)
    """(at, team id, case type, skipped while the case is child protection)."""


class WorkforceWriter:
    """The directory, planned at the window's start, and the day-by-day workforce events."""

    def __init__(
        self,
        emitter: Emitter,
        *,
        seed: int,
        start: date,
        days: int,
        holidays: Set[date],
        scale: float,
        prefix: str,
    ) -> None:
        self._rng = random.Random(f"workforce:{seed}")
        self._out = emitter
        self._start, self._days, self._holidays, self._scale = start, days, holidays, scale
        self._prefix = prefix
        self.teams: dict[str, Team] = {}
        self.workers: dict[str, Worker] = {}
        self._episodes: dict[UUID, _Episode] = {}
        self._audited: dict[str, date] = {}
        self._next_worker = 1
        self._clock = local_moment(start, 0)
        self._plan()
        self.ready_at = self._clock
        """Every worker in post at the start is in the directory from this moment."""

    # -- ids, moments and emission -------------------------------------------------------------

    def team_id(self, code: str) -> str:
        return f"{self._prefix}T-{code}"

    def _id(self) -> UUID:
        return UUID(int=self._rng.getrandbits(128), version=4)

    def _tick(self) -> datetime:
        """The next instant of the start-of-window directory load (one second apart, in order)."""
        at = self._clock
        self._clock += timedelta(seconds=1)
        return at

    def _directory(self, event_type: str, at: datetime, payload: dict[str, Any]) -> None:
        payload = {k: str(v) if isinstance(v, Decimal) else v for k, v in payload.items()}
        self._out.emit(
            event_type, at, agency="social_care", system=HR,
            ref=f"HR-{self._rng.randint(1, 10**8)}", child_id=DIRECTORY, family_id=None,
            payload=payload, event_id=self._id(),
        )  # fmt: skip

    def _about(self, event_type: str, at: datetime, child: Child, payload: dict[str, Any]) -> None:
        self._out.emit(
            event_type, at, agency="social_care", system=CASE_SYSTEM,
            ref=f"MOS-W{self._rng.randint(1, 10**8)}", child_id=child.child_id,
            family_id=child.family_id, payload=payload, event_id=self._id(),
        )  # fmt: skip

    def _work_moment(self, day: date, first: int = 9 * 60 + 15, last: int = 16 * 60) -> datetime:
        day = working_day_on_or_after(day, self._holidays)
        return local_moment(day, self._rng.randint(first, last))

    # -- the plan ------------------------------------------------------------------------------

    def _plan(self) -> None:
        rng = self._rng
        for plan in TEAMS:
            team_id = self.team_id(plan.code)
            parent = None if plan.parent is None else self.team_id(plan.parent)
            self.teams[team_id] = Team(team_id, plan.name, plan.kind, parent)
        for plan in TEAMS:
            self._staff(plan)
        self._long_leave()
        for team in self.teams.values():
            own = sum(
                (self.workers[w].fte for w in team.members if not self.workers[w].agency),
                Decimal(0),
            )
            vacant = Decimal(2) if team.team_id == self.team_id(BUSIEST) else Decimal(rng.choice(
                ("0", "0.5", "1")))  # fmt: skip
            team.establishment = own + (vacant if team.kind != "service" else Decimal(0))
            self._directory("team.recorded", self._tick(), {
                "team_id": team.team_id, "name": team.name, "manager_id": team.manager,
                "parent_team_id": team.parent, "establishment_fte": team.establishment,
            })  # fmt: skip
        for worker in list(self.workers.values()):
            self._joined(worker)
        for worker in list(self.workers.values()):
            self._backfill_supervision(worker)
        self._changes()

    def _staff(self, plan: _TeamPlan) -> None:
        rng = self._rng
        team = self.teams[self.team_id(plan.code)]
        if plan.kind == "service":
            role = "senior_manager" if plan.parent is None else "middle_manager"
            team.manager = self._new(team, role, experienced=True, case_holder=False).worker_id
            if plan.parent is None:  # the principal social worker: audits moderated, no cases
                self._new(team, "qualified_no_cases", experienced=True, case_holder=False)
            return
        team.manager = self._new(
            team, "first_line_manager", experienced=True, case_holder=False
        ).worker_id
        holding = plan.kind in CASE_KINDS
        count = max(3, round(plan.holders * self._scale)) if holding else max(3, plan.holders // 2)
        for index in range(count):
            if holding and index == 0:
                self._new(team, "senior_practitioner", experienced=True, case_holder=True)
                continue
            late_in_year = plan.kind == "cin" and index == 2  # finishes the ASYE soon
            nqsw = holding and plan.kind != "cp" and (index in (1, 4) or late_in_year)
            agency = holding and not nqsw and rng.random() < 0.12
            role = "case_holder" if holding else "qualified_no_cases"
            employed_from = None
            if late_in_year:
                employed_from = working_day_on_or_before(
                    max(PROFILES_FROM, self._start - timedelta(days=rng.randint(250, 330))),
                    self._holidays,
                )
            self._new(
                team, role, experienced=not nqsw, case_holder=holding, agency=agency,
                employed_from=employed_from,
            )  # fmt: skip

    def _new(
        self,
        team: Team,
        role: str,
        *,
        experienced: bool,
        case_holder: bool,
        agency: bool = False,
        employed_from: date | None = None,
    ) -> Worker:
        rng = self._rng
        if employed_from is None:
            earliest = max(PROFILES_FROM, self._start - timedelta(days=14 * 365))
            if experienced:
                back = rng.randint(200, max(201, (self._start - earliest).days))
            else:
                back = rng.randint(10, 160)  # an NQSW part-way through the first year
            employed_from = working_day_on_or_before(
                max(earliest, self._start - timedelta(days=back)), self._holidays
            )
        worker = Worker(
            worker_id=f"{self._prefix}W{self._next_worker:04d}",
            team_id=team.team_id,
            role=role,
            fte=Decimal("1") if rng.random() < 0.8 else Decimal(rng.choice(("0.8", "0.6"))),
            employed_from=employed_from,
            joined_at=self._start_moment(employed_from),
            nqsw=not experienced,
            agency=agency,
            case_holder=case_holder,
            asye_from=None if experienced else employed_from,
        )
        self._next_worker += 1
        self.workers[worker.worker_id] = worker
        team.members.append(worker.worker_id)
        return worker

    def _start_moment(self, employed_from: date) -> datetime:
        """When the worker is in the directory: the start-of-window load, or their first day."""
        if employed_from <= self._start:
            return local_moment(self._start, 0)  # replaced by the tick when joined is emitted
        return local_moment(employed_from, 8 * 60)

    def _joined(self, w: Worker) -> None:
        rng = self._rng
        at = self._tick() if w.employed_from <= self._start else w.joined_at
        w.joined_at = at
        # an agency worker's qualification only (the XSD needs QualInst of every worker)
        census: dict[str, Any] = {"qualification_institution": rng.choice(UNIVERSITIES)}
        if not w.agency:
            age = rng.randint(23, 30) if w.nqsw else rng.randint(27, 60)
            census = {
                "birth_date": w.employed_from - timedelta(days=age * 365 + rng.randint(0, 364)),
                "gender": rng.choices(("1", "2"), weights=(18, 82))[0],
                "ethnicity": rng.choices([e for e, _ in ETHNICITIES],
                                         weights=[n for _, n in ETHNICITIES])[0],
                "qualification_institution": rng.choice(UNIVERSITIES),
                "qualification_level": rng.choice(("1", "1", "2")),
                "step_up_graduate": rng.random() < 0.05,
                "frontline_graduate": rng.random() < 0.08,
            }  # fmt: skip
        origin = "1" if w.nqsw else ("4" if w.agency else rng.choice(("2", "2", "5", "6")))
        self._directory("worker.joined", at, {
            "worker_id": w.worker_id, "team_id": w.team_id, "role": w.role, "fte": w.fte,
            "employed_from": w.employed_from, "agency_worker": w.agency,
            "newly_qualified": w.nqsw, "swe_number": f"SW{rng.randint(10**9, 10**10 - 1)}",
            "start_origin": origin, "case_holder": w.case_holder, "census": census,
        })  # fmt: skip
        if w.asye_from is not None:
            self._asye(w)

    # -- the ASYE ------------------------------------------------------------------------------

    def _asye(self, w: Worker) -> None:
        assert w.asye_from is not None
        starts = w.asye_from
        at = self._tick() if starts <= self._start else w.joined_at + timedelta(minutes=30)
        team = self.teams[w.team_id]
        self._directory("asye.started", at, {
            "worker_id": w.worker_id, "starts_on": starts,
            "programme": "asye" if starts >= ASYE_FROM else "cwdc_nqsw",
            "assessor_id": team.manager,
        })  # fmt: skip
        for months in (3, 6, 9):
            due = self._extended(w, add_months(starts, months))
            held = working_day_on_or_before(
                due - timedelta(days=self._rng.randint(0, 6)), self._holidays
            )
            self._asye_event(
                w,
                "asye.review_held",
                held,
                {"worker_id": w.worker_id, "review_month": months, "held_on": held},
            )
        ends = working_day_on_or_after(self._extended(w, add_months(starts, 12)), self._holidays)
        self._asye_event(
            w,
            "asye.review_held",
            ends,
            {"worker_id": w.worker_id, "review_month": 12, "held_on": ends},
        )
        self._asye_event(w, "asye.completed", ends, {
            "worker_id": w.worker_id, "completed_on": ends,
            "outcome": "passed" if self._rng.random() < 0.95 else "not_passed",
        })  # fmt: skip

    def _asye_event(self, w: Worker, event_type: str, day: date, payload: dict[str, Any]) -> None:
        """An ASYE step on ``day``: backfilled at the load when it was before the window."""
        if w.left_on is not None and day > w.left_on:
            return
        at = self._tick() if day < self._start else local_moment(day, 16 * 60 + 30)
        self._directory(event_type, at, payload)

    def _extended(self, w: Worker, day: date) -> date:
        """``day`` moved later by the worker's long leave before it (as the ASYE pauses)."""
        if w.leave is not None and w.leave[0] < day:
            return day + (w.leave[1] - w.leave[0])
        return day

    # -- leavers, starters, a change and long leave --------------------------------------------

    def _changes(self) -> None:
        rng = self._rng
        days = self._days
        holders = [
            w for w in self.workers.values()
            if w.case_holder and not w.nqsw and w.role == "case_holder" and w.leave is None
        ]  # fmt: skip
        busiest = [w for w in holders if w.team_id == self.team_id(BUSIEST)]
        leavers: list[tuple[Worker, date]] = []
        if busiest:
            leavers.append((busiest[-1], self._start + timedelta(days=max(10, days * 3 // 10))))
        chance = 1 - (1 - LEAVER_RATE) ** (days / 365)
        for w in holders:
            if all(w is not x for x, _ in leavers) and rng.random() < chance:
                leavers.append((w, self._start + timedelta(days=rng.randint(14, max(15, days)))))
        for w, day in leavers:
            self._leaves(w, working_day_on_or_before(day, self._holidays))
        rest = [w for w in holders if w.left_on is None]
        if rest:  # one worker's hours change (back from a career break part-time)
            w = rng.choice(rest)
            changed = working_day_on_or_after(
                self._start + timedelta(days=max(5, days // 2)), self._holidays
            )
            w.fte = Decimal("0.8") if w.fte == 1 else Decimal("1")
            self._directory("worker.changed", local_moment(changed, 8 * 60), {
                "worker_id": w.worker_id, "effective_from": changed, "fte": w.fte,
            })  # fmt: skip
        for index, code in enumerate(("ASS", "LTE")):  # new NQSWs join during the window
            team = self.teams[self.team_id(code)]
            first = working_day_on_or_after(
                self._start + timedelta(days=max(3, days // 6) + 7 * index), self._holidays
            )
            self._starter(team, first, nqsw=True)

    def _leaves(self, w: Worker, last_day: date) -> None:
        rng = self._rng
        w.left_on = last_day
        self._directory("worker.left", local_moment(last_day, 17 * 60 + 30), {
            "worker_id": w.worker_id, "left_on": last_day,
            "reason": rng.choice(("1", "1", "1", "5", "7")),
            "destination": rng.choice(("1", "1", "3", "6", "8")),
        })  # fmt: skip
        team = self.teams[w.team_id]
        replacement = working_day_on_or_after(
            last_day + timedelta(days=rng.randint(14, 45)), self._holidays
        )
        self._starter(team, replacement, nqsw=rng.random() < 0.5)

    def _starter(self, team: Team, first_day: date, *, nqsw: bool) -> None:
        w = self._new(
            team, "case_holder", experienced=not nqsw, case_holder=True, employed_from=first_day
        )
        self._joined(w)
        w.next_session = self._on_time(first_day, first_day + timedelta(days=7))

    def _long_leave(self) -> None:
        """One worker (an NQSW if there is one outside the busiest team) off sick for weeks."""
        rng = self._rng
        candidates = [
            w
            for w in self.workers.values()
            if w.nqsw
            and w.left_on is None
            and w.team_id != self.team_id(BUSIEST)
            and w.employed_from <= self._start
        ] or [w for w in self.workers.values() if w.role == "case_holder" and w.left_on is None]
        if not candidates:
            return
        w = candidates[0]
        starts = working_day_on_or_after(
            self._start + timedelta(days=max(7, self._days // 4)), self._holidays
        )
        back = working_day_on_or_after(starts + timedelta(days=rng.randint(21, 35)), self._holidays)
        w.leave = (starts, back)
        self._directory(
            "worker.leave_started",
            local_moment(starts, 8 * 60),
            {"worker_id": w.worker_id, "starts_on": starts, "reason": "SIC"},
        )
        self._directory(
            "worker.leave_ended",
            local_moment(back, 8 * 60),
            {"worker_id": w.worker_id, "returned_on": back},
        )
        if w.asye_from is not None:
            self._directory("asye.paused", local_moment(starts, 8 * 60 + 5), {
                "worker_id": w.worker_id, "paused_from": starts, "resumes_on": back,
                "reason": "long_leave",
            })  # fmt: skip

    # -- supervision ---------------------------------------------------------------------------

    def supervisor(self, w: Worker) -> str | None:
        team = self.teams[w.team_id]
        if team.manager != w.worker_id:
            return team.manager
        if team.parent is None:
            return None  # the head of service: supervised outside the directory
        return self.teams[team.parent].manager

    def _interval(self, w: Worker, anchor: date) -> date:
        """The next due day after ``anchor`` at the cadence of the step the worker is on."""
        if w.nqsw:
            start = w.employed_from
            steps = (
                ((start + timedelta(weeks=6), 7), (add_months(start, 6), 14))
                if start >= ASYE_FROM
                else ((add_months(start, 12), 14),)
            )
            for until, every in steps:
                if anchor < self._extended(w, until):
                    return anchor + timedelta(days=every)
        return add_months(anchor, 1)

    def _on_time(self, anchor: date, due: date) -> date:
        """A working day in the few days up to ``due``, after ``anchor``."""
        day = working_day_on_or_before(
            due - timedelta(days=self._rng.randint(0, 3)), self._holidays
        )
        if day <= anchor:
            day = working_day_on_or_after(anchor + timedelta(days=1), self._holidays)
        return day

    def _plan_next(self, w: Worker, anchor: date) -> None:
        due = self._interval(w, anchor)
        late = 0.35 if w.team_id == self.team_id(BUSIEST) else 0.05
        if self._rng.random() < late:
            w.next_session = working_day_on_or_after(
                due + timedelta(days=self._rng.randint(2, 12)), self._holidays
            )
        else:
            w.next_session = self._on_time(anchor, due)

    def _backfill_supervision(self, w: Worker) -> None:
        """The last session before the window, so the first due day falls inside it."""
        if self.supervisor(w) is None:
            return
        length = (self._interval(w, self._start) - self._start).days
        held = working_day_on_or_before(
            self._start - timedelta(days=self._rng.randint(1, max(1, length - 3))), self._holidays
        )
        if held <= w.employed_from:
            w.next_session = self._on_time(w.employed_from, self._interval(w, w.employed_from))
            return
        self._session(w, local_moment(held, 10 * 60), at=self._tick(), counted=True)
        w.last_counted = held
        self._plan_next(w, held)

    def _session(self, w: Worker, started: datetime, *, at: datetime, counted: bool) -> None:
        rng = self._rng
        busiest = w.team_id == self.team_id(BUSIEST)
        if counted:
            minutes, interrupted = rng.randint(90, 120), False
        elif rng.random() < 0.6:
            minutes, interrupted = rng.randint(35, 80), False
        else:
            minutes, interrupted = rng.randint(60, 100), True
        children = []
        kind = "professional"
        if w.case_holder and rng.random() < (0.5 if busiest else 0.35):
            kind = "case"
            held = [c for s, e, c in w.held if s <= started and (e is None or started < e)]
            children = [
                {"child_id": c.child_id, "decision": rng.choice(DECISIONS)} for c in held[:10]
            ]
        supervisor = self.supervisor(w)
        assert supervisor is not None
        self._directory("supervision.held", at, {
            "worker_id": w.worker_id, "supervisor_id": supervisor, "kind": kind,
            "started_at": started, "duration_minutes": minutes, "interrupted": interrupted,
            "children": children,
        })  # fmt: skip

    def _supervise(self, day: date) -> None:
        rng = self._rng
        working = is_working_day(day, self._holidays)
        for w in self.workers.values():
            if w.next_session is None or w.next_session > day or not working:
                continue
            if w.left_on is not None and day > w.left_on:
                w.next_session = None
                continue
            if w.away(day):
                assert w.leave is not None
                w.next_session = add_working_days(w.leave[1], rng.randint(0, 2), self._holidays)
                continue
            if self.supervisor(w) is None:
                continue
            started = local_moment(day, rng.randint(9 * 60 + 30, 14 * 60))
            busiest = w.team_id == self.team_id(BUSIEST)
            counted = rng.random() >= (0.15 if busiest else 0.04)
            at = started + timedelta(minutes=rng.randint(120, 180))  # written up afterwards
            self._session(w, started, at=at, counted=counted)
            if counted:
                w.last_counted = day
                self._plan_next(w, day)
            else:  # not counted: made up within a few working days
                w.next_session = add_working_days(day, rng.randint(2, 6), self._holidays)

    # -- who acts: members of a team in post -----------------------------------------------------

    def member(self, team_id: str, at: datetime, *, draw: int) -> str:
        """The ``draw``-th (wrapping) worker of the team in post and not away at ``at`` (the
        manager if none is): the feed's own draw picks the duty worker."""
        team = self.teams[team_id]
        day = london_day(at)
        found = [
            w for w in (self.workers[i] for i in team.members)
            if w.in_post(at) and not w.away(day) and w.worker_id != team.manager
        ]  # fmt: skip
        return found[draw % len(found)].worker_id if found else team.manager

    def assessment_team(self, *, area: int) -> str:
        """The assessment team of the child's area (0 North, 1 South, 2 Central); North also
        takes a share of the others' referrals (its duty rota covers theirs): the busiest."""
        codes = [p.code for p in TEAMS if p.kind == "assessment"]
        if area != 0 and self._rng.random() < NORTH_OVERFLOW:
            area = 0
        return self.team_id(codes[area % len(codes)])

    def alert_team(self, index: int) -> str:
        """The team an out-of-hours alert names: a child protection or a locality team."""
        return self.team_id(("CP1", "CP2", "LTE")[index % 3])

    def _team_of(self, kind: str) -> str:
        return self.team_id(self._rng.choice([p.code for p in TEAMS if p.kind == kind]))

    def _holder(
        self, team_id: str, at: datetime, exclude: str | None = None, *, draw: int | None = None
    ) -> Worker:
        """The least loaded case holder of the team free at ``at`` (not leaving or away soon)."""
        team = self.teams[team_id]
        day = london_day(at)
        soon = day + timedelta(days=14)
        free = [
            w for w in (self.workers[i] for i in team.members)
            if w.case_holder and w.in_post(at) and w.worker_id != exclude
            and (w.left_on is None or w.left_on > soon)
            and not w.away(day) and not w.away(soon)
        ]  # fmt: skip
        if not free:
            free = [self.workers[i] for i in team.members if self.workers[i].in_post(at)]
        if draw is None:
            self._rng.shuffle(free)
        else:
            free = free[draw % len(free) :] + free[: draw % len(free)]
        return min(free, key=lambda w: w.load(at) / (float(w.fte) * (0.9 if w.nqsw else 1.0)))

    def _co_worker(self, w: Worker, case_type: str) -> str | None:
        """CP work given to an NQSW is co-worked by the team's senior practitioner."""
        if case_type != "cp" or not w.nqsw:
            return None
        team = self.teams[w.team_id]
        seniors = [i for i in team.members if self.workers[i].role == "senior_practitioner"]
        return seniors[0] if seniors else team.manager

    # -- a child's allocations -------------------------------------------------------------------

    def allocate(
        self,
        child: Child,
        referral_id: UUID,
        team_id: str,
        referral_at: datetime,
        started: datetime,
        *,
        draw: int,
    ) -> str:
        """The child's case allocated between the referral and the assessment's start, to the
        least loaded worker of the team (``draw`` breaks ties); its events are written when the
        case closes. Returns the worker."""
        at = referral_at + (started - referral_at) * self._rng.uniform(0.2, 0.8)
        worker = self._holder(team_id, at, draw=draw)
        episode = _Episode(child, referral_id, worker)
        episode.steps.append((at, team_id, "assessment", False))
        self._episodes[referral_id] = episode
        worker.held.append([at, None, child])
        return worker.worker_id

    def transfer(
        self, referral_id: UUID, after: datetime, kind: str, *, unless_cp: bool = False
    ) -> None:
        """The case moves to a team of ``kind`` (``cp`` or ``cin``) an hour or so after
        ``after`` (the ICPC, the plan's end, the assessment's authorisation)."""
        episode = self._episodes.get(referral_id)
        if episode is None:
            return
        at = after + timedelta(minutes=self._rng.randint(30, 240))
        team_id = self._team_of(kind)
        episode.steps.append((at, team_id, kind, unless_cp))

    def close(self, referral_id: UUID, closed_at: datetime) -> None:
        """The case closed: its allocations, reallocations, oversight and unallocation."""
        episode = self._episodes.pop(referral_id, None)
        if episode is None:
            return
        first = episode.first
        first.held.remove(next(h for h in first.held if h[2] is episode.child and h[1] is None))
        segments: list[tuple[datetime, str, str, str]] = []  # (from, team, case type, reason)
        current: tuple[str, str] | None = None
        for at, team_id, case_type, unless_cp in sorted(episode.steps, key=lambda s: s[0]):
            if at >= closed_at or (unless_cp and current is not None and current[1] == "cp"):
                continue
            if current == (team_id, case_type):
                continue  # already there (a step-down before the assessment was authorised)
            segments.append((at, team_id, case_type, "transferred"))
            current = (team_id, case_type)
        worker: Worker | None = None
        for index, (at, team_id, case_type, reason) in enumerate(segments):
            ends = segments[index + 1][0] if index + 1 < len(segments) else closed_at
            worker = self._segment(
                episode, previous=worker, at=at, ends=ends, team_id=team_id,
                case_type=case_type, reason=reason, index=index,
            )  # fmt: skip
        if worker is not None:
            unallocated = closed_at + timedelta(minutes=self._rng.randint(1, 30))
            self._about("child.unallocated", unallocated, episode.child, {
                "worker_id": worker.worker_id, "unallocated_at": unallocated,
                "reason": "case_closed",
            })  # fmt: skip

    def _segment(
        self,
        episode: _Episode,
        *,
        previous: Worker | None,
        at: datetime,
        ends: datetime,
        team_id: str,
        case_type: str,
        reason: str,
        index: int,
    ) -> Worker:
        """One stretch of the case in a team: its worker (and any successor) and oversight."""
        w = episode.first if index == 0 else self._holder(team_id, at)
        self._allocation(
            episode, previous=previous, w=w, at=at, team_id=team_id, case_type=case_type,
            reason=reason,
        )  # fmt: skip
        while True:
            cut, why = self._cut(w, at, ends)
            if cut is None:
                w.held.append([at, ends, episode.child])
                self._oversight(episode.child, team_id, case_type, at, ends)
                return w
            w.held.append([at, cut, episode.child])
            self._oversight(episode.child, team_id, case_type, at, cut)
            successor = self._holder(team_id, cut, exclude=w.worker_id)
            self._allocation(
                episode, previous=w, w=successor, at=cut, team_id=team_id, case_type=case_type,
                reason=why,
            )  # fmt: skip
            w, at = successor, cut

    def _cut(self, w: Worker, at: datetime, ends: datetime) -> tuple[datetime | None, str]:
        """When the worker stops holding the case before ``ends``: on their last day, or the
        working day before their long leave starts."""
        stops = []
        if w.left_on is not None:
            stops.append((working_day_on_or_before(w.left_on, self._holidays), "worker_left"))
        if w.leave is not None:
            before = w.leave[0] - timedelta(days=1)
            stops.append((working_day_on_or_before(before, self._holidays), "worker_on_leave"))
        for day, why in stops:
            cut = local_moment(day, 11 * 60 + self._rng.randint(0, 240))
            if at < cut < ends:
                return cut, why
        return None, ""

    def _allocation(
        self,
        episode: _Episode,
        *,
        previous: Worker | None,
        w: Worker,
        at: datetime,
        team_id: str,
        case_type: str,
        reason: str,
    ) -> None:
        co = self._co_worker(w, case_type)
        if previous is None:
            self._about("child.allocated", at, episode.child, {
                "worker_id": w.worker_id, "team_id": team_id, "allocated_at": at,
                "case_type": case_type, "co_worker_id": co, "referral_id": episode.referral_id,
            })  # fmt: skip
        else:
            self._about("child.reallocated", at, episode.child, {
                "from_worker_id": previous.worker_id, "worker_id": w.worker_id,
                "team_id": team_id, "allocated_at": at, "case_type": case_type,
                "reason": reason, "co_worker_id": co,
            })  # fmt: skip

    def _oversight(
        self, child: Child, team_id: str, case_type: str, start: datetime, end: datetime
    ) -> None:
        """Management oversight by the team manager: soon after allocation, then at about the
        interval (a few notes late, more in the busiest team)."""
        rng = self._rng
        every = OVERSIGHT_DAYS[case_type]
        busiest = team_id == self.team_id(BUSIEST)
        day = add_working_days(london_day(start), rng.randint(0, 2), self._holidays)
        while True:
            at = self._work_moment(day)
            if at <= start:
                at = start + timedelta(minutes=rng.randint(20, 90))
            if at >= end:
                return
            self._about("oversight.recorded", at, child, {
                "manager_id": self.teams[team_id].manager, "recorded_at": at,
                "note": rng.choice(OVERSIGHT_NOTES),
            })  # fmt: skip
            late = rng.random() < (0.25 if busiest else 0.06)
            gap = every + rng.randint(2, 10) if late else every - rng.randint(1, 6)
            day = london_day(at) + timedelta(days=gap)

    # -- audits --------------------------------------------------------------------------------

    def _audits(self, day: date) -> None:
        rng = self._rng
        auditors = [t for t in self.teams.values() if t.kind in CASE_KINDS]
        per_manager = max(1, round(2 * self._scale))
        moment = local_moment(day, 9 * 60 + 30)
        for team in auditors:
            open_files = [
                (w, c) for t in auditors if t is not team
                for w in (self.workers[i] for i in t.members)
                for s, e, c in w.held
                if s <= moment and (e is None or moment < e)
                and (c.child_id not in self._audited
                     or (day - self._audited[c.child_id]).days > 365)
            ]  # fmt: skip
            rng.shuffle(open_files)
            for holder, child in open_files[:per_manager]:
                self._audit(team.manager, holder, child, day)

    def _audit(self, auditor: str, holder: Worker, child: Child, day: date) -> None:
        rng = self._rng
        self._audited[child.child_id] = day
        audit_id = self._id()
        scheduled = self._work_moment(day, 9 * 60 + 30, 11 * 60)
        due = add_working_days(day, 15, self._holidays)
        self._about("audit.scheduled", scheduled, child, {
            "audit_id": audit_id, "auditor_id": auditor, "due_on": due, "tool": AUDIT_TOOL,
            "theme": rng.choice((None, "management oversight", "voice of the child")),
        })  # fmt: skip
        offset = rng.randint(3, 15) if rng.random() < 0.85 else rng.randint(16, 22)
        completed = self._work_moment(add_working_days(day, offset, self._holidays))
        grades = (
            ("outstanding", "good", "requires_improvement", "inadequate")
            if day >= date(2013, 11, 1)
            else ("outstanding", "good", "adequate", "inadequate")
        )
        grade = rng.choices(grades, weights=(4, 35, 48, 13))[0]
        owner = holder.worker_id if holder.left_on is None or holder.left_on > due else auditor
        actions = [
            {"action_id": f"A{n + 1}", "owner_id": owner,
             "due_on": add_working_days(london_day(completed), rng.randint(10, 20), self._holidays),
             "action": text}
            for n, text in enumerate(rng.sample(AUDIT_ACTIONS, rng.randint(1, 3)))
        ]  # fmt: skip
        self._about("audit.completed", completed, child, {
            "audit_id": audit_id, "auditor_id": auditor, "completed_at": completed,
            "tool": AUDIT_TOOL, "grade": grade, "actions": actions,
        })  # fmt: skip
        if rng.random() < 0.3:
            moderated = self._work_moment(
                add_working_days(london_day(completed), rng.randint(2, 8), self._holidays)
            )
            index = grades.index(grade)
            if rng.random() < 0.2:
                index = min(len(grades) - 1, index + 1)
            self._about("audit.moderated", moderated, child, {
                "audit_id": audit_id, "moderator_id": self._psw(), "moderated_at": moderated,
                "grade": grades[index],
            })  # fmt: skip

    def _audit_day(self, day: date) -> date:
        """The month's audit day: its first working day (in the window's first month, a week
        into the window, once there are open files to audit)."""
        first = working_day_on_or_after(day.replace(day=1), self._holidays)
        if (day.year, day.month) == (self._start.year, self._start.month):
            first = working_day_on_or_after(self._start + timedelta(days=7), self._holidays)
        return first

    def _psw(self) -> str:
        team = self.teams[self.team_id("CSC")]
        return next(i for i in team.members if self.workers[i].role == "qualified_no_cases")

    # -- the day -------------------------------------------------------------------------------

    def run(self, day: date) -> None:
        """The day's supervision and, on the first working day of a month, its audits."""
        self._supervise(day)
        if day == self._audit_day(day):
            self._audits(day)
        horizon = local_moment(day, 0) - timedelta(days=400)
        for w in self.workers.values():  # forget allocations long over (audits look back a year)
            w.held = [h for h in w.held if h[1] is None or h[1] >= horizon]
