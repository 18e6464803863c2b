"""Out of hours on the real stack: partner.events → intake → outofhours → frontdoor.crisis → the
night's record; screening's crises recorded too; actions acknowledge; the handover and its clock.

Real embedded broker, real PostgreSQL, ``intake``, ``screening`` and ``outofhours`` workers as
real processes (``sla`` too for the handover clock).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import pytest

from schemas.topics import CASEWORK, CRISIS, DEADLETTER
from services.cli.replay import publish_lines
from services.common.settings import Endpoints
from tests.conftest import ROOT, Workers, read_topic, wait_until
from tests.factories import child_id, da_notification, envelope, to_line

pytestmark = pytest.mark.integration

MONDAY_NIGHT = datetime(2025, 3, 4, 1, 40, tzinfo=UTC)  # the shift of Monday 3 March 2025
SHIFT_START = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)
SHIFT_END = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(endpoints.database_url)
    yield conn
    await conn.close()


@pytest.fixture
def running(workers: Workers) -> Workers:
    workers.start("intake")
    workers.start("screening")
    workers.start("outofhours")
    return workers


def protection(child: str, at: datetime = MONDAY_NIGHT) -> dict[str, Any]:
    return envelope(
        "police.protection_started", 1,
        {"protection_id": str(uuid.uuid4()), "started_at": at.isoformat(),
         "police_ref": "SYP-77", "summary": "Children alone at home overnight."},
        child=child, agency="police", at=at,
    )  # fmt: skip


def duty_action(child: str, cause: str, at: datetime) -> dict[str, Any]:
    event = envelope(
        "ooh.action_recorded", 1,
        {"action_id": str(uuid.uuid4()), "action_at": at.isoformat(),
         "kind": "emergency_placement", "urgency": "immediate",
         "summary": "Emergency foster placement found.",
         "decision_reason": "No family member could be reached overnight.", "worker": "EDT03"},
        child=child, agency="ooh", at=at,
    )  # fmt: skip
    event["causation_id"] = cause
    return event


async def crisis_records(bootstrap: str, topic: str = CRISIS.name) -> list[Any]:
    partitions = CRISIS.partitions if topic == CRISIS.name else DEADLETTER.partitions
    return await read_topic(bootstrap, topic, partitions)


async def item_row(db: asyncpg.Connection, child: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await db.fetchrow(
        "SELECT * FROM ooh_watch_items WHERE child_id = $1", child
    )
    return row


async def cli(endpoints: Endpoints, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.ooh", *args,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
             "DATABASE_URL": endpoints.database_url, "FRONTDOOR_LOG_LEVEL": "WARNING"},
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode() or err.decode()


async def test_police_protection_reaches_the_crisis_stream_and_the_nights_record(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    child = child_id()
    trigger = protection(child)
    await publish_lines(endpoints.bootstrap_servers, [to_line(trigger)])
    row = await wait_until(lambda: item_row(db, child))
    assert isinstance(row, asyncpg.Record)
    assert (row["reason"], row["urgency"]) == ("police_protection", "immediate")
    assert (row["shift_start"], row["shift_end"]) == (SHIFT_START, SHIFT_END)
    assert row["happened_at"] == MONDAY_NIGHT
    assert row["acknowledged_at"] is None
    assert row["trigger_event_id"] == UUID(trigger["event_id"])

    records = await crisis_records(endpoints.bootstrap_servers)
    mine = [r for r in records if r.key == child.encode()]
    assert len(mine) == 1
    crisis = orjson.loads(mine[0].value)
    assert crisis["event_id"] == str(row["event_id"])
    assert "72-hour limit" in crisis["payload"]["explanation"]


async def test_screenings_red_out_of_hours_triage_is_in_the_nights_record_too(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    notification = da_notification(at=MONDAY_NIGHT - timedelta(hours=6), dash=16)
    child = notification["subject"]["child_id"]
    await publish_lines(endpoints.bootstrap_servers, [to_line(notification)])
    row = await wait_until(lambda: item_row(db, child))
    assert isinstance(row, asyncpg.Record)
    assert row["reason"] == "high_risk_domestic_abuse"
    assert row["source_system"] == "frontdoor-screening"
    assert row["trigger_event_id"] == UUID(notification["event_id"])
    # screening gives no trigger time: the notification's own time, from events, sets the night
    assert row["happened_at"] == MONDAY_NIGHT - timedelta(hours=6)
    assert row["shift_start"] == SHIFT_START


async def test_a_duty_action_answering_an_item_acknowledges_it(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    child = child_id()
    await publish_lines(endpoints.bootstrap_servers, [to_line(protection(child))])
    row = await wait_until(lambda: item_row(db, child))
    assert isinstance(row, asyncpg.Record)
    acted_at = MONDAY_NIGHT + timedelta(minutes=25)
    action = duty_action(child, str(row["event_id"]), acted_at)
    await publish_lines(endpoints.bootstrap_servers, [to_line(action)])

    async def acknowledged() -> asyncpg.Record | None:
        r = await item_row(db, child)
        return r if r is not None and r["acknowledged_at"] is not None else None

    done = await wait_until(acknowledged)
    assert isinstance(done, asyncpg.Record)
    assert (done["acknowledged_at"], done["acknowledged_by"]) == (acted_at, "EDT03")
    shift = await db.fetchval(
        "SELECT shift_start FROM ooh_actions WHERE event_id = $1", UUID(action["event_id"])
    )
    assert shift == SHIFT_START


async def test_redelivered_trigger_raises_one_crisis_item(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    child = child_id()
    trigger = protection(child)
    await publish_lines(endpoints.bootstrap_servers, [to_line(trigger)])
    await wait_until(lambda: item_row(db, child))
    marker_child = child_id()
    # the accepted event delivered to outofhours again, then a marker behind it
    await publish_lines(endpoints.bootstrap_servers, [to_line(trigger)], topic=CASEWORK.name)
    await publish_lines(endpoints.bootstrap_servers, [to_line(protection(marker_child))])
    await wait_until(lambda: item_row(db, marker_child))
    records = await crisis_records(endpoints.bootstrap_servers)
    assert len([r for r in records if r.key == child.encode()]) == 1
    ledger = await db.fetchval(
        "SELECT count(*) FROM processed_events WHERE consumer = 'outofhours.casework'"
        " AND event_id = $1",
        UUID(trigger["event_id"]),
    )
    assert ledger == 1


async def test_an_unreadable_crisis_record_is_dead_lettered_with_its_bytes(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    garbage = b'{"event_type": "crisis.raised", "oops": ' + uuid.uuid4().hex.encode() + b"}"
    await publish_lines(endpoints.bootstrap_servers, [garbage], topic=CRISIS.name)

    async def dead_letter() -> Any:
        for record in await crisis_records(endpoints.bootstrap_servers, DEADLETTER.name):
            if record.value == garbage:
                return record
        return None

    record = await wait_until(dead_letter)
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["dlq.consumer.group"] == "frontdoor-outofhours-record"
    assert headers["dlq.reason"] == "deserialization"


async def test_the_handover_lists_the_night_and_the_day_teams_ack_meets_its_clock(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    running.start("sla")
    child = child_id()
    await publish_lines(endpoints.bootstrap_servers, [to_line(protection(child))])
    row = await wait_until(lambda: item_row(db, child))
    assert isinstance(row, asyncpg.Record)
    action = duty_action(child, str(row["event_id"]), MONDAY_NIGHT + timedelta(minutes=30))
    await publish_lines(endpoints.bootstrap_servers, [to_line(action)])
    await wait_until(
        lambda: db.fetchval("SELECT 1 FROM ooh_actions WHERE event_id = $1",
                            UUID(action["event_id"]))
    )  # fmt: skip

    # a preview says it published nothing (issue 14), and keeps every word of the reason
    code, out = await cli(endpoints, "handover", "--no-publish", "--night", "2025-03-03")
    assert code == 0, out
    assert "preview only, nothing was published" in out
    assert "already published" in out
    assert "NOT ACKNOWLEDGED" not in out.split("reasons for decisions")[-1].split("\n")[0]
    assert await db.fetchval("SELECT count(*) FROM ooh_handovers WHERE child_id = $1", child) == 0

    code, out = await cli(endpoints, "handover", "--json", "--night", "2025-03-03")
    assert code == 0, out
    report = json.loads(out)
    assert report["due_by"] == SHIFT_END.isoformat()
    (part,) = [p for p in report["parts"] if p["child_id"] == child]
    assert part["urgency"] == "immediate"
    assert part["items"][0]["reason"] == "police_protection"
    assert part["items"][0]["explanation"] == row["explanation"]  # every word, none cut
    assert part["actions"][0]["decision_reason"] == "No family member could be reached overnight."
    ranks = [p["rank"] for p in report["parts"]]
    assert ranks == sorted(ranks)
    assert report["published_now"] >= 1

    await wait_until(lambda: db.fetchval("SELECT 1 FROM ooh_handovers WHERE child_id = $1", child))
    code, out = await cli(endpoints, "handover", "--json", "--night", "2025-03-03")
    assert json.loads(out)["published_now"] == 0  # the same handover is not sent twice

    # a team nobody has ever named is refused (issue 14): nothing acknowledged, no clock moved
    code, out = await cli(
        endpoints, "ack", "--team", "Nobody Team", "--worker", "DT04",
        "--night", "2025-03-03", "--child", child,
    )  # fmt: skip
    assert code == 2, out
    assert "unknown team 'Nobody Team'" in out
    assert "MASH" in out  # the known teams are listed
    assert await db.fetchval("SELECT count(*) FROM ooh_handover_acks WHERE child_id = $1", child) == 0

    code, out = await cli(
        endpoints, "ack", "--team", "MASH", "--worker", "DT04",
        "--night", "2025-03-03", "--child", child,
    )  # fmt: skip
    assert code == 0, out

    async def clock() -> asyncpg.Record | None:
        r: asyncpg.Record | None = await db.fetchrow(
            "SELECT * FROM sla_timers WHERE child_id = $1 AND kind = 'ooh_handover'", child
        )
        return r if r is not None and r["status"] == "met" else None

    timer = await wait_until(clock, timeout=90)
    assert isinstance(timer, asyncpg.Record)
    assert timer["due_at"] == SHIFT_END
    assert timer["started_at"] == SHIFT_START
    acked = await db.fetchrow("SELECT * FROM ooh_handover_acks WHERE child_id = $1", child)
    assert acked is not None
    assert (acked["team"], acked["worker"]) == ("MASH", "DT04")


async def test_the_faust_runtime_raises_and_records_crisis_items_too(
    endpoints: Endpoints, workers: Workers, db: asyncpg.Connection
) -> None:
    workers.start("intake")
    workers.start("outofhours", FRONTDOOR_OOH_RUNTIME="faust")
    child = child_id()
    await publish_lines(endpoints.bootstrap_servers, [to_line(protection(child))])
    row = await wait_until(lambda: item_row(db, child), timeout=120)
    assert isinstance(row, asyncpg.Record)
    assert (row["reason"], row["shift_start"]) == ("police_protection", SHIFT_START)
