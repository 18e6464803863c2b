"""The workforce as its readers see it, from the workforce service's own tables (read only).

One read model for ``frontdoor workforce`` (services/cli/workforce.py) and the ops dashboard's
workforce section, so both show the same figures from the same queries and the same domain rules
(``domain/caseload.py`` for both caseload figures and the caps, the profile in force on the day):

- `read_rows` fetches the directory (teams; workers still employed on the day, with their last
  counted session, their flagged sessions and their next supervision due), the open allocations
  and every workforce clock already past due;
- `summarise` folds them per team (manager, parent, DfE caseload: children ÷ FTE of case-holding
  workers) and per worker (role, FTE, NQSW, cases, weighted load against the cap, child
  protection cases without a co-worker for an NQSW, last and next supervision);
- `read_board` adds what a team manager reads on the dashboard: sessions per worker and
  supervisor (counted, short, interrupted, of a kind not counted), referred children still
  waiting for a worker (oldest first, with the allocation clock's due date) and the allocation
  alerts of ``workforce_allocation_flags`` with the team's manager (still-open allocations first).

Values are returned as plain JSON-ready dicts (decimals as strings, times as ISO text in
Europe/London), which is what both readers print or serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from schemas.envelope import LONDON
from schemas.events.workforce import CaseType
from services.workforce.domain.caseload import Allocation, Holder, cap, dfe_caseload, weighted_load
from services.workforce.domain.profiles import ProfileBook
from services.workforce.policies import load_profiles

WORKERS_SQL = """
SELECT w.worker_id, w.team_id, w.role, w.fte, w.case_holder, w.newly_qualified, w.agency_worker,
       w.asye_completed_on, w.left_on,
       (SELECT max(s.started_at) FROM workforce_sessions s
        WHERE s.worker_id = w.worker_id AND s.flag IS NULL) AS last_supervision,
       (SELECT count(*) FROM workforce_sessions s
        WHERE s.worker_id = w.worker_id AND s.flag IS NOT NULL) AS flagged_sessions,
       (SELECT c.due_at FROM workforce_clocks c
        WHERE c.kind = 'supervision' AND c.subject_ref = w.worker_id) AS next_supervision
FROM workforce_workers w
WHERE w.left_on IS NULL OR w.left_on >= $1
ORDER BY w.team_id, w.worker_id
"""
TEAMS_SQL = "SELECT team_id, name, manager_id, parent_team_id FROM workforce_teams ORDER BY 1"
ALLOCATIONS_SQL = """
SELECT child_id, worker_id, case_type, co_worker_id FROM workforce_allocations
WHERE ended_at IS NULL
"""
OVERDUE_SQL = """
SELECT kind, subject_ref, team, due_at, started_at FROM workforce_clocks
WHERE due_at < $1 ORDER BY (kind <> 'allocation'), started_at
"""
SESSIONS_SQL = """
SELECT worker_id, supervisor_id,
       count(*) FILTER (WHERE flag IS NULL)               AS counted,
       count(*) FILTER (WHERE flag = 'short')             AS short,
       count(*) FILTER (WHERE flag = 'interrupted')       AS interrupted,
       count(*) FILTER (WHERE flag = 'kind_not_counted')  AS other_kind,
       max(started_at)                                    AS last_at
FROM workforce_sessions WHERE started_at <= $1
GROUP BY worker_id, supervisor_id
ORDER BY worker_id, supervisor_id
"""
UNALLOCATED_SQL = """
SELECT r.child_id, r.team, r.referral_at, c.due_at
FROM workforce_referrals r
LEFT JOIN workforce_clocks c ON c.kind = 'allocation' AND c.subject_ref = r.child_id
WHERE r.allocated_at IS NULL AND r.referral_at <= $1
ORDER BY r.referral_at, r.child_id
"""
FLAGS_SQL = """
SELECT f.alert_id, f.rule, f.team_id, f.manager_id, f.worker_id, f.child_id, f.raised_at,
       EXISTS (SELECT 1 FROM workforce_allocations a
               WHERE a.child_id = f.child_id AND a.worker_id = f.worker_id
                 AND a.ended_at IS NULL) AS still_allocated
FROM workforce_allocation_flags f
ORDER BY still_allocated DESC, f.raised_at DESC, f.alert_id
LIMIT $1
"""
FLAG_COUNTS_SQL = """
SELECT count(*) AS raised,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM workforce_allocations a
                        WHERE a.child_id = f.child_id AND a.worker_id = f.worker_id
                          AND a.ended_at IS NULL)) AS still_allocated
FROM workforce_allocation_flags f
"""


@dataclass(frozen=True)
class WorkforceRows:
    teams: list[dict[str, Any]]
    workers: list[dict[str, Any]]
    allocations: list[Any]
    overdue: list[dict[str, Any]]


@cache
def configured_profiles() -> ProfileBook:
    """The council's profiles file, or the shipped one (``policies.configured``), once a process."""
    return load_profiles()


