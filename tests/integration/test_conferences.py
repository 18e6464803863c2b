"""The conferences worker with the real stack: partner events in, tables, inboxes and clocks out.

Partner events are published to ``partner.events`` (as ``frontdoor replay`` does) and go through
the real intake, conferences and SLA workers. One child's whole journey — police DA notification,
referral, strategy discussion and s47, agencies' reports, ICPC with a plan, visits and core
groups, two reviews, the plan's end — is checked against dates written by hand (Easter and both
May bank holidays, a review date on a Sunday), in the conferences tables, the
``conferences_upcoming`` view, each agency's inbox topic and the SLA timers. Separate children
break each rule of the record and must land on ``frontdoor.deadletter``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import pytest

from schemas.registry import parse_event
from schemas.topics import CONFERENCES, DEADLETTER, Topic, agency_inbox
from services.cli.conferences import conferences_command
from services.cli.replay import publish_lines
from services.common.deadletter import header_map
from services.common.settings import Endpoints
from services.conferences.domain.invitations import icpc_id, review_id
from tests.conftest import Workers, wait_until
from tests.conftest import read_topic as read_topic_records
from tests.factories import da_notification, to_line
from tests.unit.test_conferences_handler import SCENARIOS
from tests.unit.test_conferences_lifecycle import (
    at,
    core_group,
    eod,
    icpc,
    new_id,
    plan_ended,
    rcpc,
    referral,
    report,
    s47,
    strategy,
    visit,
)

pytestmark = pytest.mark.integration


async def read_topic(bootstrap: str, topic: Topic) -> list[Any]:
    return await read_topic_records(bootstrap, topic.name, topic.partitions)


async def inbox(bootstrap: str, agency: str, children: Sequence[str]) -> list[dict[str, Any]]:
    records = await read_topic(bootstrap, agency_inbox(agency))
    events = [orjson.loads(r.value) for r in records]
    return [e for e in events if e["subject"]["child_id"] in set(children)]


async def fetch(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def publish(endpoints: Endpoints, events: Sequence[dict[str, Any]]) -> None:
    await publish_lines(endpoints.bootstrap_servers, [to_line(e) for e in events])


CONFERENCE_CLOCKS = (
    "icpc",
    "conference_reports",
    "first_core_group",
    "core_group",
    "first_review",
    "review",
    "cp_visit",
)


def start_workers(workers: Workers) -> None:
    for name in ("intake", "conferences", "sla"):
        workers.start(name)


async def test_one_childs_journey_through_intake_conferences_and_sla(
    endpoints: Endpoints, workers: Workers, capsys: pytest.CaptureFixture[str]
) -> None:
    child = f"C{uuid.uuid4().hex[:12]}"
    other = f"C{uuid.uuid4().hex[:12]}"
    dsn = endpoints.database_url
    start_workers(workers)

    # Before the ICPC: notification, referral, strategy discussion and s47, three reports.
    ref = referral(child, at(2025, 4, 10, 11, 30))
    sd = strategy(child, ref["payload"]["referral_id"], at(2025, 4, 14, 14))
    en = s47(child, sd, at(2025, 4, 14, 15))
    conf = icpc_id(child, UUID(sd["payload"]["strategy_id"]))
    other_ref = referral(other, at(2025, 4, 11))
    other_sd = strategy(
        other, other_ref["payload"]["referral_id"], at(2025, 4, 16), agencies=("probation",)
    )
    await publish(
        endpoints,
        [
            da_notification(child, at=datetime(2025, 4, 9, 22, 40, tzinfo=UTC)),
            ref,
            sd,
            en,
            report(child, conf, "police", at(2025, 5, 2, 12)),
            report(child, conf, "social_care", at(2025, 5, 6, 16)),
            report(child, conf, "health", at(2025, 5, 7, 9)),
            other_ref,
            other_sd,
        ],
    )

    async def upcoming_with_three_reports() -> list[asyncpg.Record]:
        rows = await fetch(dsn, "SELECT * FROM conferences_upcoming WHERE child_id = $1", child)
        return rows if rows and len(rows[0]["reports_received"]) == 3 else []

    rows = await wait_until(upcoming_with_three_reports, timeout=120)
    assert isinstance(rows, list)
    (row,) = rows
    assert (row["conference_id"], row["kind"], row["target_date"]) == (
        conf,
        "icpc",
        date(2025, 5, 8),
    )
    assert row["reports_due_by"] == eod(2025, 5, 6)
    assert row["invited_agencies"] == ["police", "health", "education", "social_care"]
    assert row["reports_missing"] == ["education"]
    assert row["reports_late"] == ["health"]
    assert row["reports_overdue"] is True  # 2025's deadline has passed with education missing
    assert (row["quorate_on_invitations"], row["quorate_on_reports"]) == (True, True)

    await asyncio.to_thread(conferences_command, endpoints, as_json=True)
    listed = {c["conference_id"]: c for c in json.loads(capsys.readouterr().out)}
    assert listed[str(conf)]["target_date"] == "2025-05-08"
    assert listed[str(conf)]["reports_due_by"] == "2025-05-06T23:59:59+01:00"
    assert listed[str(conf)]["reports_missing"] == ["education"]

    # The ICPC makes a plan; visits, core groups, two reviews, the plan ends.
    plan = new_id()
    await publish(
        endpoints,
        [
            icpc(child, en, at(2025, 5, 7, 10), plan_id=plan),
            visit(child, plan, at(2025, 5, 16, 15)),
            core_group(child, plan, at(2025, 5, 20, 11)),
            core_group(child, plan, at(2025, 6, 24, 11)),
            report(child, review_id(UUID(plan), 1), "police", at(2025, 7, 30, 12)),
            rcpc(child, plan, at(2025, 8, 1, 10), continues=True),
            rcpc(child, plan, at(2026, 1, 28, 10), continues=False),
            plan_ended(child, plan, at(2026, 1, 28, 11)),
        ],
    )

    async def plan_ended_row() -> list[asyncpg.Record]:
        rows = await fetch(dsn, "SELECT * FROM cp_plans WHERE child_id = $1", child)
        return rows if rows and rows[0]["status"] == "ended" else []

    plans = await wait_until(plan_ended_row, timeout=120)
    assert isinstance(plans, list)
    (plan_row,) = plans
    assert plan_row["started_at"] == at(2025, 5, 7, 10)
    assert (plan_row["initial_category"], plan_row["latest_category"]) == ("NEG", "EMO")
    assert (plan_row["core_groups"], plan_row["visits"], plan_row["reviews"]) == (2, 1, 2)
    assert plan_row["ended_at"] == at(2026, 1, 28, 11)

    conferences = await fetch(
        dsn,
        "SELECT * FROM conferences WHERE child_id = $1 ORDER BY sequence",
        child,
    )
    assert [
        (c["kind"], c["target_date"], c["reports_due_by"], c["status"], c["outcome"])
        for c in conferences
    ] == [
        ("icpc", date(2025, 5, 8), eod(2025, 5, 6), "held", "plan"),
        ("rcpc", date(2025, 8, 7), eod(2025, 8, 5), "held", "plan_continues"),
        ("rcpc", date(2026, 1, 30), eod(2026, 1, 28), "held", "plan_to_end"),
    ]
    assert [c["quorate"] for c in conferences] == [True, True, True]
    assert await fetch(dsn, "SELECT 1 FROM conferences_upcoming WHERE child_id = $1", child) == []

    # Each agency's inbox: its own invitations, only to conferences it was invited to. The other
    # child's ICPC invited probation (and the usual police, health and social care), not education.
    for agency in ("police", "health", "education", "social_care"):
        got = await inbox(endpoints.bootstrap_servers, agency, [child, other])
        assert {e["payload"]["agency"] for e in got} == {agency}
        assert sorted(
            str(e["payload"]["conference_id"]) for e in got if e["subject"]["child_id"] == child
        ) == sorted(str(c["conference_id"]) for c in conferences)
    education = await inbox(endpoints.bootstrap_servers, "education", [child, other])
    assert {e["subject"]["child_id"] for e in education} == {child}
    probation = await inbox(endpoints.bootstrap_servers, "probation", [child, other])
    assert {(e["subject"]["child_id"], e["payload"]["agency"]) for e in probation} == {
        (other, "probation")
    }
    copies = [
        orjson.loads(r.value)
        for r in await read_topic(endpoints.bootstrap_servers, CONFERENCES)
        if r.key == child.encode()
    ]
    assert len(copies) == 12  # 3 conferences × 4 agencies

    # The clocks, kept by the SLA worker from the same events and the invitations.
    async def settled_timers() -> list[asyncpg.Record]:
        rows = await fetch(
            dsn,
            "SELECT * FROM sla_timers WHERE child_id = $1 AND kind = ANY($2::text[])"
            " ORDER BY kind, started_at, subject_ref",
            child,
            list(CONFERENCE_CLOCKS),
        )
        closed = all(r["status"] in ("met", "cancelled") for r in rows)
        return rows if closed and len(rows) == 20 else []

    timers = await wait_until(settled_timers, timeout=120)
    assert isinstance(timers, list)
    due = {}
    for t in timers:
        due.setdefault(t["kind"], []).append((t["due_at"], t["status"]))
    assert due["icpc"] == [(eod(2025, 5, 8), "met")]
    assert due["first_core_group"] == [(eod(2025, 5, 21), "met")]
    assert due["core_group"] == [(eod(2025, 7, 1), "met"), (eod(2025, 8, 5), "cancelled")]
    assert due["cp_visit"] == [(eod(2025, 5, 21), "met"), (eod(2025, 6, 2), "cancelled")]
    assert due["first_review"] == [(eod(2025, 8, 7), "met")]
    assert due["review"] == [(eod(2026, 2, 1), "met")]
    reports = {(r["subject_ref"], r["due_at"]) for r in timers if r["kind"] == "conference_reports"}
    assert {d for _, d in reports} == {eod(2025, 5, 6), eod(2025, 8, 5), eod(2026, 1, 28)}
    assert len(reports) == 12


async def test_each_invariant_violation_lands_in_the_deadletter_topic(
    endpoints: Endpoints, workers: Workers
) -> None:
    start_workers(workers)
    violating: dict[str, tuple[dict[str, Any], str]] = {}
    lines: list[dict[str, Any]] = []
    for scenario in SCENARIOS:
        child = f"C{uuid.uuid4().hex[:12]}"
        setup, bad, message = scenario(child)
        lines += [*setup, bad]
        violating[bad["event_id"]] = (bad, message)
    await publish(endpoints, lines)

    children = {bad["subject"]["child_id"].encode() for bad, _ in violating.values()}

    async def dead_letters() -> dict[str, Any]:
        found = {}
        for record in await read_topic(endpoints.bootstrap_servers, DEADLETTER):
            headers = header_map(record.headers)
            if headers.get("dlq.consumer.group") == "frontdoor-conferences" and (
                record.key in children
            ):
                found[orjson.loads(record.value)["event_id"]] = (record, headers)
        return found

    async def all_violations_dead_lettered() -> dict[str, Any]:
        found = await dead_letters()
        return found if violating.keys() <= found.keys() else {}

    found = await wait_until(all_violations_dead_lettered, timeout=120)
    assert isinstance(found, dict)
    others = [h["dlq.exception.message"] for e, (_, h) in found.items() if e not in violating]
    assert others == []  # no setup event was refused
    for event_id, (bad, message) in violating.items():
        record, headers = found[event_id]
        assert headers["dlq.reason"] == "validation"
        assert message in headers["dlq.exception.message"]
        assert record.key == bad["subject"]["child_id"].encode()
        assert parse_event(orjson.loads(record.value)) == parse_event(bad)

    processed = await fetch(
        endpoints.database_url,
        "SELECT event_id FROM processed_events WHERE consumer = 'conferences'"
        " AND event_id = ANY($1::uuid[])",
        [UUID(e) for e in violating],
    )
    assert processed == []
    plans = await fetch(
        endpoints.database_url,
        "SELECT child_id, count(*) AS n FROM cp_plans WHERE child_id = ANY($1::text[])"
        " AND status = 'open' GROUP BY child_id HAVING count(*) > 1",
        [c.decode() for c in children],
    )
    assert plans == []
