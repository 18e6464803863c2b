"""The workforce tables through asyncpg, bound to the pipeline unit's connection.

Every write is keyed so that recording the same fact twice changes nothing (``ON CONFLICT``),
and clocks are upserted by their stable id (``uuid5`` of kind and subject), so a recomputation
replaces the previous due date rather than adding a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.envelope import LONDON, EventBase
from schemas.events.workforce import CaseType
from services.common.deadletter import Origin
from services.common.ledger import decode_headers, encode_headers
from services.workforce.domain.caseload import Allocated, Allocation, Term
from services.workforce.domain.supervision import Leave
from services.workforce.ports import (
    ChildFacts,
    Clock,
    OpenCase,
    Parked,
    SupervisionFacts,
    Team,
    Worker,
)

CLOCK_NAMESPACE = uuid.UUID("5c2e8a41-9d3b-5f70-a1c4-7e6b0d2f8a93")

TERMS_SQL = """
INSERT INTO workforce_worker_terms (worker_id, event_id, effective_from, occurred_at, fte,
    case_holder)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"""

_SQL: dict[str, str] = {
    "team.recorded": """
        INSERT INTO workforce_teams (team_id, name, manager_id, parent_team_id, weighting_profile,
                                     recorded_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (team_id) DO UPDATE SET name = EXCLUDED.name,
            manager_id = EXCLUDED.manager_id, parent_team_id = EXCLUDED.parent_team_id,
            weighting_profile = EXCLUDED.weighting_profile, recorded_at = EXCLUDED.recorded_at
        WHERE workforce_teams.recorded_at <= EXCLUDED.recorded_at""",
    "worker.joined": """
        INSERT INTO workforce_workers (worker_id, team_id, role, fte, employed_from, agency_worker,
            newly_qualified, case_holder, swe_number, start_origin, changed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (worker_id) DO NOTHING""",
    "worker.changed": """
        UPDATE workforce_workers SET role = COALESCE($2, role), fte = COALESCE($3, fte),
            team_id = COALESCE($4, team_id), case_holder = COALESCE($5, case_holder),
            changed_at = GREATEST(changed_at, $6)
        WHERE worker_id = $1 AND changed_at <= $6""",
    "worker.leave_started": """
        INSERT INTO workforce_leave (worker_id, starts_on, reason) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING""",
    "worker.leave_ended": """
        UPDATE workforce_leave SET returned_on = $2
        WHERE worker_id = $1 AND starts_on = (SELECT max(starts_on) FROM workforce_leave
                                              WHERE worker_id = $1 AND starts_on < $2)""",
    "worker.left": """
        UPDATE workforce_workers SET left_on = $2, leave_reason = $3 WHERE worker_id = $1""",
    "asye.started": """
        UPDATE workforce_workers SET asye_starts_on = $2, asye_programme = $3
        WHERE worker_id = $1""",
    "asye.completed": """
        UPDATE workforce_workers SET asye_completed_on = $2 WHERE worker_id = $1""",
    "asye.review_held": """
        INSERT INTO workforce_asye_reviews VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
    "asye.paused": """
        INSERT INTO workforce_asye_pauses VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
}


_ARGS: dict[str, Callable[[Any, datetime], tuple[Any, ...]]] = {
    "team.recorded": lambda p, at: (
        p.team_id,
        p.name,
        p.manager_id,
        p.parent_team_id,
        p.weighting_profile,
        at,
    ),
    "worker.joined": lambda p, at: (
        p.worker_id,
        p.team_id,
        p.role.value,
        p.fte,
        p.employed_from,
        p.agency_worker,
        p.newly_qualified,
        p.case_holder,
        p.swe_number,
        p.start_origin.value if p.start_origin else None,
        at,
    ),
    "worker.changed": lambda p, at: (
        p.worker_id,
        p.role.value if p.role else None,
        p.fte,
        p.team_id,
        p.case_holder,
        at,
    ),
    "worker.leave_started": lambda p, _: (p.worker_id, p.starts_on, p.reason.value),
    "worker.leave_ended": lambda p, _: (p.worker_id, p.returned_on),
    "worker.left": lambda p, _: (p.worker_id, p.left_on, p.reason.value),
    "asye.started": lambda p, _: (p.worker_id, p.starts_on, p.programme.value),
    "asye.completed": lambda p, _: (p.worker_id, p.completed_on),
    "asye.review_held": lambda p, _: (p.worker_id, p.review_month, p.held_on),
    "asye.paused": lambda p, _: (p.worker_id, p.paused_from, p.resumes_on),
}


class PostgresWorkforceStore:
    def __init__(self, connection: Any) -> None:
        self._conn = connection
        self._entries: list[tuple[UUID, str, str, str, datetime]] = []

    # -- the directory's progress and the parked events ------------------------------------

    async def directory_through(self) -> datetime | None:
        through: datetime | None = await self._conn.fetchval(
            "SELECT through FROM workforce_directory_through"
        )
        return through

    async def advance_directory(self, at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO workforce_directory_through (through) VALUES ($1) "
            "ON CONFLICT (only_row) DO UPDATE SET "
            "through = GREATEST(workforce_directory_through.through, EXCLUDED.through)",
            at,
        )

    async def parked_since(self, consumer: str, event_id: UUID) -> datetime | None:
        since: datetime | None = await self._conn.fetchval(
            "SELECT parked_at FROM workforce_parked WHERE consumer = $1 AND event_id = $2",
            consumer,
            event_id,
        )
        return since

    async def park(self, consumer: str, parked: Parked, at: datetime) -> None:
        """Park (or keep parked) ``parked``: a second park keeps when it was first parked (the
        park's bound) but names the id it waits for now — the team may have come and the
        worker not yet, and ``ready`` must not hand it back for the team again and again."""
        o = parked.origin
        await self._conn.execute(
            "INSERT INTO workforce_parked (consumer, event_id, occurred_at, field, kind, ref, "
            "topic, partition, key, value, headers, parked_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12) "
            "ON CONFLICT (consumer, event_id) DO UPDATE SET field = EXCLUDED.field, "
            "kind = EXCLUDED.kind, ref = EXCLUDED.ref",
            consumer, parked.event_id, parked.occurred_at, parked.field, parked.kind, parked.ref,
            o.topic, o.partition, o.key, o.value, encode_headers(o.headers), at,
        )  # fmt: skip

    async def unpark(self, consumer: str, event_ids: Sequence[UUID]) -> None:
        if event_ids:
            await self._conn.execute(
                "DELETE FROM workforce_parked WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                consumer,
                list(event_ids),
            )

    async def ready(self, consumer: str, *, expired_before: datetime, limit: int) -> list[Origin]:
        """Parked records worth another look, oldest event first: the directory has been applied
        past them, the id they name now exists, or their park has run out."""
        rows = await self._conn.fetch(
            """
            SELECT p.topic, p.partition, p.key, p.value, p.headers::text AS headers
            FROM workforce_parked p
            LEFT JOIN workforce_directory_through d ON true
            WHERE p.consumer = $1
              AND (p.occurred_at <= d.through OR p.parked_at < $2
                   OR (p.kind = 'team' AND EXISTS (
                           SELECT 1 FROM workforce_teams t WHERE t.team_id = p.ref))
                   OR (p.kind = 'worker' AND EXISTS (
                           SELECT 1 FROM workforce_workers w WHERE w.worker_id = p.ref)))
            ORDER BY p.occurred_at, p.event_id
            LIMIT $3
            """,
            consumer,
            expired_before,
            limit,
        )
        return [
            Origin(
                r["topic"], r["partition"], -1, r["key"], r["value"], decode_headers(r["headers"])
            )
            for r in rows
        ]

    async def team(self, team_id: str) -> Team | None:
        row = await self._conn.fetchrow(
            "SELECT team_id, manager_id FROM workforce_teams WHERE team_id = $1", team_id
        )
        return None if row is None else Team(row["team_id"], row["manager_id"])

    async def worker(self, worker_id: str) -> Worker | None:
        row = await self._conn.fetchrow(
            "SELECT worker_id, team_id, fte, case_holder, newly_qualified, employed_from, left_on, "
            "asye_starts_on, asye_completed_on FROM workforce_workers WHERE worker_id = $1",
            worker_id,
        )
        return None if row is None else Worker(**dict(row))

    async def worker_terms(self, worker_id: str) -> Sequence[Term]:
        rows = await self._conn.fetch(
            "SELECT effective_from, occurred_at, event_id, fte, case_holder "
            "FROM workforce_worker_terms WHERE worker_id = $1",
            worker_id,
        )
        return [Term(**dict(r)) for r in rows]

    async def record(self, event: EventBase, *, flag: str | None = None) -> None:
        p: Any = event.payload
        et, child = event.event_type, event.subject.child_id
        if et in _SQL:
            await self._conn.execute(_SQL[et], *_ARGS[et](p, event.occurred_at))
        if et == "worker.joined" or (
            et == "worker.changed" and (p.fte is not None or p.case_holder is not None)
        ):
            await self._conn.execute(
                TERMS_SQL,
                p.worker_id,
                event.event_id,
                p.employed_from if et == "worker.joined" else p.effective_from,
                event.occurred_at,
                p.fte,
                p.case_holder,
            )
        elif et == "supervision.held":
            await self._conn.execute(
                "INSERT INTO workforce_sessions VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT DO NOTHING",
                event.event_id,
                p.worker_id,
                p.supervisor_id,
                p.kind.value,
                p.started_at,
                p.duration_minutes,
                p.interrupted,
                flag,
            )
            for entry in p.children:
                await self._entry(
                    event.event_id,
                    entry.child_id,
                    "case_supervision",
                    p.supervisor_id,
                    p.started_at,
                )
        elif et == "oversight.recorded":
            await self._entry(event.event_id, child, "oversight", p.manager_id, p.recorded_at)
        elif et in ("child.allocated", "child.reallocated"):
            await self._end(child, p.allocated_at, getattr(p, "reason", None))
            await self._conn.execute(
                "INSERT INTO workforce_allocations (event_id, child_id, worker_id, team_id, "
                "case_type, co_worker_id, allocated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT DO NOTHING",
                event.event_id,
                child,
                p.worker_id,
                p.team_id,
                p.case_type.value,
                p.co_worker_id,
                p.allocated_at,
            )
            await self._conn.execute(
                "UPDATE workforce_referrals SET allocated_at = $2 WHERE child_id = $1 "
                "AND allocated_at IS NULL AND referral_at <= $2",
                child,
                p.allocated_at,
            )
        elif et == "child.unallocated":
            await self._end(child, p.unallocated_at, p.reason)
        elif et == "audit.scheduled":
            await self._conn.execute(
                "INSERT INTO workforce_audits (audit_id, child_id, auditor_id, tool, theme, "
                "due_on) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (audit_id) DO UPDATE SET "
                "due_on = EXCLUDED.due_on, theme = EXCLUDED.theme",
                p.audit_id,
                child,
                p.auditor_id,
                p.tool,
                p.theme,
                p.due_on,
            )
        elif et == "audit.completed":
            await self._conn.execute(
                "INSERT INTO workforce_audits (audit_id, child_id, auditor_id, tool, completed_at, "
                "grade, actions) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (audit_id) DO "
                "UPDATE SET completed_at = EXCLUDED.completed_at, grade = EXCLUDED.grade, "
                "tool = EXCLUDED.tool, actions = EXCLUDED.actions",
                p.audit_id,
                child,
                p.auditor_id,
                p.tool,
                p.completed_at,
                p.grade.value,
                len(p.actions),
            )
        elif et == "audit.moderated":
            await self._conn.execute(
                "UPDATE workforce_audits SET moderator_id = $2, moderated_grade = $3 "
                "WHERE audit_id = $1",
                p.audit_id,
                p.moderator_id,
                p.grade.value,
            )

    async def _entry(self, event_id: UUID, child: str, kind: str, by: str, at: datetime) -> None:
        # held back to one statement a batch (a supervision session names several children,
        # and entries were a third of the service's round trips); read only by child_facts
        self._entries.append((event_id, child, kind, by, at))

    async def flush(self) -> None:
        if not self._entries:
            return
        entries, self._entries = self._entries, []
        await self._conn.execute(
            "INSERT INTO workforce_case_entries SELECT * FROM unnest($1::uuid[], $2::text[], "
            "$3::text[], $4::text[], $5::timestamptz[]) ON CONFLICT DO NOTHING",
            *(list(column) for column in zip(*entries, strict=True)),
        )

    async def _end(self, child: str, at: datetime, reason: object) -> None:
        await self._conn.execute(
            "UPDATE workforce_allocations SET ended_at = $2, end_reason = $3 "
            "WHERE child_id = $1 AND ended_at IS NULL AND allocated_at < $2",
            child,
            at,
            getattr(reason, "value", None),
        )

    async def allocation_history(self, worker_id: str, since: datetime) -> Sequence[Allocated]:
        # one worker's alerts decided at a time, whichever replica holds the child's batch
        await self._conn.execute(
            "SELECT 1 FROM workforce_workers WHERE worker_id = $1 FOR UPDATE", worker_id
        )
        rows = await self._conn.fetch(
            "SELECT event_id, child_id, worker_id, team_id, case_type, co_worker_id, "
            "allocated_at, ended_at FROM workforce_allocations WHERE worker_id = $1 "
            "AND (allocated_at >= $2 OR ended_at IS NULL OR ended_at > $2)",
            worker_id,
            since,
        )
        return [
            Allocated(
                r["event_id"],
                Allocation(
                    r["child_id"],
                    r["worker_id"],
                    CaseType(r["case_type"]),
                    r["co_worker_id"] is not None,
                ),
                r["allocated_at"],
                r["ended_at"],
                r["team_id"],
            )
            for r in rows
        ]

    async def alert_ids(self, worker_id: str, since: datetime) -> set[UUID]:
        rows = await self._conn.fetch(
            "SELECT event_id FROM workforce_alerts WHERE worker_id = $1 AND raised_at >= $2",
            worker_id,
            since,
        )
        return {r["event_id"] for r in rows}

    async def withdraw_alerts(self, alert_ids: Sequence[UUID]) -> None:
        if alert_ids:
            await self._conn.execute(
                "DELETE FROM workforce_alerts WHERE event_id = ANY($1::uuid[])", list(alert_ids)
            )

    async def claim_alert(
        self,
        alert_id: UUID,
        *,
        rule: str,
        worker_id: str,
        child_id: str,
        team_id: str,
        raised_at: datetime,
    ) -> bool:
        status: str = await self._conn.execute(
            "INSERT INTO workforce_alerts VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            alert_id,
            rule,
            worker_id,
            child_id,
            team_id,
            raised_at,
        )
        return status.endswith(" 1")

    async def lock_children(self, child_ids: Sequence[str]) -> None:
        """Serialise these children's facts and clocks across the service's two subscriptions
        and the directory's key (each batch its own transaction): a transaction-scoped advisory
        lock per child (class 22342, "WF"; keys in order, so two batches cannot deadlock), as
        screening does per contact. The later batch waits for the first to commit and then sees
        its rows, so a referral's waiting state and a child's clocks do not depend on which
        subscription came first."""
        if child_ids:
            await self._conn.execute(
                "SELECT pg_advisory_xact_lock(22342, k) FROM (SELECT DISTINCT hashtext(c) AS k "
                "FROM unnest($1::text[]) AS c ORDER BY 1) AS keys",
                list(child_ids),
            )

    async def referral(self, child_id: str, referral_at: datetime, team: str) -> None:
        await self._conn.execute(
            "INSERT INTO workforce_referrals (child_id, referral_at, team) VALUES ($1, $2, $3) "
            "ON CONFLICT (child_id) DO UPDATE SET referral_at = EXCLUDED.referral_at, "
            "team = EXCLUDED.team, allocated_at = NULL "
            "WHERE workforce_referrals.referral_at < EXCLUDED.referral_at",
            child_id,
            referral_at,
            team,
        )
        # the allocation may have been applied first (it travels on another subscription): a
        # referral already answered by an allocation at or after it is not waiting
        await self._conn.execute(
            "UPDATE workforce_referrals r SET allocated_at = a.first FROM ("
            "SELECT min(allocated_at) AS first FROM workforce_allocations "
            "WHERE child_id = $1 AND allocated_at >= $2) a "
            "WHERE r.child_id = $1 AND r.allocated_at IS NULL AND a.first IS NOT NULL",
            child_id,
            referral_at,
        )

    async def supervision_facts(self, worker_id: str) -> SupervisionFacts | None:
        worker = await self.worker(worker_id)
        if worker is None:
            return None
        leaves = await self._conn.fetch(
            "SELECT starts_on, returned_on FROM workforce_leave WHERE worker_id = $1", worker_id
        )
        sessions = await self._conn.fetch(
            "SELECT started_at FROM workforce_sessions WHERE worker_id = $1 AND flag IS NULL",
            worker_id,
        )
        pauses = await self._conn.fetch(
            "SELECT paused_from, resumes_on FROM workforce_asye_pauses WHERE worker_id = $1",
            worker_id,
        )
        reviews = await self._conn.fetch(
            "SELECT review_month FROM workforce_asye_reviews WHERE worker_id = $1", worker_id
        )
        return SupervisionFacts(
            worker,
            tuple(Leave(r["starts_on"], r["returned_on"]) for r in leaves),
            tuple(r["started_at"].astimezone(LONDON).date() for r in sessions),
            tuple(Leave(r["paused_from"], r["resumes_on"]) for r in pauses),
            tuple(r["review_month"] for r in reviews),
        )

    async def open_allocation(self, child_id: str) -> tuple[str, datetime] | None:
        row = await self._conn.fetchrow(
            "SELECT worker_id, allocated_at FROM workforce_allocations "
            "WHERE child_id = $1 AND ended_at IS NULL ORDER BY allocated_at DESC LIMIT 1",
            child_id,
        )
        return None if row is None else (row["worker_id"], row["allocated_at"])

    async def child_facts(self, child_ids: Sequence[str]) -> dict[str, ChildFacts]:
        await self.flush()
        rows = await self._conn.fetch(
            "SELECT c.child_id, a.worker_id, a.team_id, a.case_type, a.allocated_at, "
            "(SELECT max(e.recorded_at) FROM workforce_case_entries e WHERE e.child_id = c.child_id"
            " AND e.recorded_at >= a.allocated_at) AS last_entry, "
            "r.referral_at, r.team AS referral_team "
            "FROM unnest($1::text[]) AS c(child_id) "
            "LEFT JOIN LATERAL (SELECT worker_id, team_id, case_type, allocated_at "
            "  FROM workforce_allocations WHERE child_id = c.child_id AND ended_at IS NULL "
            "  ORDER BY allocated_at DESC LIMIT 1) a ON true "
            "LEFT JOIN workforce_referrals r ON r.child_id = c.child_id AND r.allocated_at IS NULL",
            list(child_ids),
        )
        facts: dict[str, ChildFacts] = {}
        for r in rows:
            case = None
            if r["worker_id"] is not None:
                case = OpenCase(
                    r["child_id"], r["worker_id"], r["team_id"], r["case_type"],
                    r["allocated_at"], r["last_entry"],
                )  # fmt: skip
            waiting = None if r["referral_at"] is None else (r["referral_at"], r["referral_team"])
            facts[r["child_id"]] = ChildFacts(case, waiting)
        return facts

    async def write_clocks(self, clocks: Mapping[tuple[str, str], Clock | None]) -> None:
        kept = [c for c in clocks.values() if c is not None]
        dropped = [clock_id(kind, ref) for (kind, ref), c in clocks.items() if c is None]
        if kept:
            await self._conn.execute(
                "INSERT INTO workforce_clocks (timer_id, child_id, kind, policy, subject_ref, "
                "started_at, due_at, team) SELECT * FROM unnest($1::uuid[], $2::text[], "
                "$3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], "
                "$8::text[]) "
                "ON CONFLICT (timer_id) DO UPDATE SET policy = EXCLUDED.policy, "
                "started_at = EXCLUDED.started_at, due_at = EXCLUDED.due_at, "
                "team = EXCLUDED.team, status = 'open'",
                [clock_id(c.kind, c.subject_ref) for c in kept],
                [c.child_id for c in kept],
                [c.kind for c in kept],
                [c.policy for c in kept],
                [c.subject_ref for c in kept],
                [c.started_at for c in kept],
                [c.due_at for c in kept],
                [c.team for c in kept],
            )
        if dropped:
            await self._conn.execute(
                "DELETE FROM workforce_clocks WHERE timer_id = ANY($1::uuid[])", dropped
            )


def clock_id(kind: str, subject_ref: str) -> UUID:
    return uuid.uuid5(CLOCK_NAMESPACE, f"{kind}:{subject_ref}")
