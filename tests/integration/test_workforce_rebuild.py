"""``frontdoor rebuild --view workforce`` against a real PostgreSQL: parked events settle.

The rebuild reads the directory first (``Views.read_first``); here it is read as the plain
per-child order would read it — after the children, whose ids sort before ``workforce`` — and
one event a chunk (no batch holds both), so every allocation below is fed before the
team.recorded and worker.joined that precede it in event time: it is parked, and fed again
(``Views.settle``) once the directory is in. After the rebuild nothing of it is left parked, the
alerts are those of the history in event time (the NQSW's child protection case; the cap
crossed by the third CIN case, 1.5 + 1 + 1 + 1 = 4.5 > 22 × 0.2 × 0.9 = 3.96), and an allocation
to a worker the directory never had is refused, not left parked. An event the directory has not
reached yet (a later one) stays parked, unclaimed, only if the live worker holds it too, counted
from the live worker's park.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from services.cli.rebuild import chain
from services.common.rebuild import Report, rebuild
from services.common.settings import Endpoints
from services.intake.domain.routing import route
from tests.factories import envelope, put_in_history

pytestmark = pytest.mark.integration

AT = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)


def _directory(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return envelope(event_type, 1, payload, child="workforce", at=AT)


def _allocation(child: str, worker: str, team: str, case_type: str, at: datetime) -> dict[str, Any]:
    payload = {"worker_id": worker, "team_id": team, "allocated_at": at.isoformat(),
               "case_type": case_type}  # fmt: skip
    return envelope("child.allocated", 1, payload, child=child, at=at)


async def _park_live(conn: Any, event: dict[str, Any], worker: str, at: datetime) -> None:
    """The live worker's own park of ``event`` (as services/workforce/adapters/postgres.py)."""
    await conn.execute(
        "INSERT INTO workforce_parked (consumer, event_id, occurred_at, field, kind, ref, topic, "
        "partition, key, value, headers, parked_at) VALUES ('workforce', $1, $2::text::timestamptz,"
        " 'payload.worker_id', 'worker', $3, 'frontdoor.workforce', 0, $4, $5, '[]', $6)",
        uuid.UUID(event["event_id"]),
        event["occurred_at"],
        worker,
        event["subject"]["child_id"].encode(),
        orjson.dumps(event),
        at,
    )


async def _rebuild_workforce(dsn: str) -> Report:
    """``frontdoor rebuild --view workforce`` with the directory read last, a record a chunk."""
    links = [
        dataclasses.replace(r, views=dataclasses.replace(r.views, read_first=()))
        if r.name == "workforce"
        else r
        for r in chain()
    ]
    conn, reader = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        return await rebuild(
            conn, reader, links, ["workforce"], route=route, ledger_days=7, chunk=1
        )
    finally:
        await reader.close()
        await conn.close()


async def test_a_rebuild_settles_what_the_directory_caught_up_with(endpoints: Endpoints) -> None:
    tag = uuid.uuid4().hex[:8]
    team, nqsw, ghost, late = f"T-{tag}", f"N-{tag}", f"X-{tag}", f"L-{tag}"
    children = [f"C{tag}{i}" for i in range(7)]
    joined = {"role": "case_holder", "employed_from": "2025-09-01", "team_id": team}
    day = AT + timedelta(days=1)
    allocations = [
        _allocation(children[0], nqsw, team, "cp", day),
        *(_allocation(children[i], nqsw, team, "cin", day + timedelta(minutes=i)) for i in (1, 2, 3)),
        _allocation(children[4], ghost, team, "cin", day + timedelta(minutes=4)),
    ]  # fmt: skip
    # far beyond every directory event of the session: the directory has not reached them
    waiting = [
        _allocation(children[5], late, team, "cin", datetime(2031, 1, 6, 10, tzinfo=UTC)),
        _allocation(children[6], late, team, "cin", datetime(2031, 1, 6, 11, tzinfo=UTC)),
    ]
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        for event in [
            _directory("team.recorded", {"team_id": team, "name": "Team", "manager_id": nqsw}),
            _directory("worker.joined", {**joined, "worker_id": nqsw, "fte": "0.2",
                                         "newly_qualified": True}),
            *allocations,
            *waiting,
            # the directory moves past the ghost's allocation: its unknown worker is refused
            envelope("team.recorded", 1, {"team_id": f"U-{tag}", "name": "Other"},
                     child="workforce", at=AT + timedelta(days=2)),
        ]:  # fmt: skip
            await put_in_history(conn, event)
        live_parked_at = datetime.now(UTC) - timedelta(seconds=30)
        await _park_live(conn, waiting[0], late, live_parked_at)

        report = await _rebuild_workforce(endpoints.database_url)
        assert set(report.fed) == {"workforce", "workforce.casework"}  # workforce alone
        assert report.dead_letters >= 1  # the ghost's allocation

        held = await conn.fetch(
            "SELECT child_id FROM workforce_allocations WHERE worker_id = $1", nqsw
        )
        assert sorted(r["child_id"] for r in held) == children[:4]
        alerts = await conn.fetch(
            "SELECT rule, child_id FROM workforce_alerts WHERE worker_id = $1", nqsw
        )
        assert sorted((r["rule"], r["child_id"]) for r in alerts) == [
            ("caseload_cap", children[3]),
            ("nqsw_cp_not_co_worked", children[0]),
        ]
        clocks = await conn.fetch(
            "SELECT child_id FROM workforce_clocks WHERE kind = 'case_oversight' "
            "AND child_id = ANY($1::text[])",
            children,
        )
        assert sorted(r["child_id"] for r in clocks) == children[:4]

        parked = await conn.fetch(
            "SELECT event_id, parked_at FROM workforce_parked WHERE ref = ANY($1::text[])",
            [team, nqsw, ghost, late],
        )
        # the refused ghost and the waiting event the live worker never parked are gone; the one
        # it parked stays, its park counted from the live worker's
        assert [(str(r["event_id"]), r["parked_at"]) for r in parked] == [
            (waiting[0]["event_id"], live_parked_at)
        ]
        claims = await conn.fetch(
            "SELECT event_id FROM processed_events WHERE consumer = 'workforce' "
            "AND event_id = ANY($1::uuid[])",
            [uuid.UUID(e["event_id"]) for e in (*allocations, *waiting)],
        )
        # settled ones are claimed (a live worker that has not read them treats them as
        # repeats); the waiting ones are not (the live worker decides them)
        claimed = {str(r["event_id"]) for r in claims}
        assert claimed >= {e["event_id"] for e in allocations[:4]}
        assert claimed.isdisjoint(e["event_id"] for e in waiting)
    finally:
        await conn.execute("DELETE FROM workforce_parked WHERE ref = $1", late)
        await conn.close()
