"""The workforce section of the ops dashboard: what a team manager must act on, then the detail.

Input is the workforce service's read model (``services/workforce/adapters/summary.py``
``read_board``: per team and worker both caseload figures and the caps, sessions per worker and
supervisor, referred children waiting, allocation alerts), as plain values; `workforce_board`
arranges it, with ``now`` and the working-day calendar passed in:

- ``attention`` leads, most serious first: an NQSW whose supervision is overdue, an NQSW holding
  child protection work without a co-worker, an NQSW over the reduced cap, any other worker over
  the cap, a referred child waiting past the allocation clock, then any other worker whose
  supervision is overdue — each with the team's manager;
- supervision compliance per team and per supervisor: workers on time (next session not yet due),
  overdue (due date passed) or with nothing due (on long leave), and the sessions that did not
  count — short, interrupted, or of a kind the profile does not count. A worker's supervisor is
  whoever held their latest session; a worker never supervised counts for the team's manager;
- caseloads per team (DfE: children ÷ case-holding FTE; weighted: the points its case holders
  hold against the sum of their caps) and per worker (weighted load against the cap);
- NQSW protections per newly qualified worker: reduced caseload (load within the NQSW cap), no
  child protection case without a co-worker, enhanced supervision on time;
- unallocated children, oldest referral first, with their age in working days (the referral day
  is day 0, as for every deadline; weekends and bank holidays do not count);
- the allocation alerts as raised (``workforce_allocation_flags``), those whose child is still
  with that worker first.

Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.common.calendar import WorkingCalendar

SupervisionStatus = Literal["on_time", "overdue", "not_due"]
AttentionKind = Literal[
    "nqsw_supervision_overdue",
    "nqsw_cp_not_co_worked",
    "nqsw_over_cap",
    "over_cap",
    "allocation_overdue",
    "supervision_overdue",
]
ATTENTION_ORDER: tuple[AttentionKind, ...] = get_args(AttentionKind)
"""Most serious first: the order of the attention list."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Attention(_Frozen):
    kind: AttentionKind
    team_id: str | None
    manager_id: str | None
    worker_id: str | None = None
    child_id: str | None = None
    detail: str
    since: AwareDatetime | None = None


class Sessions(_Frozen):
    counted: int = 0
    short: int = 0
    interrupted: int = 0
    other_kind: int = 0

    def __add__(self, other: Sessions) -> Sessions:
        return Sessions(
            counted=self.counted + other.counted,
            short=self.short + other.short,
            interrupted=self.interrupted + other.interrupted,
            other_kind=self.other_kind + other.other_kind,
        )

    @property
    def not_counted(self) -> int:
        return self.short + self.interrupted + self.other_kind


class Compliance(_Frozen):
    """Supervision of a group of workers (a team's, or one supervisor's supervisees)."""

    name: str
    manager_id: str | None = None
    workers: int = 0
    on_time: int = 0
    overdue: int = 0
    not_due: int = 0
    nqsw_overdue: int = 0
    sessions: Sessions = Sessions()


class TeamCaseload(_Frozen):
    team_id: str
    name: str
    manager_id: str | None
    children: int
    case_holding_fte: Decimal
    dfe_caseload: Decimal | None
    implausible: bool
    weighted_load: Decimal
    cap: Decimal
    workers_over_cap: int


class WorkerCaseload(_Frozen):
    worker_id: str
    team_id: str
    role: str
    fte: Decimal
    agency: bool
    case_holder: bool
    nqsw: bool
    cases: int
    weighted_load: Decimal
    cap: Decimal
    over_cap: bool
    supervisor_id: str | None
    supervision: SupervisionStatus
    last_supervision: AwareDatetime | None
    next_supervision: AwareDatetime | None
    sessions: Sessions


class NqswProtection(_Frozen):
    worker_id: str
    team_id: str
    manager_id: str | None
    cases: int
    weighted_load: Decimal
    cap: Decimal
    reduced_caseload: bool
    cp_not_co_worked: int
    supervision: SupervisionStatus
    last_supervision: AwareDatetime | None
    next_supervision: AwareDatetime | None
    protected: bool
    """All three protections hold: within the NQSW cap, no unco-worked CP, supervision on time."""


class WaitingChild(_Frozen):
    child_id: str
    team: str
    manager_id: str | None
    referral_at: AwareDatetime
    working_days: int
    due_at: AwareDatetime | None
    overdue: bool


class AllocationAlert(_Frozen):
    alert_id: str
    rule: str
    team_id: str
    manager_id: str | None
    worker_id: str
    child_id: str
    raised_at: AwareDatetime
    still_allocated: bool


class WorkforceTotals(_Frozen):
    workers: int
    nqsws: int
    supervision_overdue: int
    nqsw_supervision_overdue: int
    nqsw_cp_not_co_worked: int
    over_cap: int
    unallocated: int
    unallocated_overdue: int
    alerts_raised: int
    alerts_still_allocated: int


