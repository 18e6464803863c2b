"""Rows ↔ records: the SQL that writes each part of a child's conference record, and the loader.

Every write is an upsert keyed by the record's id, so saving a record twice (a retried batch)
changes nothing. `child_file` reads every table for a set of children and rebuilds their
`ChildFile`s; the argument builders turn the frozen records back into statement arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from schemas.codes import CategoryOfAbuse
from schemas.envelope import Agency
from schemas.events.conferences import ConferenceInvitationIssued, ConferenceKind
from services.conferences.domain.state import (
    ChildFile,
    Conference,
    ConferenceStatus,
    Enquiry,
    EnquiryStatus,
    Plan,
    PlanStatus,
    Referral,
    Report,
)

REFERRAL_SQL = """
INSERT INTO conference_referrals (referral_id, child_id, referral_at, closed_at, nfa)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (referral_id) DO UPDATE SET
    referral_at = EXCLUDED.referral_at, closed_at = EXCLUDED.closed_at, nfa = EXCLUDED.nfa,
    updated_at = now()
"""

ENQUIRY_SQL = """
INSERT INTO conference_enquiries (s47_id, child_id, referral_id, strategy_id, started_at, status,
                                  ended_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (s47_id) DO UPDATE SET
    strategy_id = EXCLUDED.strategy_id, started_at = EXCLUDED.started_at,
    status = EXCLUDED.status, ended_at = EXCLUDED.ended_at, updated_at = now()
"""

_CONFERENCE_COLUMNS = (
    "conference_id, child_id, kind, policy, referral_id, strategy_id, s47_id, plan_id, sequence, "
    "clock_started_at, target_date, issued_at, reports_due_by, invited_agencies, status, "
    "conference_at, recorded_conference_id, attending_agencies, quorate, quorate_on_invitations, "
    "quorate_on_reports, outcome, closed_at, closed_reason"
)
_CONFERENCE_UPDATED = [c.strip() for c in _CONFERENCE_COLUMNS.split(",")][4:]

CONFERENCE_SQL = f"""
INSERT INTO conferences ({_CONFERENCE_COLUMNS})
VALUES ({", ".join(f"${i}" for i in range(1, 25))})
ON CONFLICT (conference_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _CONFERENCE_UPDATED)}, updated_at = now()
"""

REPORT_SQL = """
INSERT INTO conference_reports (conference_id, agency, child_id, report_id, submitted_at,
                                shared_with_family, on_time)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (conference_id, agency) DO UPDATE SET
    report_id = EXCLUDED.report_id, submitted_at = EXCLUDED.submitted_at,
    shared_with_family = EXCLUDED.shared_with_family, on_time = EXCLUDED.on_time
