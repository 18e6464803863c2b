"""The ops dashboard's workforce section and lane-refusal count, from the real services' writes.

Workforce: a small team is replayed through the real intake and workforce workers (embedded
broker, real PostgreSQL), with dates relative to today so the clocks are where the test says:

- M (first-line manager, no cases) and P (senior practitioner, no cases) joined 10 days ago: their
  first monthly supervision is not due yet (on time);
- N, newly qualified at 1 FTE, joined 30 days ago (weekly step): supervised by M 20 days ago for
  90 minutes (counted, so due 13 days ago: overdue), then by P 10 days ago but interrupted (not
  counted); holds C0 (child protection, no co-worker) and C1 (CIN): 1.5 + 1 = 2.5 points against
  22 × 1 × 0.9 = 19.80;
- E, experienced at 0.5 FTE, supervised by M 5 days ago (counted: on time) and 3 days ago for 45
  minutes (short); holds seven child protection cases and one CIN: 7 × 1.5 + 1 = 11.5 points
  against 22 × 0.5 = 11.00, so the eighth allocation crosses the cap;
- R waits for a worker since a referral 9 calendar days ago (5 working days is the clock).

By hand: DfE caseload 10 children ÷ 1.5 case-holding FTE = 6.67; weighted 14.0 / 30.80; one worker
over the cap; supervision on time 3 (M, P, E), overdue 1 (N, an NQSW); sessions counted 2, short
1, interrupted 1; N's supervisor is P (the latest session), E's and P's M; two allocation alerts
to M (N's unco-worked CP, E's cap). The dashboard leads with N's overdue supervision and N's CP
case, then E's cap, then R.

Lane refusals: records outside their speaker's lane go through intake's real handler with its
PostgreSQL store, which writes ``intake_lane_refusals``; ``/metrics`` then counts exactly those
per claimed agency and ``/api/lanes`` lists them, with no payload.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from schemas.roles import load_role_table
from schemas.topics import partner_lane
from services.cli.replay import publish_lines
from services.cli.workforce import fetch as workforce_summary
from services.common.calendar import WorkingCalendar
from services.common.deadletter import Origin
from services.common.settings import Endpoints
from services.intake.adapters.postgres import PostgresEventStore
from services.intake.domain.speakers import SpeakerMode
from services.intake.handlers import IntakeHandler
from services.ops.domain.access import OpsRole
from tests.conftest import Workers, wait_until
from tests.factories import envelope, to_line
from tests.harness import PipelineHarness
from tests.integration.test_ops import metric_values
from tests.integration.test_ops_auth import bearer, issue_ops_key, ops_app
from tests.lanes import Case, matrix
from tests.unit.contract_examples import example

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def ago(days: int, hour: int = 9) -> datetime:
    d = TODAY - timedelta(days=days)
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def directory(event_type: str, payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    return envelope(event_type, 1, payload, child="workforce", at=at)


def joined(worker: str, team: str, days: int, **over: Any) -> dict[str, Any]:
    payload = {"worker_id": worker, "team_id": team, "role": "case_holder", "fte": "1",
               "employed_from": (TODAY - timedelta(days=days)).isoformat(), **over}  # fmt: skip
    return directory("worker.joined", payload, ago(days, 8))


def session(
    worker: str, supervisor: str, days: int, minutes: int = 90, **over: Any
) -> dict[str, Any]:
    started = ago(days)
    payload = {"worker_id": worker, "supervisor_id": supervisor, "kind": "professional",
               "duration_minutes": minutes, "started_at": started.isoformat(), **over}  # fmt: skip
    return directory("supervision.held", payload, started + timedelta(hours=2))


def allocated(child: str, worker: str, team: str, case_type: str, n: int) -> dict[str, Any]:
    at = ago(2, 10) + timedelta(minutes=n)
    payload = {"worker_id": worker, "team_id": team, "allocated_at": at.isoformat(),
               "case_type": case_type}  # fmt: skip
    return envelope("child.allocated", 1, payload, child=child, at=at)


async def count(dsn: str, sql: str, *args: object) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


def working_days_after(start: datetime, today: Any) -> int:
    calendar = WorkingCalendar.england_and_wales()
    days = (today - start.date()).days
    return sum(
        calendar.is_working_day(start.date() + timedelta(days=d)) for d in range(1, days + 1)
    )


async def refuse_through_intake(database_url: str, cases: list[Case]) -> None:
    """Each case on its speaker's own lane through intake's handler and PostgreSQL store."""
    conn = await asyncpg.connect(database_url)
    try:
        harness = PipelineHarness(
            IntakeHandler(PostgresEventStore, roles=load_role_table(), mode=SpeakerMode.LANES),
            consumer="intake",
            connection=conn,
            max_bytes=2_000_000,
        )
        outcome = await harness.feed(
            [
                Origin(partner_lane(c.speaker).name, 0, i, b"k", to_line(c.event))
                for i, c in enumerate(cases)
            ]
        )
    finally:
        await conn.close()
    assert outcome.dead_lettered == len(cases)


async def test_the_workforce_section_gives_a_small_teams_figures_by_hand(
    endpoints: Endpoints, workers: Workers
) -> None:
    tag = uuid.uuid4().hex[:8]
    team, m, p, n, e = f"T-{tag}", f"M-{tag}", f"P-{tag}", f"N-{tag}", f"E-{tag}"
    dsn, bootstrap = endpoints.database_url, endpoints.bootstrap_servers
    workers.start("intake")
    workers.start("workforce")
    await publish_lines(bootstrap, [to_line(x) for x in (
        directory("team.recorded", {"team_id": team, "name": "Ops Test Team", "manager_id": m},
                  ago(40, 7)),
        joined(m, team, 10, role="first_line_manager", case_holder=False),
        joined(p, team, 10, role="senior_practitioner", case_holder=False),
        joined(n, team, 30, newly_qualified=True),
        joined(e, team, 700, fte="0.5"),
    )])  # fmt: skip
    await wait_until(
        lambda: count(dsn, "SELECT count(*) FROM workforce_workers WHERE team_id = $1", team),
        timeout=60,
    )

    async def four() -> bool:
        got = await count(dsn, "SELECT count(*) FROM workforce_workers WHERE team_id = $1", team)
        return got == 4

    await wait_until(four, timeout=60)
    referral = example("referral.accepted", 1)
    referral["subject"]["child_id"] = f"R{tag}"
    referral["occurred_at"] = ago(9).isoformat()
    referral["payload"].update(team=team, worker=None, referral_at=ago(9).isoformat())
    children = [f"C{tag}{i}" for i in range(10)]
    events = [
        session(n, m, 20),
        session(n, p, 10, interrupted=True),
        session(e, m, 5),
        session(e, m, 3, minutes=45),
        allocated(children[0], n, team, "cp", 0),
        allocated(children[1], n, team, "cin", 1),
        *(allocated(children[i], e, team, "cp", i) for i in range(2, 9)),
        allocated(children[9], e, team, "cin", 9),
        referral,
    ]
    await publish_lines(bootstrap, [to_line(x) for x in events])

    async def settled() -> bool:
        allocations = await count(
            dsn, "SELECT count(*) FROM workforce_allocations WHERE team_id = $1", team
        )
        alerts = await count(dsn, "SELECT count(*) FROM workforce_alerts WHERE team_id = $1", team)
        sessions = await count(
            dsn, "SELECT count(*) FROM workforce_sessions WHERE worker_id = ANY($1)", [n, e]
        )
        waiting = await count(
            dsn, "SELECT count(*) FROM workforce_clocks WHERE kind = 'allocation' "
            "AND subject_ref = $1", f"R{tag}",
        )  # fmt: skip
        return (allocations, alerts, sessions, waiting) == (10, 2, 4, 1)

    await wait_until(settled, timeout=90, interval=0.5)

    manager = await issue_ops_key(dsn, OpsRole.MANAGER, "test_ops_workforce")
    async with ops_app(endpoints) as (_, client):

        async def board() -> dict[str, Any] | None:
            doc = (await client.get("/api/workforce", headers=bearer(manager))).json()
            b = doc["board"]
            if not b or not any(t["team_id"] == team for t in b["caseload_by_team"]):
                return None
            return b if any(c["child_id"] == f"R{tag}" for c in b["unallocated"]) else None

        b = await wait_until(board, timeout=30, interval=0.5)
        assert isinstance(b, dict)
        page = await client.get("/", headers=bearer(manager))
    assert page.status_code == 200
    assert 'id="workforce"' in page.text

    mine = [a for a in b["attention"] if a["team_id"] == team]
    assert [(a["kind"], a["worker_id"] or a["child_id"]) for a in mine] == [
        ("nqsw_supervision_overdue", n),
        ("nqsw_cp_not_co_worked", n),
        ("over_cap", e),
        ("allocation_overdue", f"R{tag}"),
    ]
    assert {a["manager_id"] for a in mine} == {m}

    (sup_team,) = [c for c in b["supervision_by_team"] if c["name"] == team]
    assert (sup_team["workers"], sup_team["on_time"], sup_team["overdue"]) == (4, 3, 1)
    assert (sup_team["nqsw_overdue"], sup_team["manager_id"]) == (1, m)
    assert sup_team["sessions"] == {"counted": 2, "short": 1, "interrupted": 1, "other_kind": 0}
    by_sup = {c["name"]: c for c in b["supervision_by_supervisor"] if c["name"] in (m, p)}
    assert (by_sup[m]["workers"], by_sup[m]["on_time"], by_sup[m]["overdue"]) == (2, 2, 0)
    assert by_sup[m]["sessions"] == {"counted": 2, "short": 1, "interrupted": 0, "other_kind": 0}
    assert (by_sup[p]["workers"], by_sup[p]["overdue"], by_sup[p]["nqsw_overdue"]) == (1, 1, 1)
    assert by_sup[p]["sessions"]["interrupted"] == 1

    (load,) = [t for t in b["caseload_by_team"] if t["team_id"] == team]
    assert (load["children"], Decimal(load["case_holding_fte"])) == (10, Decimal("1.5"))
    assert Decimal(load["dfe_caseload"]) == Decimal("6.67")
    assert (Decimal(load["weighted_load"]), Decimal(load["cap"])) == (
        Decimal("14.0"),
        Decimal("30.80"),
    )
    assert load["workers_over_cap"] == 1
    rows = {w["worker_id"]: w for w in b["caseload_by_worker"] if w["team_id"] == team}
    assert (rows[e]["cases"], Decimal(rows[e]["weighted_load"]), Decimal(rows[e]["cap"])) == (
        8,
        Decimal("11.5"),
        Decimal("11.00"),
    )
    assert (rows[n]["supervisor_id"], rows[e]["supervisor_id"], rows[p]["supervisor_id"]) == (
        p,
        m,
        m,
    )
    assert (rows[n]["supervision"], rows[e]["supervision"], rows[m]["supervision"]) == (
        "overdue",
        "on_time",
        "on_time",
    )

    (nqsw,) = [x for x in b["nqsw"] if x["team_id"] == team]
    assert (nqsw["worker_id"], Decimal(nqsw["weighted_load"]), Decimal(nqsw["cap"])) == (
        n,
        Decimal("2.5"),
        Decimal("19.80"),
    )
    assert (nqsw["reduced_caseload"], nqsw["cp_not_co_worked"], nqsw["supervision"]) == (
        True,
        1,
        "overdue",
    )
    assert nqsw["protected"] is False

    (waiting,) = [c for c in b["unallocated"] if c["team"] == team]
    assert waiting["working_days"] == working_days_after(ago(9), TODAY)
    assert waiting["overdue"] is True
    assert waiting["manager_id"] == m

    alerts = [a for a in b["alerts"] if a["team_id"] == team]
    assert sorted((a["rule"], a["worker_id"]) for a in alerts) == [
        ("caseload_cap", e),
        ("nqsw_cp_not_co_worked", n),
    ]
    assert all(a["manager_id"] == m and a["still_allocated"] for a in alerts)

    # the same read model as `frontdoor workforce`: the CLI's figures for the team agree
    cli = await workforce_summary(endpoints, now=datetime.now(UTC), team=team)
    (cli_team,) = cli["teams"]
    assert cli_team["dfe_caseload"] == load["dfe_caseload"]
    assert {w["worker_id"]: w["weighted_load"] for w in cli["workers"]} == {
        w: rows[w]["weighted_load"] for w in rows
    }


async def test_lane_refusals_written_by_intake_are_counted_per_agency_on_metrics(
    endpoints: Endpoints,
) -> None:
    dsn = endpoints.database_url
    roles = load_role_table()
    forbidden = [c for c in matrix(roles) if not c.allowed][:12]
    claimed = Counter(c.event["source"]["agency"] for c in forbidden)
    assert len(claimed) >= 2  # more than one agency's count is proven

    ops = await issue_ops_key(dsn, OpsRole.OPS, "test_ops_lanes")
    async with ops_app(endpoints) as (_, client):

        async def scrape() -> dict[str, float]:
            response = await client.get("/metrics", headers=bearer(ops))
            assert response.status_code == 200
            return {
                dict(labels)["agency"]: value
                for (name, labels), value in metric_values(response.text).items()
                if name == "frontdoor_agency_not_permitted_total"
            }

        async def refreshed() -> dict[str, float] | None:
            got = await scrape()
            return got or None

        before = await wait_until(refreshed, timeout=20, interval=0.3)
        assert isinstance(before, dict)
        assert set(before) >= {"police", "education", "health", "housing"}  # zeros listed too

        await refuse_through_intake(dsn, forbidden)
        ids = [c.event["event_id"] for c in forbidden]
        assert await count(dsn, "SELECT count(*) FROM events WHERE event_id = ANY($1::uuid[])", ids) == 0  # fmt: skip

        async def counted() -> dict[str, float] | None:
            now = await scrape()
            moved = {a: now.get(a, 0.0) - before.get(a, 0.0) for a in now}
            expected = {a: float(claimed.get(a, 0)) for a in now}
            return now if moved == expected else None

        assert await wait_until(counted, timeout=20, interval=0.3)
        lanes = (await client.get("/api/lanes", headers=bearer(ops))).json()["panel"]
    assert lanes["incident"] is True
    newest = {str(r["id"]): r for r in lanes["newest"]}
    assert len(newest) == min(len(forbidden), 10)  # the ten newest, newest first
    ours = {c.event["event_id"]: c for c in forbidden}
    for row in lanes["newest"]:
        assert set(row) == {"id", "refused_at", "topic", "event_type", "claimed_agency", "via",
                            "speaker", "rules"}  # fmt: skip
        assert row["via"] == "lane"
        assert row["rules"]
    shown = {(r["topic"], r["event_type"], r["claimed_agency"]) for r in lanes["newest"]}
    assert shown <= {
        (partner_lane(c.speaker).name, c.event_type, c.event["source"]["agency"])
        for c in ours.values()
    }
