"""No poison stops screening: a batch of 500 contacts with three bad records, on the real stack.

Real embedded broker, real PostgreSQL, a ``screening`` worker as a real process (each runner).
Of 500 contacts published straight onto ``frontdoor.contacts``, one has a NUL in a text field
and one a NUL in a header value (the contract refuses both: ``validation``), and one is a valid
contact received in 2041, past the years the working-day calendar holds, so triaging it raises
(``processing``, after the pipeline has split the batch until it stood alone). Each of the three
is dead-lettered with its reason and its original bytes; the other 497 are triaged and recorded
once; the worker keeps running and handles what comes next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import pytest

from schemas.topics import CASEWORK, CONTACTS, DEADLETTER
from services.common.deadletter import header_map
from services.common.kafka import new_producer
from services.common.settings import Endpoints
from tests.conftest import Workers, read_topic, wait_until
from tests.factories import contact, da_notification, to_line

pytestmark = pytest.mark.integration

TUESDAY_4AM = datetime(2025, 3, 4, 4, 0, tzinfo=UTC)
BATCH = 500
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


@pytest.fixture
async def db(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(endpoints.database_url)
    yield conn
    await conn.close()


def record(event: dict[str, Any], **headers: bytes) -> Record:
    """(key, value, headers) as intake would publish ``event`` onto the contacts topic."""
    return (
        event["subject"]["child_id"].encode(),
        to_line(event),
        [("event_type", event["event_type"].encode()), *headers.items()],
    )


async def publish(bootstrap: str, records: list[Record]) -> None:
    producer = new_producer(bootstrap, linger_ms=20)
    await producer.start()
    try:
        pending = [
            await producer.send(CONTACTS.name, value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def recorded(db: asyncpg.Connection, ids: list[UUID]) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM screening_results WHERE event_id = ANY($1::uuid[])", ids
        )
    )


async def dead_letters_for(bootstrap: str, values: set[bytes]) -> dict[bytes, dict[str, str]]:
    found: dict[bytes, dict[str, str]] = {}
    for r in await read_topic(bootstrap, DEADLETTER.name, DEADLETTER.partitions):
        if r.value in values:
            found[r.value] = header_map(list(r.headers or ()))
    return found


@pytest.mark.parametrize("runtime", ["aiokafka", "faust"])
async def test_three_poison_records_in_a_batch_of_500_are_dead_lettered_and_497_land(
    runtime: str, endpoints: Endpoints, workers: Workers, db: asyncpg.Connection
) -> None:
    bootstrap = endpoints.bootstrap_servers
    good = [
        da_notification(at=TUESDAY_4AM + timedelta(minutes=i), dash=i % 20) if i % 2 else contact()
        for i in range(BATCH - 3)
    ]
    nul_text = contact()
    nul_text["payload"]["summary"] = "Teacher noticed\u0000 the child is often hungry."
    nul_header = contact()
    beyond_calendar = contact(at=datetime(2041, 3, 5, 10, 0, tzinfo=UTC))
    records = [record(e) for e in good]
    # spread through the batch, so that the good records on either side share its transactions
    records.insert(100, record(nul_text))
    records.insert(250, record(nul_header, trace=b"abc\x00def"))
    records.insert(400, record(beyond_calendar))
    assert len(records) == BATCH
    await publish(bootstrap, records)  # all on the broker before the worker's first fetch

    worker = workers.start("screening", FRONTDOOR_SCREENING_RUNTIME=runtime)
    ids = [UUID(e["event_id"]) for e in good]
    # a faust worker's first group join waits out the rebalance timeout; allow for a busy machine
    await wait_until(lambda: _all(recorded(db, ids), len(ids)), timeout=180)

    expected = {
        to_line(nul_text): ("validation", "ContractViolationError"),
        to_line(nul_header): ("validation", "BadHeaderError"),
        to_line(beyond_calendar): ("processing", "CalendarRangeError"),
    }
    letters = await wait_until(
        lambda: _complete(dead_letters_for(bootstrap, set(expected)), len(expected)), timeout=60
    )
    assert isinstance(letters, dict)
    for value, (reason, error) in expected.items():
        headers = letters[value]
        assert headers["dlq.reason"] == reason
        assert error in headers["dlq.exception.class"]
        assert headers["dlq.original.topic"] == CONTACTS.name
        assert headers["dlq.consumer.group"] == "frontdoor-screening-triage"
        assert headers["event_type"] == "contact.received"  # the original headers are kept
    assert "\x00" not in letters[to_line(nul_text)]["dlq.exception.message"]

    poison = [UUID(e["event_id"]) for e in (nul_text, nul_header, beyond_calendar)]
    assert await recorded(db, poison) == 0
    assert await recorded(db, ids) == len(ids)
    claimed = await db.fetchval(
        "SELECT count(*) FROM processed_events WHERE consumer = 'screening.triage'"
        " AND event_id = ANY($1::uuid[])",
        [*ids, *poison],
    )
    assert claimed == len(ids)  # dead letters stay unclaimed: a replay after a fix counts
    triaged = [
        orjson.loads(r.value).get("causation_id")  # other tests put their own triage events here
        for r in await read_topic(bootstrap, CASEWORK.name, CASEWORK.partitions)
        if dict(r.headers or ()).get("event_type") == b"screening.triaged"
    ]
    ours = [t for t in triaged if t and UUID(t) in set(ids) | set(poison)]
    assert sorted(ours) == sorted(str(i) for i in ids)  # each good one once, no poison

    after = contact()
    await publish(bootstrap, [record(after)])
    await wait_until(lambda: _all(recorded(db, [UUID(after["event_id"])]), 1))
    assert worker.poll() is None, "the worker must never exit on a poison record"


async def _all(count: Any, n: int) -> bool:
    return int(await count) >= n


async def _complete(found: Any, n: int) -> Any:
    letters = await found
    return letters if len(letters) >= n else None