def london_day(now: datetime) -> date:
    return now.astimezone(LONDON).date()


async def read_rows(conn: Any, *, now: datetime) -> WorkforceRows:
    """The directory, open allocations and overdue clocks as at ``now`` (one connection)."""
    return WorkforceRows(
        teams=[dict(r) for r in await conn.fetch(TEAMS_SQL)],
        workers=[dict(r) for r in await conn.fetch(WORKERS_SQL, london_day(now))],
        allocations=list(await conn.fetch(ALLOCATIONS_SQL)),
        overdue=[dict(r) for r in await conn.fetch(OVERDUE_SQL, now)],
    )


def summarise(
    rows: WorkforceRows,
    *,
    today: date,
    team: str | None = None,
    profiles: ProfileBook | None = None,
) -> dict[str, Any]:
    """Per team and per worker, both caseload figures and the NQSW protections (``team``: one)."""
    profile = (profiles or configured_profiles()).in_force(today)
    held: dict[str, list[Allocation]] = {}
    for a in rows.allocations:
        held.setdefault(a["worker_id"], []).append(
            Allocation(
                a["child_id"],
                a["worker_id"],
                CaseType(a["case_type"]),
                a["co_worker_id"] is not None,
            )
        )
    out_workers = []
    holders: dict[str, list[Holder]] = {}
    for w in rows.workers:
        if team is not None and w["team_id"] != team:
            continue
        nqsw = w["newly_qualified"] and (
            w["asye_completed_on"] is None or today < w["asye_completed_on"]
        )
        holder = Holder(w["worker_id"], Decimal(w["fte"]), w["case_holder"], nqsw)
        holders.setdefault(w["team_id"], []).append(holder)
        mine = held.get(w["worker_id"], [])
        load, limit = weighted_load(profile, mine), cap(profile, holder)
        cp_alone = sum(1 for a in mine if a.case_type is CaseType.CP and not a.co_worked)
        out_workers.append(
            {
                "worker_id": w["worker_id"],
                "team_id": w["team_id"],
                "role": w["role"],
                "fte": str(w["fte"]),
                "agency": w["agency_worker"],
                "case_holder": w["case_holder"],
                "nqsw": nqsw,
                "cases": len(mine),
                "weighted_load": str(load),
                "cap": str(limit),
                "over_cap": load > limit,
                "nqsw_cp_not_co_worked": cp_alone if nqsw else 0,
                "last_supervision": iso(w["last_supervision"]),
                "next_supervision": iso(w["next_supervision"]),
                "flagged_sessions": w["flagged_sessions"],
            }
        )
    all_allocations = [a for xs in held.values() for a in xs]
    out_teams = []
    for t in rows.teams:
        if team is not None and t["team_id"] != team:
            continue
        figure = dfe_caseload(profile, holders.get(t["team_id"], []), all_allocations)
        out_teams.append(
            {
                **t,
                "children": figure.children,
                "case_holding_fte": str(figure.fte),
                "dfe_caseload": None if figure.per_fte is None else str(figure.per_fte),
                "implausible": figure.implausible,
            }
        )
    items = [
        {**o, "due_at": iso(o["due_at"]), "started_at": iso(o["started_at"])}
        for o in rows.overdue
        if team is None or o["team"] == team
    ]
    return {
        "profile": profile.name,
        "as_of": today.isoformat(),
        "teams": out_teams,
        "workers": out_workers,
        "overdue": items,
    }


async def read_board(
    conn: Any, *, now: datetime, alerts: int = 20, profiles: ProfileBook | None = None
) -> dict[str, Any]:
    """`summarise` for every team, with sessions, waiting referrals and allocation alerts."""
    summary = summarise(await read_rows(conn, now=now), today=london_day(now), profiles=profiles)
    counts = await conn.fetchrow(FLAG_COUNTS_SQL)
    return {
        **summary,
        "sessions": [
            {**dict(r), "last_at": iso(r["last_at"])} for r in await conn.fetch(SESSIONS_SQL, now)
        ],
        "unallocated": [
            {**dict(r), "referral_at": iso(r["referral_at"]), "due_at": iso(r["due_at"])}
            for r in await conn.fetch(UNALLOCATED_SQL, now)
        ],
        "alerts": [
            {**dict(r), "alert_id": str(r["alert_id"]), "raised_at": iso(r["raised_at"])}
            for r in await conn.fetch(FLAGS_SQL, alerts)
        ],
        "alerts_raised": counts["raised"],
        "alerts_still_allocated": counts["still_allocated"],
    }


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(LONDON).isoformat()