class WorkforceBoard(_Frozen):
    at: AwareDatetime
    as_of: date
    profile: str
    totals: WorkforceTotals
    attention: tuple[Attention, ...]
    supervision_by_team: tuple[Compliance, ...]
    supervision_by_supervisor: tuple[Compliance, ...]
    caseload_by_team: tuple[TeamCaseload, ...]
    caseload_by_worker: tuple[WorkerCaseload, ...]
    nqsw: tuple[NqswProtection, ...]
    unallocated: tuple[WaitingChild, ...]
    alerts: tuple[AllocationAlert, ...]


def working_days_waiting(calendar: WorkingCalendar, start: date, today: date) -> int:
    """Working days after ``start`` up to and including ``today`` (``start`` is day 0)."""
    if today <= start:
        return 0
    return calendar.dfe_working_days_between(start + timedelta(days=1), today)


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _status(next_due: datetime | None, now: datetime) -> SupervisionStatus:
    if next_due is None:
        return "not_due"
    return "overdue" if next_due < now else "on_time"


def _sessions(row: Mapping[str, Any]) -> Sessions:
    return Sessions(
        counted=row["counted"],
        short=row["short"],
        interrupted=row["interrupted"],
        other_kind=row["other_kind"],
    )


def _latest_supervisors(sessions: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Worker → the supervisor of their latest session, counted or not."""
    latest: dict[str, tuple[datetime, str]] = {}
    for s in sessions:
        if (at := _at(s["last_at"])) is None:
            continue
        seen = latest.get(s["worker_id"])
        if seen is None or (at, s["supervisor_id"]) > seen:
            latest[s["worker_id"]] = (at, s["supervisor_id"])
    return {worker: sup for worker, (_, sup) in latest.items()}


def _comply(name: str, manager: str | None, members: Iterable[WorkerCaseload]) -> Compliance:
    workers = list(members)
    return Compliance(
        name=name,
        manager_id=manager,
        workers=len(workers),
        on_time=sum(w.supervision == "on_time" for w in workers),
        overdue=sum(w.supervision == "overdue" for w in workers),
        not_due=sum(w.supervision == "not_due" for w in workers),
        nqsw_overdue=sum(w.nqsw and w.supervision == "overdue" for w in workers),
    )


def workforce_board(
    facts: Mapping[str, Any], *, now: datetime, calendar: WorkingCalendar
) -> WorkforceBoard:
    """The workforce section from the read model's values, as at ``now``."""
    teams = {t["team_id"]: t for t in facts["teams"]}
    manager = {team_id: t["manager_id"] for team_id, t in teams.items()}
    supervisor_of = _latest_supervisors(facts["sessions"])
    sessions_of: dict[str, Sessions] = {}
    sessions_by_supervisor: dict[str, Sessions] = {}
    for s in facts["sessions"]:
        got = _sessions(s)
        sessions_of[s["worker_id"]] = sessions_of.get(s["worker_id"], Sessions()) + got
        sup = s["supervisor_id"]
        sessions_by_supervisor[sup] = sessions_by_supervisor.get(sup, Sessions()) + got

    workers = [
        WorkerCaseload.model_validate(
            {
                **w,
                "supervisor_id": supervisor_of.get(w["worker_id"], manager.get(w["team_id"])),
                "supervision": _status(_at(w["next_supervision"]), now),
                "sessions": sessions_of.get(w["worker_id"], Sessions()),
            }
        )
        for w in facts["workers"]
    ]
    by_team: dict[str, list[WorkerCaseload]] = {}
    by_supervisor: dict[str, list[WorkerCaseload]] = {}
    for w in workers:
        by_team.setdefault(w.team_id, []).append(w)
        if w.supervisor_id is not None and w.supervisor_id != w.worker_id:
            by_supervisor.setdefault(w.supervisor_id, []).append(w)

    team_compliance = []
    for team_id in sorted(teams.keys() | by_team.keys()):
        members = by_team.get(team_id, [])
        line = _comply(team_id, manager.get(team_id), members)
        total = sum((w.sessions for w in members), Sessions())
        team_compliance.append(line.model_copy(update={"sessions": total}))
    supervisor_compliance = [
        _comply(sup, None, by_supervisor.get(sup, [])).model_copy(
            update={"sessions": sessions_by_supervisor.get(sup, Sessions())}
        )
        for sup in sorted(by_supervisor.keys() | sessions_by_supervisor.keys())
    ]

    caseload_teams = []
    for t in facts["teams"]:
        members = [w for w in by_team.get(t["team_id"], []) if w.case_holder]
        caseload_teams.append(
            TeamCaseload.model_validate(
                {
                    **t,
                    "weighted_load": sum((w.weighted_load for w in members), Decimal(0)),
                    "cap": sum((w.cap for w in members), Decimal(0)),
                    "workers_over_cap": sum(w.over_cap for w in members),
                }
            )
        )

    cp_alone = {w["worker_id"]: w["nqsw_cp_not_co_worked"] for w in facts["workers"]}
    nqsws = [
        NqswProtection(
            worker_id=w.worker_id,
            team_id=w.team_id,
            manager_id=manager.get(w.team_id),
            cases=w.cases,
            weighted_load=w.weighted_load,
            cap=w.cap,
            reduced_caseload=not w.over_cap,
            cp_not_co_worked=cp_alone[w.worker_id],
            supervision=w.supervision,
            last_supervision=w.last_supervision,
            next_supervision=w.next_supervision,
            protected=not w.over_cap and cp_alone[w.worker_id] == 0 and w.supervision != "overdue",
        )
        for w in workers
        if w.nqsw
    ]
    nqsws.sort(key=lambda n: (n.protected, n.supervision != "overdue", n.team_id, n.worker_id))

    today = facts_day(facts)
    waiting = []
    for u in facts["unallocated"]:
        referral, due = datetime.fromisoformat(u["referral_at"]), _at(u["due_at"])
        waiting.append(
            WaitingChild.model_validate(
                {
                    **u,
                    "manager_id": manager.get(u["team"]),
                    "working_days": working_days_waiting(calendar, referral.date(), today),
                    "overdue": due is not None and due < now,
                }
            )
        )

    alerts = tuple(AllocationAlert(**a) for a in facts["alerts"])
    attention = _attention(workers, nqsws, waiting, manager)
    return WorkforceBoard(
        at=now,
        as_of=today,
        profile=facts["profile"],
        totals=WorkforceTotals(
            workers=len(workers),
            nqsws=len(nqsws),
            supervision_overdue=sum(w.supervision == "overdue" for w in workers),
            nqsw_supervision_overdue=sum(n.supervision == "overdue" for n in nqsws),
            nqsw_cp_not_co_worked=sum(n.cp_not_co_worked for n in nqsws),
            over_cap=sum(w.over_cap for w in workers),
            unallocated=len(waiting),
            unallocated_overdue=sum(c.overdue for c in waiting),
            alerts_raised=facts["alerts_raised"],
            alerts_still_allocated=facts["alerts_still_allocated"],
        ),
        attention=attention,
        supervision_by_team=tuple(team_compliance),
        supervision_by_supervisor=tuple(supervisor_compliance),
        caseload_by_team=tuple(caseload_teams),
        caseload_by_worker=tuple(
            sorted(workers, key=lambda w: (w.team_id, not w.over_cap, -w.weighted_load))
        ),
        nqsw=tuple(nqsws),
        unallocated=tuple(waiting),
        alerts=alerts,
    )


def facts_day(facts: Mapping[str, Any]) -> date:
    return date.fromisoformat(facts["as_of"])


def _attention(
    workers: list[WorkerCaseload],
    nqsws: list[NqswProtection],
    waiting: list[WaitingChild],
    manager: Mapping[str, str | None],
) -> tuple[Attention, ...]:
    """Most serious first (`ATTENTION_ORDER`), in the order found within a kind."""
    items: list[Attention] = []

    def add(kind: AttentionKind, team: str, detail: str, **subject: Any) -> None:
        boss = manager.get(team)
        items.append(Attention(kind=kind, team_id=team, manager_id=boss, detail=detail, **subject))

    for n in nqsws:
        if n.supervision == "overdue":
            add(
                "nqsw_supervision_overdue",
                n.team_id,
                "newly qualified: supervision overdue",
                worker_id=n.worker_id,
                since=n.next_supervision,
            )
        if n.cp_not_co_worked:
            cases = "case" if n.cp_not_co_worked == 1 else "cases"
            detail = f"newly qualified: {n.cp_not_co_worked} child protection {cases}"
            detail += " without a co-worker"
            add("nqsw_cp_not_co_worked", n.team_id, detail, worker_id=n.worker_id)
    for w in workers:
        if w.over_cap:
            detail = f"weighted load {w.weighted_load} over the cap of {w.cap}"
            kind: AttentionKind = "nqsw_over_cap" if w.nqsw else "over_cap"
            detail += " (reduced for an NQSW)" if w.nqsw else ""
            add(kind, w.team_id, detail, worker_id=w.worker_id)
    for c in waiting:
        if c.overdue:
            days = "working day" if c.working_days == 1 else "working days"
            detail = f"waiting {c.working_days} {days} for a worker"
            add("allocation_overdue", c.team, detail, child_id=c.child_id, since=c.referral_at)
    for w in workers:
        if not w.nqsw and w.supervision == "overdue":
            detail = "supervision overdue"
            add(
                "supervision_overdue",
                w.team_id,
                detail,
                worker_id=w.worker_id,
                since=w.next_supervision,
            )
    rank = {kind: i for i, kind in enumerate(ATTENTION_ORDER)}
    return tuple(sorted(items, key=lambda a: rank[a.kind]))  # stable: oldest first within a kind
