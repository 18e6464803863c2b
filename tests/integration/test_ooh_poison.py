"""No poison stops the out-of-hours worker: on the real stack, in a batch of 500, a NUL in a text
field, a NUL in a header and a record whose handling fails are each dead-lettered with their
reason while the other 497 land in the night's record, and the worker keeps running.

Real embedded broker, real PostgreSQL, the ``outofhours`` worker as a real process. The records
are put straight on the topic each subscription reads (the casework a crisis is raised from, and
the crisis stream recorded into the night), as an upstream producer would have left them. The
failing record is a realistic one: it passes the contract, but its moment lies outside the years
the working-day calendar knows (``CalendarRangeError``), so the handler raises on it, every time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from schemas.registry import parse_event
from schemas.topics import CASEWORK, CRISIS, DEADLETTER
from services.common.kafka import new_producer
from services.common.publishing import event_record
from services.common.settings import Endpoints
from services.outofhours.domain.crises import crisis_call, crisis_event
from tests.conftest import Workers, read_topic, wait_until
from tests.factories import child_id, envelope, to_line
from tests.integration.test_ooh import MONDAY_NIGHT, protection

pytestmark = pytest.mark.integration

BEYOND_THE_CALENDAR = datetime(2045, 3, 7, 2, 0, tzinfo=UTC)  # the calendar ends in 2040
BATCH = 500

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Poison:
    """A batch for one topic: the records and what must become of each of them."""

    topic: str
    group: str
    records: list[tuple[bytes, bytes, Headers]]  # key, value, headers
    landing: list[str]  # children whose crisis item must be in the record
    dead: dict[bytes, str]  # value → dlq.reason


def headed(event: dict[str, Any], *extra: tuple[str, bytes]) -> Headers:
    return [("event_type", event["event_type"].encode()), *extra]


def casework_batch() -> Poison:
    """Police protections on frontdoor.casework; the failing one is an action in 2045."""
    records: list[tuple[bytes, bytes, Headers]] = []
    landing = [child_id() for _ in range(BATCH - 3)]
    for child in landing:
        event = protection(child)
        records.append((child.encode(), to_line(event), headed(event)))
    nul_text = protection(child_id())
    nul_text["payload"]["summary"] = "Children alone\u0000 at home"
    nul_header = protection(child_id())
    action = envelope(
        "ooh.action_recorded", 1,
        {"action_id": str(uuid.uuid4()), "action_at": BEYOND_THE_CALENDAR.isoformat(),
         "kind": "welfare_check", "urgency": "today", "summary": "Visited.",
         "decision_reason": "Safe overnight.", "worker": "EDT01"},
        child=child_id(), agency="ooh", at=BEYOND_THE_CALENDAR,
    )  # fmt: skip
    poison = [
        (nul_text, headed(nul_text), "validation"),
        (nul_header, headed(nul_header, ("traceparent", b"00-\x00-01")), "validation"),
        (action, headed(action), "processing"),
    ]
    return _mixed(CASEWORK.name, "frontdoor-outofhours-casework", records, landing, poison)


def crisis_of(trigger: dict[str, Any]) -> dict[str, Any]:
    event = parse_event(trigger)
    call = crisis_call(event, out_of_hours=lambda _: True)
    assert call is not None
    return orjson.loads(
        event_record(CRISIS.name, crisis_event(event, call, at=MONDAY_NIGHT)).value or b""
    )


def crisis_batch() -> Poison:
    """crisis.raised on frontdoor.crisis; the failing one was triggered in 2045."""
    records: list[tuple[bytes, bytes, Headers]] = []
    landing = [child_id() for _ in range(BATCH - 3)]
    for child in landing:
        crisis = crisis_of(protection(child))
        records.append((child.encode(), orjson.dumps(crisis), headed(crisis)))
    nul_text = crisis_of(protection(child_id()))
    nul_text["payload"]["explanation"] = "Police protection\u0000"
    nul_header = crisis_of(protection(child_id()))
    beyond = crisis_of(protection(child_id()))
    beyond["payload"]["trigger_at"] = BEYOND_THE_CALENDAR.isoformat()
    poison = [
        (nul_text, headed(nul_text), "validation"),
        (nul_header, headed(nul_header, ("traceparent", b"00-\x00-01")), "validation"),
        (beyond, headed(beyond), "processing"),
    ]
    return _mixed(CRISIS.name, "frontdoor-outofhours-record", records, landing, poison)


def _mixed(
    topic: str,
    group: str,
    records: list[tuple[bytes, bytes, Headers]],
    landing: list[str],
    poison: list[tuple[dict[str, Any], Headers, str]],
) -> Poison:
    dead: dict[bytes, str] = {}
    for n, (event, headers, reason) in enumerate(poison):
        value = orjson.dumps(event)
        dead[value] = reason
        records.insert((n + 1) * len(records) // (len(poison) + 1), (
            event["subject"]["child_id"].encode(), value, headers,
        ))  # fmt: skip
    return Poison(topic, group, records, landing, dead)


async def publish(bootstrap: str, poison: Poison) -> None:
    producer = new_producer(bootstrap, linger_ms=20)
    await producer.start()
    try:
        sent = [
            await producer.send(poison.topic, value, key=key, headers=headers)
            for key, value, headers in poison.records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def crisis_items(endpoints: Endpoints, children: list[str]) -> int:
    """How many of these children have a crisis item in the night's record."""
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM ooh_crisis_items WHERE child_id = ANY($1::text[])", children
        )
        return count
    finally:
        await conn.close()


@pytest.mark.parametrize("make", [casework_batch, crisis_batch], ids=["casework", "crisis"])
async def test_poison_records_are_dead_lettered_with_their_reason_and_the_rest_land(
    endpoints: Endpoints, workers: Workers, make: Callable[[], Poison]
) -> None:
    worker = workers.start("outofhours", FRONTDOOR_OOH_AUTO_HANDOVER="false")
    poison = make()
    await publish(endpoints.bootstrap_servers, poison)

    async def landed() -> bool:
        return await crisis_items(endpoints, poison.landing) == len(poison.landing)

    await wait_until(landed, timeout=120)

    async def dead_letters() -> dict[bytes, dict[str, str]] | None:
        found = {
            r.value: {k: v.decode() for k, v in r.headers}
            for r in await read_topic(
                endpoints.bootstrap_servers, DEADLETTER.name, DEADLETTER.partitions
            )
            if r.value in poison.dead
        }
        return found if len(found) == len(poison.dead) else None

    letters = await wait_until(dead_letters, timeout=90)
    assert isinstance(letters, dict)
    for value, reason in poison.dead.items():
        headers = letters[value]
        assert headers["dlq.reason"] == reason
        assert headers["dlq.consumer.group"] == poison.group
        assert headers["dlq.original.topic"] == poison.topic
    processing = next(h for v, h in letters.items() if poison.dead[v] == "processing")
    assert processing["dlq.exception.class"].endswith("CalendarRangeError")

    poisoned = [orjson.loads(v)["subject"]["child_id"] for v in poison.dead]
    assert await crisis_items(endpoints, poisoned) == 0
    assert worker.poll() is None  # the worker never exited
