"""One contract suite for the pipeline's ledger: the in-memory fake and PostgreSQL must agree.

Every test runs against ``MemoryLedger`` and ``PostgresLedger`` (the real server of the test
session), so the fake that unit tests rely on cannot drift from the adapter it stands for.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.db import create_pool
from services.common.ledger import Claim, Ledger, MemoryLedger, PostgresLedger
from services.common.outbox import OutboxRow, partition_for
from services.common.settings import Endpoints

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "postgres"])
async def ledger(request: pytest.FixtureRequest, endpoints: Endpoints) -> AsyncIterator[Ledger]:
    if request.param == "memory":
        yield MemoryLedger()
        return
    pool = await create_pool(endpoints.database_url, max_size=3)
    try:
        yield PostgresLedger(pool)
    finally:
        await pool.close()


def consumer() -> str:
    return f"contract.{uuid.uuid4().hex[:8]}"


def row(topic: str = "frontdoor.casework", key: bytes = b"child-1", **kw: Any) -> OutboxRow:
    return OutboxRow(
        event_id=kw.pop("event_id", uuid.uuid4()),
        event_type=kw.pop("event_type", "screening.triaged"),
        topic=topic,
        partition=partition_for(topic, key),
        key=key,
        value=kw.pop("value", b'{"x": 1}'),
        headers=kw.pop(
            "headers",
            (("event_type", b"screening.triaged"), ("nul", b"\x00\xff"), ("na\x00me", b"v")),
        ),
    )


async def test_a_first_claim_is_fresh_and_a_second_is_a_repeat(ledger: Ledger) -> None:
    name, event_id = consumer(), uuid.uuid4()
    async with ledger.unit(name) as unit:
        assert await unit.claim([(event_id, b"h1")]) == {event_id: Claim.FRESH}
    async with ledger.unit(name) as unit:
        assert await unit.claim([(event_id, b"h1")]) == {event_id: Claim.REPEAT}


async def test_same_id_with_other_content_is_a_conflict(ledger: Ledger) -> None:
    name, event_id = consumer(), uuid.uuid4()
    async with ledger.unit(name) as unit:
        await unit.claim([(event_id, b"h1")])
    async with ledger.unit(name) as unit:
        assert await unit.claim([(event_id, b"h2")]) == {event_id: Claim.CONFLICT}


async def test_claims_are_per_consumer(ledger: Ledger) -> None:
    event_id = uuid.uuid4()
    for name in (consumer(), consumer()):
        async with ledger.unit(name) as unit:
            assert await unit.claim([(event_id, b"h")]) == {event_id: Claim.FRESH}


async def test_a_failed_unit_keeps_neither_claims_nor_outbox_rows(ledger: Ledger) -> None:
    name, event_id = consumer(), uuid.uuid4()
    r = row()

    async def failing_unit() -> None:
        async with ledger.unit(name) as unit:
            await unit.claim([(event_id, b"h")])
            await unit.enqueue([r])
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        await failing_unit()
    async with ledger.unit(name) as unit:
        assert await unit.claim([(event_id, b"h")]) == {event_id: Claim.FRESH}
    lost = await ledger.lost(
        "someone", topic=r.topic, partition=r.partition, before=datetime.now(UTC) + timedelta(1),
        event_types=None, after_id=0, limit=10_000,
    )
    assert r.event_id not in {x.event_id for x in lost}


async def test_released_claim_is_fresh_again(ledger: Ledger) -> None:
    name, event_id = consumer(), uuid.uuid4()
    async with ledger.unit(name) as unit:
        await unit.claim([(event_id, b"h")])
        await unit.release([event_id])
    async with ledger.unit(name) as unit:
        assert await unit.claim([(event_id, b"h")]) == {event_id: Claim.FRESH}


async def test_outbox_rows_keep_order_bytes_and_headers_and_get_ids(ledger: Ledger) -> None:
    rows = [row(value=f'{{"n": {n}}}'.encode()) for n in range(5)]
    async with ledger.unit(consumer()) as unit:
        stored = await unit.enqueue(rows)
    assert [s.event_id for s in stored] == [r.event_id for r in rows]
    ids = [s.id for s in stored]
    assert all(i is not None for i in ids)
    assert ids == sorted(ids)  # type: ignore[type-var]
    # not yet relayed: the sweeper sees them once they are old enough (here: at once)
    pending = await ledger.pending(older_than_seconds=-1, limit=100_000)
    by_id = {p.id: p for p in pending}
    for s in stored:
        got = by_id[s.id]
        assert (got.key, got.value, got.headers, got.partition) == (
            s.key, s.value, s.headers, s.partition,
        )


async def test_relayed_rows_are_not_pending_and_lost_rows_are_found(ledger: Ledger) -> None:
    topic = "frontdoor.crisis"
    key = uuid.uuid4().hex.encode()
    wanted, other_type = row(topic, key), row(topic, key, event_type="ooh.handover_published")
    async with ledger.unit(consumer()) as unit:
        stored = await unit.enqueue([wanted, other_type])
    relayed_at = datetime.now(UTC) - timedelta(minutes=5)
    await ledger.mark_relayed([s.id for s in stored if s.id is not None], relay_ts=relayed_at)
    pending = await ledger.pending(older_than_seconds=-1, limit=100_000)
    assert not {s.id for s in stored} & {p.id for p in pending}
    reader = consumer()
    found = await ledger.lost(
        reader, topic=topic, partition=wanted.partition, before=datetime.now(UTC),
        event_types=frozenset({"screening.triaged"}), after_id=0, limit=100_000,
    )
    assert wanted.event_id in {f.event_id for f in found}
    assert other_type.event_id not in {f.event_id for f in found}
    # held by the broker (relayed after its oldest record): not lost
    held = await ledger.lost(
        reader, topic=topic, partition=wanted.partition, before=relayed_at,
        event_types=None, after_id=0, limit=100_000,
    )
    assert wanted.event_id not in {f.event_id for f in held}
    # once processed by the reader, no longer lost for it
    async with ledger.unit(reader) as unit:
        await unit.claim([(wanted.event_id, b"h")])
    again = await ledger.lost(
        reader, topic=topic, partition=wanted.partition, before=datetime.now(UTC),
        event_types=None, after_id=0, limit=100_000,
    )
    assert wanted.event_id not in {f.event_id for f in again}


async def test_retention_forgets_old_claims_and_relayed_rows_but_never_unrelayed_ones(
    endpoints: Endpoints,
) -> None:
    from services.common.retention import Retention, sweep

    pool = await create_pool(endpoints.database_url, max_size=2)
    try:
        name = consumer()
        old_claim, new_claim = uuid.uuid4(), uuid.uuid4()
        ledger = PostgresLedger(pool)
        async with ledger.unit(name) as unit:
            await unit.claim([(old_claim, b"h"), (new_claim, b"h")])
            stored = await unit.enqueue([row(), row()])
        relayed, unrelayed = stored
        await ledger.mark_relayed([relayed.id or 0], relay_ts=datetime.now(UTC))
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE processed_events SET processed_at = now() - interval '40 days' "
                "WHERE consumer = $1 AND event_id = $2",
                name,
                old_claim,
            )
            await conn.execute(
                "UPDATE outbox SET created_at = now() - interval '40 days' WHERE id = ANY($1)",
                [relayed.id, unrelayed.id],
            )
        await sweep(pool, Retention(processed_days=35, outbox_days=35, chunk=2))
        async with pool.acquire() as conn:
            claims = {
                r["event_id"]
                for r in await conn.fetch(
                    "SELECT event_id FROM processed_events WHERE consumer = $1", name
                )
            }
            rows = {
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM outbox WHERE id = ANY($1)", [relayed.id, unrelayed.id]
                )
            }
        assert claims == {new_claim}
        assert rows == {unrelayed.id}
    finally:
        await pool.close()


def test_retention_refuses_a_ledger_shorter_than_the_outbox_or_broker() -> None:
    from services.common.retention import Retention

    with pytest.raises(ValueError, match="twice"):
        Retention(processed_days=10, outbox_days=20).check()
    with pytest.raises(ValueError, match="broker"):
        Retention(processed_days=10, outbox_days=3).check()
