"""Screening end to end: partner.events → intake → screening → casework/crisis and PostgreSQL.

Real embedded broker, real PostgreSQL, ``intake`` and ``screening`` workers as real processes.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import pytest

from schemas.topics import CASEWORK, CONTACTS, CRISIS
from services.cli.replay import publish_lines
from services.common.settings import Endpoints
from tests.conftest import Workers, read_topic, wait_until
from tests.factories import contact, da_notification, envelope, to_line

pytestmark = pytest.mark.integration

SATURDAY_2AM = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
TUESDAY_4AM = datetime(2025, 3, 4, 4, 0, tzinfo=UTC)


@pytest.fixture
async def db(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(endpoints.database_url)
    yield conn
    await conn.close()


@pytest.fixture
def running(workers: Workers) -> Workers:
    workers.start("intake")
    workers.start("screening")
    return workers


async def caused_by(bootstrap: str, topic: str, partitions: int, event_id: str) -> list[Any]:
    """The events on ``topic`` whose causation is ``event_id``."""
    found = []
    for record in await read_topic(bootstrap, topic, partitions):
        try:
            value = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            continue  # other tests share the session's topics, poison records included
        if isinstance(value, dict) and value.get("causation_id") == event_id:
            found.append((record, value))
    return found


async def result_row(db: asyncpg.Connection, event: dict[str, Any]) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await db.fetchrow(
        "SELECT * FROM screening_results WHERE event_id = $1", UUID(event["event_id"])
    )
    return row


def decision(event: dict[str, Any], at: datetime) -> dict[str, Any]:
    return envelope(
        "screening.decision_recorded",
        1,
        {
            "contact_id": event["payload"]["contact_id"],
            "decided_at": at.isoformat(),
            "decision": "early_help",
            "reason": "Family agreed to early help.",
            "team": "MASH",
        },
        child=event["subject"]["child_id"],
        at=at,
    )


async def test_da_notification_is_triaged_onto_casework_and_recorded(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    event = da_notification(at=TUESDAY_4AM, dash=11)
    await publish_lines(endpoints.bootstrap_servers, [to_line(event)])
    row = await wait_until(lambda: result_row(db, event))
    assert isinstance(row, asyncpg.Record)
    assert (row["priority"], row["route_kind"], row["crisis"]) == ("amber", "mash_queue", False)
    assert row["operation_encompass"] is True  # the factory's child is of school age
    assert row["decided_at"] is None

    found = await wait_until(
        lambda: caused_by(
            endpoints.bootstrap_servers, CASEWORK.name, CASEWORK.partitions, event["event_id"]
        )
    )
    assert isinstance(found, list)
    [(record, triaged)] = found
    assert record.key == event["subject"]["child_id"].encode()
    assert triaged["event_type"] == "screening.triaged"
    assert triaged["event_id"] == str(row["triaged_event_id"])
    assert triaged["payload"]["priority"] == "amber"
    assert "police_risk.medium" in [r["rule"] for r in triaged["payload"]["reasons"]]
    assert [r["rule"] for r in triaged["payload"]["reasons"]] == [
        r["rule"] for r in orjson.loads(row["reasons"])
    ]
    queued = await db.fetchval(
        "SELECT count(*) FROM screening_queue WHERE event_id = $1", UUID(event["event_id"])
    )
    assert queued == 1


async def test_red_notification_at_two_on_a_saturday_also_goes_to_crisis(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    event = da_notification(at=SATURDAY_2AM, dash=16)
    await publish_lines(endpoints.bootstrap_servers, [to_line(event)])
    row = await wait_until(lambda: result_row(db, event))
    assert isinstance(row, asyncpg.Record)
    assert (row["priority"], row["crisis"]) == ("red", True)
    found = await wait_until(
        lambda: caused_by(
            endpoints.bootstrap_servers, CRISIS.name, CRISIS.partitions, event["event_id"]
        )
    )
    assert isinstance(found, list)
    [(record, crisis)] = found
    assert record.key == event["subject"]["child_id"].encode()
    assert crisis["event_type"] == "crisis.raised"
    assert crisis["payload"]["trigger_event_id"] == event["event_id"]
    assert crisis["payload"]["reason"] == "high_risk_domestic_abuse"
    assert "out of office hours" in crisis["payload"]["explanation"]


async def test_redelivered_contact_changes_nothing(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    event = contact()
    await publish_lines(endpoints.bootstrap_servers, [to_line(event)])
    before = await wait_until(lambda: result_row(db, event))
    # the same record delivered to screening again, then a marker behind it on the same partition
    marker = contact(event["subject"]["child_id"], at=datetime(2025, 3, 5, 10, 0, tzinfo=UTC))
    await publish_lines(endpoints.bootstrap_servers, [to_line(event)], topic=CONTACTS.name)
    await publish_lines(endpoints.bootstrap_servers, [to_line(marker)], topic=CONTACTS.name)
    await wait_until(lambda: result_row(db, marker))
    assert await result_row(db, event) == before
    ledger = await db.fetchval(
        "SELECT count(*) FROM processed_events WHERE consumer = 'screening.triage'"
        " AND event_id = $1",
        UUID(event["event_id"]),
    )
    assert ledger == 1
    published = await caused_by(
        endpoints.bootstrap_servers, CASEWORK.name, CASEWORK.partitions, event["event_id"]
    )
    assert len(published) == 1


async def test_a_later_decision_closes_the_screening(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    event = da_notification(at=TUESDAY_4AM, dash=5)
    await publish_lines(endpoints.bootstrap_servers, [to_line(event)])
    await wait_until(lambda: result_row(db, event))
    decided_at = TUESDAY_4AM + timedelta(hours=9)
    await publish_lines(endpoints.bootstrap_servers, [to_line(decision(event, decided_at))])

    async def decided() -> asyncpg.Record | None:
        row = await result_row(db, event)
        return row if row is not None and row["decided_at"] is not None else None

    row = await wait_until(decided)
    assert isinstance(row, asyncpg.Record)
    assert (row["decided_at"], row["decision"], row["priority"]) == (
        decided_at,
        "early_help",
        "green",
    )
    queued = await db.fetchval(
        "SELECT count(*) FROM screening_queue WHERE event_id = $1", UUID(event["event_id"])
    )
    assert queued == 0


async def test_a_child_open_to_a_team_is_routed_there_from_the_recorded_history(
    endpoints: Endpoints, running: Workers, db: asyncpg.Connection
) -> None:
    child = f"C{uuid.uuid4().hex[:12]}"
    referral = envelope(
        "referral.accepted",
        1,
        {
            "referral_id": str(uuid.uuid4()),
            "referral_at": (TUESDAY_4AM - timedelta(days=30)).isoformat(),
            "referral_source": "6",
            "primary_need": "N1",
            "team": "Safeguarding East",
            "child": {
                "given_name": "Alex",
                "family_name": "Example",
                "date_of_birth": "2017-05-01",
                "sex": "F",
                "ethnicity": "WBRI",
            },
        },
        child=child,
        at=TUESDAY_4AM - timedelta(days=30),
    )
    await publish_lines(endpoints.bootstrap_servers, [to_line(referral)])
    await wait_until(
        lambda: db.fetchval("SELECT 1 FROM events WHERE event_id = $1", UUID(referral["event_id"]))
    )
    event = da_notification(child, at=TUESDAY_4AM, dash=5)
    await publish_lines(endpoints.bootstrap_servers, [to_line(event)])
    row = await wait_until(lambda: result_row(db, event))
    assert isinstance(row, asyncpg.Record)
    assert (row["route_kind"], row["route_team"]) == ("open_case", "Safeguarding East")


async def test_the_faust_runtime_triages_the_same_way(
    endpoints: Endpoints, workers: Workers, db: asyncpg.Connection
) -> None:
    workers.start("intake")
    workers.start("screening", FRONTDOOR_SCREENING_RUNTIME="faust")
    event = da_notification(at=SATURDAY_2AM, dash=15)
    await publish_lines(endpoints.bootstrap_servers, [to_line(event)])
    # a faust worker's first group join waits out the rebalance timeout; allow for a busy machine
    row = await wait_until(lambda: result_row(db, event), timeout=120)
    assert isinstance(row, asyncpg.Record)
    assert (row["priority"], row["crisis"]) == ("red", True)


async def test_screening_killed_mid_stream_loses_nothing_and_records_each_contact_once(
    endpoints: Endpoints, workers: Workers, db: asyncpg.Connection
) -> None:
    events = [
        da_notification(at=TUESDAY_4AM + timedelta(minutes=i), dash=i % 20) if i % 2 else contact()
        for i in range(400)
    ]
    ids = [UUID(e["event_id"]) for e in events]

    async def recorded() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM screening_results WHERE event_id = ANY($1::uuid[])", ids
            )
        )

    workers.start("intake")
    first = workers.start("screening")
    warm_up = contact()
    await publish_lines(endpoints.bootstrap_servers, [to_line(warm_up)])
    await wait_until(lambda: result_row(db, warm_up))

    async def trickle() -> None:  # about 100 events a second, so the kill lands mid-stream
        for start in range(0, len(events), 10):
            chunk = [to_line(e) for e in events[start : start + 10]]
            await publish_lines(endpoints.bootstrap_servers, chunk)
            await asyncio.sleep(0.1)

    publishing = asyncio.create_task(trickle())
    await wait_until(lambda: _at_least(recorded(), 50), interval=0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert await recorded() < len(events), "the kill must happen mid-stream to prove anything"
    await publishing
    workers.start("screening")
    await wait_until(lambda: _at_least(recorded(), len(events)), timeout=120)

    assert await recorded() == len(events)
    ledger = await db.fetchval(
        "SELECT count(*) FROM processed_events WHERE consumer = 'screening.triage'"
        " AND event_id = ANY($1::uuid[])",
        ids,
    )
    assert ledger == len(events)
    triaged = {
        orjson.loads(r.value).get("causation_id")  # other tests put their own triage events here
        for r in await read_topic(endpoints.bootstrap_servers, CASEWORK.name, CASEWORK.partitions)
        if dict(r.headers or ()).get("event_type") == b"screening.triaged"
    }
    assert {str(i) for i in ids} <= triaged


async def _at_least(awaitable: Awaitable[int], n: int) -> bool:
    return await awaitable >= n
