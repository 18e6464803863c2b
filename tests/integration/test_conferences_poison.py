"""No poison stops the conferences worker: three bad records in a batch of 500, on the real stack.

500 records go straight onto ``frontdoor.casework`` (where intake would put them) for a running
``frontdoor worker conferences``: 165 children's referral, strategy discussion and s47, two more
referrals, and three records that must not land — one with a NUL in a text field (the contract
refuses it: ``validation``), one with a NUL in a header value (``validation``) and a strategy
discussion in 2041, which passes the contract but which the working-day calendar (2005–2040)
cannot date, so the handler raises on it and the pipeline isolates it (``processing``). Each bad
record is dead-lettered on ``frontdoor.deadletter`` with its reason and its original bytes, the
other 497 land in the conferences tables and the ``processed_events`` ledger, and the worker is
still running at the end. Both runners are tried.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import orjson
import pytest

from schemas.topics import CASEWORK, DEADLETTER
from services.common.deadletter import header_map
from services.common.kafka import new_producer
from services.common.settings import Endpoints
from tests.conftest import Workers, read_topic, wait_until
from tests.integration.test_conferences import fetch
from tests.unit.test_conferences_lifecycle import at, new_id, referral, s47, strategy

pytestmark = pytest.mark.integration

GROUP = "frontdoor-conferences"
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def record(event: dict[str, Any], *extra: tuple[str, bytes]) -> Record:
    headers = [("event_type", event["event_type"].encode()), *extra]
    return event["subject"]["child_id"].encode(), orjson.dumps(event), headers


async def publish(bootstrap: str, records: list[Record]) -> None:
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        sent = [
            await producer.send(CASEWORK.name, value, key=key, headers=headers)
            for key, value, headers in records
        ]
        for future in sent:
            await future
    finally:
        await producer.stop()


@pytest.mark.parametrize("runtime", ["aiokafka", "faust"])
async def test_nul_text_nul_header_and_a_failing_record_are_dead_lettered_and_497_land(
    endpoints: Endpoints, workers: Workers, runtime: str
) -> None:
    run = uuid.uuid4().hex[:8]
    good: list[dict[str, Any]] = []
    for n in range(165):
        child = f"C{run}g{n:03d}"
        ref = referral(child, at(2025, 4, 10, 11))
        sd = strategy(child, ref["payload"]["referral_id"], at(2025, 4, 14, 14))
        good += [ref, sd, s47(child, sd, at(2025, 4, 14, 15))]
    good += [referral(f"C{run}r{n}", at(2025, 4, 11)) for n in range(2)]

    nul_text = referral(f"C{run}nultext", at(2025, 4, 10))
    nul_text["source"]["ref"] = "REF\u00001"
    nul_header = referral(f"C{run}nulhdr", at(2025, 4, 10))
    unplannable = strategy(f"C{run}y2041", new_id(), at(2041, 3, 4))
    poison = {
        nul_text["subject"]["child_id"].encode(): ("validation", record(nul_text)),
        nul_header["subject"]["child_id"].encode(): (
            "validation",
            record(nul_header, ("traceparent", b"00-\x00-01")),
        ),
        unplannable["subject"]["child_id"].encode(): ("processing", record(unplannable)),
    }
    records = [record(e) for e in good]
    for n, (_, bad) in enumerate(poison.values()):
        records.insert(100 + 150 * n, bad)
    assert len(records) == 500

    await publish(endpoints.bootstrap_servers, records)
    worker = workers.start("conferences", FRONTDOOR_CONFERENCES_RUNTIME=runtime)
    dsn = endpoints.database_url
    good_ids = [UUID(e["event_id"]) for e in good]

    async def all_good_processed() -> int:
        rows = await fetch(
            dsn,
            "SELECT count(*) AS n FROM processed_events"
            " WHERE consumer = 'conferences' AND event_id = ANY($1::uuid[])",
            good_ids,
        )
        n = int(rows[0]["n"])
        return n if n == len(good) else 0

    async def all_poison_dead_lettered() -> dict[bytes, Any]:
        found = {
            r.key: r
            for r in await read_topic(endpoints.bootstrap_servers, DEADLETTER.name, DEADLETTER.partitions)
            if r.key in poison and header_map(r.headers).get("dlq.consumer.group") == GROUP
        }
        return found if found.keys() == poison.keys() else {}

    assert await wait_until(all_good_processed, timeout=120) == 497
    letters = await wait_until(all_poison_dead_lettered, timeout=120)
    assert isinstance(letters, dict)
    for key, (reason, (_, value, headers)) in poison.items():
        letter = letters[key]
        got = header_map(letter.headers)
        assert got["dlq.reason"] == reason
        assert got["dlq.original.topic"] == CASEWORK.name
        assert letter.value == value
        assert [(k, bytes(v)) for k, v in letter.headers if not k.startswith("dlq.")] == headers
    assert header_map(letters[unplannable["subject"]["child_id"].encode()].headers)[
        "dlq.exception.class"
    ].endswith("CalendarRangeError")

    children = sorted({e["subject"]["child_id"] for e in good})
    conferences = await fetch(
        dsn, "SELECT child_id FROM conferences WHERE child_id = ANY($1::text[])", children
    )
    assert len(conferences) == 165
    referrals = await fetch(
        dsn,
        "SELECT child_id FROM conference_referrals WHERE child_id = ANY($1::text[])",
        [*children, *(k.decode() for k in poison)],
    )
    assert sorted(r["child_id"] for r in referrals) == children
    refused = await fetch(
        dsn,
        "SELECT event_id FROM processed_events"
        " WHERE consumer = 'conferences' AND event_id = ANY($1::uuid[])",
        [UUID(e["event_id"]) for e in (nul_text, nul_header, unplannable)],
    )
    assert refused == []
    assert worker.poll() is None  # still running