"""

_PLAN_COLUMNS = (
    "plan_id, child_id, referral_id, icpc_conference_id, started_at, initial_category, "
    "latest_category, status, ended_at, end_reason, core_groups, last_core_group_at, visits, "
    "last_visit_at, last_seen_alone_at, reviews, last_review_at, review_decided_to_end"
)
_PLAN_UPDATED = [c.strip() for c in _PLAN_COLUMNS.split(",")][6:]

PLAN_SQL = f"""
INSERT INTO cp_plans ({_PLAN_COLUMNS})
VALUES ({", ".join(f"${i}" for i in range(1, 19))})
ON CONFLICT (plan_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _PLAN_UPDATED)}, updated_at = now()
"""

INVITATION_SQL = """
INSERT INTO conference_invitations (invitation_id, event_id, conference_id, child_id, agency, kind,
                                    target_date, issued_at, reports_due_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (invitation_id) DO NOTHING
"""


def referral_args(child_id: str, r: Referral) -> tuple[Any, ...]:
    return (r.referral_id, child_id, r.referral_at, r.closed_at, r.nfa)


def enquiry_args(child_id: str, e: Enquiry) -> tuple[Any, ...]:
    return (
        e.s47_id,
        child_id,
        e.referral_id,
        e.strategy_id,
        e.started_at,
        e.status.value,
        e.ended_at,
    )


def _agencies(agencies: Sequence[Agency]) -> list[str]:
    return [a.value for a in agencies]


def conference_args(child_id: str, c: Conference) -> tuple[Any, ...]:
    return (
        c.conference_id, child_id, c.kind.value, c.policy, c.referral_id, c.strategy_id,
        c.s47_id, c.plan_id, c.sequence, c.clock_started_at, c.target_date, c.issued_at,
        c.reports_due_by, _agencies(c.invited), c.status.value, c.conference_at,
        c.recorded_conference_id, _agencies(c.attending), c.quorate, c.quorate_on_invitations,
        c.quorate_on_reports, c.outcome, c.closed_at, c.closed_reason,
    )  # fmt: skip


def report_args(child_id: str, conference_id: UUID, r: Report) -> tuple[Any, ...]:
    return (
        conference_id, r.agency.value, child_id, r.report_id, r.submitted_at,
        r.shared_with_family, r.on_time,
    )  # fmt: skip


def plan_args(child_id: str, p: Plan) -> tuple[Any, ...]:
    return (
        p.plan_id, child_id, p.referral_id, p.icpc_conference_id, p.started_at,
        p.initial_category.value, p.latest_category.value, p.status.value, p.ended_at,
        p.end_reason, p.core_groups, p.last_core_group_at, p.visits, p.last_visit_at,
        p.last_seen_alone_at, p.reviews, p.last_review_at, p.review_decided_to_end,
    )  # fmt: skip


def invitation_args(i: ConferenceInvitationIssued) -> tuple[Any, ...]:
    p = i.payload
    return (
        p.invitation_id, i.event_id, p.conference_id, i.subject.child_id, p.agency.value,
        p.kind.value, p.icpc_target_date or p.review_target_date, i.occurred_at, p.reports_due_by,
    )  # fmt: skip


def _report(row: asyncpg.Record) -> Report:
    return Report(
        agency=Agency(row["agency"]),
        report_id=row["report_id"],
        submitted_at=row["submitted_at"],
        shared_with_family=row["shared_with_family"],
        on_time=row["on_time"],
    )


def _conference(row: asyncpg.Record, reports: list[Report]) -> Conference:
    order = list(Agency)
    return Conference(
        conference_id=row["conference_id"],
        kind=ConferenceKind(row["kind"]),
        policy=row["policy"],
        referral_id=row["referral_id"],
        strategy_id=row["strategy_id"],
        s47_id=row["s47_id"],
        plan_id=row["plan_id"],
        sequence=row["sequence"],
        clock_started_at=row["clock_started_at"],
        target_date=row["target_date"],
        issued_at=row["issued_at"],
        reports_due_by=row["reports_due_by"],
        invited=tuple(Agency(a) for a in row["invited_agencies"]),
        reports=tuple(sorted(reports, key=lambda r: order.index(r.agency))),
        status=ConferenceStatus(row["status"]),
        conference_at=row["conference_at"],
        recorded_conference_id=row["recorded_conference_id"],
        attending=tuple(Agency(a) for a in row["attending_agencies"]),
        quorate=row["quorate"],
        quorate_on_invitations=row["quorate_on_invitations"],
        quorate_on_reports=row["quorate_on_reports"],
        outcome=row["outcome"],
        closed_at=row["closed_at"],
        closed_reason=row["closed_reason"],
    )


def _plan(row: asyncpg.Record) -> Plan:
    return Plan(
        plan_id=row["plan_id"],
        referral_id=row["referral_id"],
        icpc_conference_id=row["icpc_conference_id"],
        started_at=row["started_at"],
        initial_category=CategoryOfAbuse(row["initial_category"]),
        latest_category=CategoryOfAbuse(row["latest_category"]),
        status=PlanStatus(row["status"]),
        ended_at=row["ended_at"],
        end_reason=row["end_reason"],
        core_groups=row["core_groups"],
        last_core_group_at=row["last_core_group_at"],
        visits=row["visits"],
        last_visit_at=row["last_visit_at"],
        last_seen_alone_at=row["last_seen_alone_at"],
        reviews=row["reviews"],
        last_review_at=row["last_review_at"],
        review_decided_to_end=row["review_decided_to_end"],
    )


async def child_file(conn: asyncpg.Connection, child_ids: Sequence[str]) -> dict[str, ChildFile]:
    """Every child's record, from the service's tables (an empty record for a new child)."""
    ids = list(child_ids)
    referrals: dict[str, dict[UUID, Referral]] = {c: {} for c in ids}
    enquiries: dict[str, dict[UUID, Enquiry]] = {c: {} for c in ids}
    conferences: dict[str, dict[UUID, Conference]] = {c: {} for c in ids}
    plans: dict[str, dict[UUID, Plan]] = {c: {} for c in ids}
    sql = "SELECT * FROM {} WHERE child_id = ANY($1::text[])"
    for row in await conn.fetch(sql.format("conference_referrals"), ids):
        referrals[row["child_id"]][row["referral_id"]] = Referral(
            referral_id=row["referral_id"],
            referral_at=row["referral_at"],
            closed_at=row["closed_at"],
            nfa=row["nfa"],
        )
    for row in await conn.fetch(sql.format("conference_enquiries"), ids):
        enquiries[row["child_id"]][row["s47_id"]] = Enquiry(
            s47_id=row["s47_id"],
            referral_id=row["referral_id"],
            strategy_id=row["strategy_id"],
            started_at=row["started_at"],
            status=EnquiryStatus(row["status"]),
            ended_at=row["ended_at"],
        )
    reports: dict[UUID, list[Report]] = {}
    for row in await conn.fetch(sql.format("conference_reports"), ids):
        reports.setdefault(row["conference_id"], []).append(_report(row))
    for row in await conn.fetch(sql.format("conferences"), ids):
        conference = _conference(row, reports.get(row["conference_id"], []))
        conferences[row["child_id"]][conference.conference_id] = conference
    for row in await conn.fetch(sql.format("cp_plans"), ids):
        plans[row["child_id"]][row["plan_id"]] = _plan(row)
    return {
        c: ChildFile(
            child_id=c,
            referrals=referrals[c],
            enquiries=enquiries[c],
            conferences=conferences[c],
            plans=plans[c],
        )
        for c in ids
    }
