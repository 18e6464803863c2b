"""The workforce worker with the real stack: directory and allocations in, clocks and alerts out.

Partner events go through the real intake and workforce workers on the embedded broker and a real
PostgreSQL. A team with an NQSW at 0.2 FTE (weighted cap 22 × 0.2 × 0.9 = 3.96 points) is given
a child protection case without a co-worker (one NQSW alert) and then three CIN cases (1.5 + 1 +
1 = 3.5, the third CIN takes it to 4.5: one cap alert, whatever order the partitions deliver the
allocations in); an allocation to an unknown worker is a validation dead letter naming the field
and the rule; a counted supervision session sets the NQSW's next supervision clock, which the SLA board
(``frontdoor sla``) lists; ``frontdoor workforce`` shows both caseload figures by hand.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from schemas.envelope import LONDON
from schemas.topics import DEADLETTER, WORKFORCE
from services.cli.replay import publish_lines
from services.cli.sla import fetch_live_timers
from services.cli.workforce import WorkforceUsageError
from services.cli.workforce import fetch as workforce_summary
from services.common.calendar import end_of_day
from services.common.deadletter import header_map
from services.common.settings import Endpoints
from tests.conftest import Workers, read_topic, wait_until
from tests.factories import child_details, envelope, to_line

pytestmark = pytest.mark.integration

AT = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)


def directory(event_type: str, payload: dict[str, Any], at: datetime = AT) -> dict[str, Any]:
    return envelope(event_type, 1, payload, child="workforce", at=at)


def allocation(child: str, worker: str, team: str, case_type: str, minute: int) -> dict[str, Any]:
    at = datetime(2025, 9, 2, 10, minute, tzinfo=UTC)
    payload = {"worker_id": worker, "team_id": team, "allocated_at": at.isoformat(),
               "case_type": case_type}  # fmt: skip
    return envelope("child.allocated", 1, payload, child=child, at=at)


async def rows(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def test_allocations_raise_each_alert_once_and_unknown_workers_are_dead_letters(
    endpoints: Endpoints, workers: Workers
) -> None:
    tag = uuid.uuid4().hex[:8]
    team, manager, nqsw = f"T-{tag}", f"M-{tag}", f"N-{tag}"
    dsn, bootstrap = endpoints.database_url, endpoints.bootstrap_servers
    workers.start("intake")
    workers.start("workforce")
    joined = {"role": "case_holder", "employed_from": "2025-09-01", "team_id": team}
    await publish_lines(bootstrap, [to_line(e) for e in (
        directory("team.recorded", {"team_id": team, "name": "Team", "manager_id": manager}),
        directory("worker.joined", {**joined, "worker_id": manager, "role": "first_line_manager",
                                    "fte": "1", "case_holder": False}),
        directory("worker.joined", {**joined, "worker_id": nqsw, "fte": "0.2",
                                    "newly_qualified": True}),
    )])  # fmt: skip
    await wait_until(
        lambda: rows(dsn, "SELECT 1 FROM workforce_workers WHERE worker_id = $1", nqsw)
    )

    children = [f"C{tag}{i}" for i in range(5)]
    events = [
        allocation(children[0], nqsw, team, "cp", 0),
        *(allocation(children[i], nqsw, team, "cin", i) for i in (1, 2, 3)),
        allocation(children[4], f"X-{tag}", team, "cin", 4),
        directory("supervision.held", {"worker_id": nqsw, "supervisor_id": manager,
                                       "kind": "professional", "duration_minutes": 90,
                                       "started_at": "2025-09-08T09:00:00+00:00"},
                  at=datetime(2025, 9, 8, 10, 30, tzinfo=UTC)),
    ]  # fmt: skip
    await publish_lines(bootstrap, [to_line(e) for e in events])
    await wait_until(lambda: rows(
        dsn, "SELECT 1 FROM workforce_allocations WHERE worker_id = $1 HAVING count(*) = 4", nqsw
    ))  # fmt: skip
    clock = await wait_until(lambda: rows(
        dsn, "SELECT due_at, policy FROM workforce_clocks WHERE kind = 'supervision' "
        "AND subject_ref = $1 AND due_at > '2025-09-10'", nqsw,
    ))  # fmt: skip
    assert isinstance(clock, list)
    # the 6-week weekly step: 8 Sep + 7 days = Mon 15 Sep 2025, end of day in London
    assert clock[0]["due_at"] == datetime(2025, 9, 15, 22, 59, 59, tzinfo=UTC)
    assert clock[0]["policy"] == "lga2020"
    board = await fetch_live_timers(endpoints, kind="supervision", breaching=False)
    assert [r["due_at"] for r in board if r["subject_ref"] == nqsw] == [clock[0]["due_at"]]

    async def alerts() -> list[dict[str, Any]]:
        records = await read_topic(bootstrap, WORKFORCE.name, WORKFORCE.partitions)
        events = [orjson.loads(r.value) for r in records]
        return [e["payload"] for e in events if e["event_type"] == "workforce.alert_raised"
                and e["payload"]["worker_id"] == nqsw]  # fmt: skip

    raised = await wait_until(lambda: _two(alerts()))
    assert isinstance(raised, list)
    assert sorted(a["rule"] for a in raised) == ["caseload_cap", "nqsw_cp_not_co_worked"]
    assert {a["manager_id"] for a in raised} == {manager}

    summary = await workforce_summary(endpoints, now=datetime(2025, 9, 3, tzinfo=UTC), team=team)
    (row,) = [w for w in summary["workers"] if w["worker_id"] == nqsw]
    assert (row["cases"], row["weighted_load"], row["cap"]) == (4, "4.5", "3.96")
    assert (row["over_cap"], row["nqsw_cp_not_co_worked"]) == (True, 1)
    (team_row,) = summary["teams"]
    assert (team_row["children"], team_row["dfe_caseload"]) == (4, "20.00")  # 4 ÷ 0.2 FTE
    with pytest.raises(WorkforceUsageError, match="no team"):
        await workforce_summary(endpoints, now=datetime(2025, 9, 3, tzinfo=UTC), team=f"Z{tag}")

    # the cap is the one in force on the allocation's day: going full time from 10 September
    # (cap 22 x 1.0 x 0.9 = 19.8) leaves the 2 September alert standing ...
    def change(fte: str, effective: str, minute: int) -> dict[str, Any]:
        at = datetime(2025, 9, 9, 9, minute, tzinfo=UTC)
        payload = {"worker_id": nqsw, "effective_from": effective, "fte": fte}
        return directory("worker.changed", payload, at=at)

    cap_alerts = (
        "SELECT event_id FROM workforce_alerts WHERE worker_id = $1 AND rule = 'caseload_cap'"
    )
    await publish_lines(bootstrap, [to_line(change("1", "2025-09-10", 0))])
    await wait_until(lambda: rows(
        dsn, "SELECT 1 FROM workforce_workers WHERE worker_id = $1 AND fte = 1", nqsw
    ))  # fmt: skip
    assert len(await rows(dsn, cap_alerts, nqsw)) == 1
    # ... while a correction saying they were full time from 1 September withdraws it
    await publish_lines(bootstrap, [to_line(change("1", "2025-09-01", 1))])
    assert await wait_until(lambda: _none(rows(dsn, cap_alerts, nqsw))) is True  # withdrawn

    async def letter() -> dict[str, str] | None:
        for r in await read_topic(bootstrap, DEADLETTER.name, DEADLETTER.partitions):
            if r.key == children[4].encode():
                return header_map(r.headers)
        return None

    headers = await wait_until(letter)
    assert isinstance(headers, dict)
    assert headers["dlq.reason"] == "validation"
    assert "payload.worker_id" in headers["dlq.exception.message"]
    assert "known_worker" in headers["dlq.exception.message"]
    assert f"X-{tag}" not in headers["dlq.exception.message"]


async def _two(found: Any) -> list[dict[str, Any]] | None:
    got: list[dict[str, Any]] = await found
    return got if len(got) >= 2 else None


async def test_casework_and_allocations_that_outrun_the_directory_wait_for_it(
    endpoints: Endpoints, workers: Workers
) -> None:
    """A replay or a burst can bring a referral (casework, another subscription) and an
    allocation (another key) before the team.recorded and worker.joined that precede them in
    event time. They are parked, not refused, and applied once the directory catches up; only
    an id still unknown when the directory has passed the event's time is a dead letter."""
    tag = uuid.uuid4().hex[:8]
    team, worker, child = f"T-{tag}", f"W-{tag}", f"C{tag}"
    dsn, bootstrap = endpoints.database_url, endpoints.bootstrap_servers
    # after whatever directory the session's earlier tests applied: the directory must be
    # behind these events for them to wait (once it has passed them, an unknown id is refused)
    (row,) = await rows(dsn, "SELECT max(through) AS t FROM workforce_directory_through")
    start = max(row["t"] or AT, AT) + timedelta(days=1)
    referral_at = start + timedelta(hours=1)
    referral = envelope("referral.accepted", 1, {
        "referral_id": str(uuid.uuid4()), "referral_at": referral_at.isoformat(),
        "referral_source": "1A", "primary_need": "N1", "team": team,
        "child": child_details(),
    }, child=child, at=referral_at, agency="social_care")  # fmt: skip
    workers.start("intake")
    workers.start("workforce")
    allocated = allocation(child, worker, team, "cin", 30)
    allocated["occurred_at"] = allocated["payload"]["allocated_at"] = (
        referral_at + timedelta(minutes=30)
    ).isoformat()
    await publish_lines(bootstrap, [to_line(referral), to_line(allocated)])
    await wait_until(lambda: rows(
        dsn, "SELECT 1 FROM workforce_parked WHERE ref IN ($1, $2) HAVING count(*) = 2",
        team, worker,
    ))  # fmt: skip

    joined = {"role": "case_holder", "employed_from": start.date().isoformat(),
              "team_id": team, "worker_id": worker, "fte": "1"}  # fmt: skip
    session = start + timedelta(days=7)
    await publish_lines(bootstrap, [to_line(e) for e in (
        directory("team.recorded", {"team_id": team, "name": "Team", "manager_id": f"M-{tag}"},
                  at=start),
        directory("worker.joined", joined, at=start),
        # later in event time: the directory has now been applied past both parked events
        directory("supervision.held", {"worker_id": worker, "supervisor_id": worker,
                                       "kind": "professional", "duration_minutes": 90,
                                       "started_at": session.isoformat()},
                  at=session + timedelta(hours=2)),
    )])  # fmt: skip
    await wait_until(lambda: rows(
        dsn, "SELECT 1 FROM workforce_allocations WHERE worker_id = $1 AND child_id = $2",
        worker, child,
    ), timeout=120)  # fmt: skip
    await wait_until(
        lambda: rows(dsn, "SELECT 1 FROM workforce_referrals WHERE child_id = $1", child),
        timeout=120,
    )
    await wait_until(
        lambda: _none(rows(dsn, "SELECT 1 FROM workforce_parked WHERE ref IN ($1, $2)",
                           team, worker))
    )  # fmt: skip
    letters = [
        r for r in await read_topic(bootstrap, DEADLETTER.name, DEADLETTER.partitions)
        if r.key == child.encode()
    ]  # fmt: skip
    assert letters == []
    # the clocks are those of the history, whatever the arrival order: the allocated child has
    # its case oversight due 30 days after allocation (CIN), no referral → allocation clock left
    clocks = {
        r["kind"]: r
        for r in await rows(dsn, "SELECT * FROM workforce_clocks WHERE child_id = $1", child)
    }
    assert set(clocks) == {"case_oversight"}
    assert clocks["case_oversight"]["due_at"] == end_of_day(
        (referral_at + timedelta(minutes=30)).astimezone(LONDON).date() + timedelta(days=30)
    )


async def _none(found: Any) -> bool:
    return not await found
