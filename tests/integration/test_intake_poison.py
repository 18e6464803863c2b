"""No poison stops intake: three bad records in a batch of 500, on the real broker and database.

The intake service runs in this process (``run_aiokafka``, the default runner, with intake's own
declaration) with one change: its handler raises for one chosen event id, standing in for any
record whose handling keeps failing. One record carries a NUL in a text field (the contract
refuses it: ``validation``), one a NUL in a header (``validation``), one makes the handler raise
(``processing``, isolated by splitting the batch). The other 497 are recorded in ``events`` and
routed, and the worker is still consuming afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import pytest

from schemas.roles import load_role_table
from schemas.topics import DEADLETTER, PARTNER_EVENTS
from services.common.deadletter import header_map
from services.common.kafka import new_producer
from services.common.pipeline import Delivery, Handler, Unit
from services.common.runtime import Resources, run_aiokafka
from services.common.settings import Endpoints
from services.intake import bootstrap
from services.intake.adapters.postgres import PostgresEventStore
from services.intake.config import IntakeSettings
from services.intake.domain.speakers import SpeakerMode
from services.intake.handlers import IntakeHandler
from tests.conftest import read_topic, wait_until
from tests.factories import contact, to_line

pytestmark = pytest.mark.integration


async def test_nul_text_nul_header_and_a_failing_record_are_dead_lettered_and_497_land(
    endpoints: Endpoints,
) -> None:
    good = [contact() for _ in range(497)]
    nul_text = contact()
    nul_text["payload"]["summary"] = "a story \u0000 with a NUL"
    nul_header = contact()
    failing = contact()
    failing_id = failing["event_id"]

    @asynccontextmanager
    async def handler(_resources: Resources) -> AsyncIterator[Handler]:
        # the pipeline's poison handling, not the lanes: every record's own agency is trusted
        real = IntakeHandler(
            PostgresEventStore, roles=load_role_table(), mode=SpeakerMode.SINGLE_TENANT
        )

        async def handle(unit: Unit, deliveries: Sequence[Delivery]) -> None:
            if any(str(d.id) == failing_id for d in deliveries):
                raise RuntimeError("this record cannot be handled")
            await real(unit, deliveries)

        yield handle

    group = f"frontdoor-intake-poison-{failing_id[:8]}"
    declared = bootstrap.service(IntakeSettings(consumer_group=group))
    sub = dataclasses.replace(declared.subscriptions[0], handler=handler, max_batch=1000)
    service = dataclasses.replace(declared, subscriptions=(sub,))

    records: list[tuple[bytes, list[tuple[str, bytes]]]] = [(to_line(e), []) for e in good[:250]]
    records += [
        (to_line(nul_text), []),
        (to_line(nul_header), [("traceparent", b"00-\x00-01")]),
        (to_line(failing), []),
    ]
    records += [(to_line(e), []) for e in good[250:]]
    producer = new_producer(endpoints.bootstrap_servers)
    await producer.start()
    try:
        # one partition, so the 500 arrive as one batch and the failure must be isolated
        for value, headers in records:
            await producer.send(
                PARTNER_EVENTS.name, value, key=b"poison", partition=3, headers=headers or None
            )
        await producer.flush()
    finally:
        await producer.stop()

    stop = asyncio.Event()
    worker = asyncio.create_task(run_aiokafka(service, endpoints, stop))
    ids = [e["event_id"] for e in good]

    async def landed() -> int:
        conn = await asyncpg.connect(endpoints.database_url)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM events WHERE event_id = ANY($1::uuid[])", ids
                )
            )
        finally:
            await conn.close()

    try:
        await wait_until(lambda: _equals(landed(), 497), timeout=120)
        letters: dict[str, Any] = {}

        async def three_letters() -> bool:
            for r in await read_topic(endpoints.bootstrap_servers, DEADLETTER.name, 4):
                h = header_map(r.headers)
                if h.get("dlq.consumer.group") == group and r.value:
                    try:
                        event_id = orjson.loads(r.value).get("event_id")
                    except (orjson.JSONDecodeError, AttributeError):
                        continue  # another test's garbage on the shared partition
                    if event_id:
                        letters[event_id] = h
            # the new group reads the shared partition from its start: others' poison is there too
            return {nul_text["event_id"], nul_header["event_id"], failing_id} <= set(letters)

        await wait_until(three_letters, timeout=60)
        assert letters[nul_text["event_id"]]["dlq.reason"] == "validation"
        assert "summary" in letters[nul_text["event_id"]]["dlq.exception.message"]
        assert "a story" not in letters[nul_text["event_id"]]["dlq.exception.message"]
        assert letters[nul_header["event_id"]]["dlq.reason"] == "validation"
        assert letters[failing_id]["dlq.reason"] == "processing"
        assert not worker.done(), "the worker must keep running"
        # and it goes on consuming
        after = contact()
        ids.append(after["event_id"])
        producer = new_producer(endpoints.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(PARTNER_EVENTS.name, to_line(after), key=b"poison")
        finally:
            await producer.stop()
        await wait_until(lambda: _equals(landed(), 498), timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)


async def _equals(awaitable: Any, n: int) -> bool:
    return bool(await awaitable == n)
