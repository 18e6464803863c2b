"""The SLA adapters against a real PostgreSQL: the lease, row locks between handler and scanner,
the outbox relay, and the ``frontdoor sla`` listing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from structlog.testing import capture_logs

from schemas.topics import SLA
from services.cli.sla import sla_command
from services.common.kafka import ensure_topics, new_producer
from services.common.publishing import KafkaPublisher, OutRecord
from services.common.settings import Endpoints
from services.sla.adapters.kafka import BatchPublisher
from services.sla.adapters.leadership import PostgresLeadership
from services.sla.adapters.postgres import PostgresTimerStore
from services.sla.adapters.scanning import PostgresScanStore
from services.sla.handlers import TIMERS_CONSUMER
from services.sla.scanner import settle_at
from tests.conftest import wait_until
from tests.factories import child_id

pytestmark = pytest.mark.integration

GRACE = timedelta(seconds=3)


@pytest.fixture
async def pool(endpoints: Endpoints) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(endpoints.database_url, min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


async def insert_timer(
    conn: asyncpg.Connection | asyncpg.Pool,
    child: str,
    due: datetime,
    *,
    kind: str = "police_protection",
    status: str = "open",
) -> uuid.UUID:
    timer_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO sla_timers (timer_id, child_id, kind, policy, subject_ref, started_at,"
        " due_at, status, breached_at, met_at, recorded_at)"
        " VALUES ($1, $2, $3, 'wt2013', $4, $5, $6, $7, $8, $9, $10)",
        timer_id,
        child,
        kind,
        str(uuid.uuid4()),
        due - timedelta(hours=72),
        due,
        status,
        due + timedelta(seconds=1) if status == "breached" else None,
        due - timedelta(hours=1) if status == "met" else None,
        due - timedelta(hours=72),
    )
    return timer_id


async def status_of(pool: asyncpg.Pool, timer_id: uuid.UUID) -> str:
    return str(await pool.fetchval("SELECT status FROM sla_timers WHERE timer_id = $1", timer_id))


# -- the lease -------------------------------------------------------------------------------------


async def test_leadership_is_lost_with_its_connection_and_taken_over(endpoints: Endpoints) -> None:
    lock_id = uuid.uuid4().int % 2**62  # a lease of this test's own
    a = PostgresLeadership(endpoints.database_url, name="lease-a", lock_id=lock_id)
    b = PostgresLeadership(endpoints.database_url, name="lease-b", lock_id=lock_id)
    admin = await asyncpg.connect(endpoints.database_url)
    try:
        assert await a.hold()
        assert not await b.hold()
        assert await a.hold()  # still connected, still the leader

        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'lease-a'"
        )
        # the lock went with the connection: the other replica can take it
        assert await wait_until(b.hold, timeout=5, interval=0.05)
        with capture_logs() as logs:
            assert not await a.hold()  # a notices, reconnects, but b leads now
        assert any(e["event"] == "sla_scanner_leadership_lost" for e in logs)
        assert not await a.hold()

        await b.close()
        assert await a.hold()
    finally:
        await a.close()
        await b.close()
        await admin.close()


async def test_a_new_clock_wakes_the_leader_early(endpoints: Endpoints, pool: asyncpg.Pool) -> None:
    lease = PostgresLeadership(endpoints.database_url, name="lease-wake", lock_id=7_000_001)
    try:
        await lease.hold()
        await insert_timer(pool, child_id(), datetime.now(UTC) + timedelta(hours=1))
        started = asyncio.get_running_loop().time()
        await lease.wait(10)
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        await lease.close()


# -- handler and scanner on the same rows ----------------------------------------------------------


async def test_scanner_skips_a_clock_a_lifecycle_batch_holds_instead_of_waiting(
    pool: asyncpg.Pool,
) -> None:
    child = child_id()
    now = datetime.now(UTC)
    timer_id = await insert_timer(pool, child, now - timedelta(minutes=5))
    scan = PostgresScanStore(pool)

    async with PostgresTimerStore(pool).unit(TIMERS_CONSUMER, [child], [uuid.uuid4()]) as unit:
        assert [t.timer_id for t in unit.children[child].timers] == [timer_id]
        await asyncio.wait_for(
            scan.settle_due(now, 1000, settle_at(now), recorded_before=now - GRACE), timeout=5
        )
        assert await status_of(pool, timer_id) == "open"

    await scan.settle_due(now, 1000, settle_at(now), recorded_before=now - GRACE)
    assert await status_of(pool, timer_id) == "breached"


#: The session database is shared with every other integration test, whose replays leave many
#: clocks overdue: settle them all, so this test's own timer is surely reached.
ALL_DUE = 10_000_000


async def test_breach_is_never_written_at_or_before_the_deadline(pool: asyncpg.Pool) -> None:
    due = datetime.now(UTC) + timedelta(days=400)  # nobody else's clock is this far out
    timer_id = await insert_timer(pool, child_id(), due)
    scan = PostgresScanStore(pool)

    await scan.settle_due(due, ALL_DUE, settle_at(due), recorded_before=due)
    assert await status_of(pool, timer_id) == "open"

    later = due + timedelta(microseconds=1)
    await scan.settle_due(later, ALL_DUE, settle_at(later), recorded_before=later)
    row = await pool.fetchrow(
        "SELECT status, breached_at FROM sla_timers WHERE timer_id = $1", timer_id
    )
    assert row is not None
    assert (row["status"], row["breached_at"]) == ("breached", later)


async def test_outbox_row_stays_until_the_broker_acknowledged_it(pool: asyncpg.Pool) -> None:
    due = datetime.now(UTC) + timedelta(days=500)
    later = due + timedelta(seconds=1)
    timer_id = await insert_timer(pool, child_id(), due)
    scan = PostgresScanStore(pool)
    await scan.settle_due(later, ALL_DUE, settle_at(later), recorded_before=later)
    sent: list[OutRecord] = []

    async def broken(records: Sequence[OutRecord]) -> None:
        sent.extend(records)
        raise ConnectionError("no acknowledgement")

    async def working(records: Sequence[OutRecord]) -> None:
        sent.extend(records)

    with pytest.raises(ConnectionError):
        await scan.relay_outbox(later, 100_000, broken)
    mine = "SELECT count(*) FROM sla_outbox WHERE timer_id = $1"
    assert await pool.fetchval(mine, timer_id) == 1
    await scan.relay_outbox(later, 100_000, working)
    assert await pool.fetchval(mine, timer_id) == 0
    event_id = str(uuid.uuid5(timer_id, "breached")).encode()
    ours = [r for r in sent if r.value is not None and event_id in r.value]
    assert len(ours) == 2  # published twice, with the same event id both times


# -- frontdoor sla ---------------------------------------------------------------------------------


def test_frontdoor_sla_json_lists_live_clocks_soonest_first_with_offsets(
    endpoints: Endpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    child = child_id()
    soon = datetime.now(UTC) + timedelta(days=700)

    async def setup() -> list[uuid.UUID]:
        conn = await asyncpg.connect(endpoints.database_url)
        try:
            later = await insert_timer(conn, child, soon + timedelta(days=1), kind="cp_visit")
            first = await insert_timer(conn, child, soon, kind="cp_visit")
            await insert_timer(conn, child, soon - timedelta(days=1), kind="cp_visit", status="met")
            return [first, later]
        finally:
            await conn.close()

    expected = asyncio.run(setup())
    capsys.readouterr()

    sla_command(endpoints, as_json=True, kind="cp_visit", breaching=False)

    rows = json.loads(capsys.readouterr().out)
    mine = [r for r in rows if r["child_id"] == child]
    assert [r["timer_id"] for r in mine] == [str(t) for t in expected]
    assert all(r["kind"] == "cp_visit" for r in rows)
    due_times = [datetime.fromisoformat(r["due_at"]) for r in rows]
    assert due_times == sorted(due_times)
    for r in mine:
        assert {"child_id", "kind", "policy", "started_at", "due_at", "status"} <= r.keys()
        assert r["status"] == "open"
        assert datetime.fromisoformat(r["due_at"]).utcoffset() is not None
        assert r["due_at"][-6:] in ("+00:00", "+01:00")

    sla_command(endpoints, as_json=True, kind="cp_visit", breaching=True)
    breaching = json.loads(capsys.readouterr().out)
    assert not [r for r in breaching if r["child_id"] == child]  # due in two years


# -- the relay's batch publisher -------------------------------------------------------------------


async def test_batch_publisher_puts_each_child_where_a_plain_send_would(
    endpoints: Endpoints,
) -> None:
    marker = uuid.uuid4().hex
    topic = f"test.sla.batch.{marker[:8]}"
    await ensure_topics(endpoints.bootstrap_servers, [(topic, SLA.partitions)])
    keys = [child_id().encode() for _ in range(40)]
    producer = new_producer(endpoints.bootstrap_servers)
    await producer.start()
    try:
        await KafkaPublisher(producer).publish(
            [OutRecord(topic, k, f"{marker}:send".encode()) for k in keys]
        )
        await BatchPublisher(producer).publish(
            [OutRecord(topic, k, f"{marker}:batch".encode(), [("h", b"1")]) for k in keys]
        )
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=endpoints.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(SLA.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        where: dict[tuple[bytes, str], int] = {}
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=300)
            got = [r for rs in batch.values() for r in rs]
            for r in got:
                if r.value is not None and r.value.startswith(marker.encode()):
                    where[(r.key, r.value.decode().split(":")[1])] = r.partition
            idle = 0 if got else idle + 1
    finally:
        await consumer.stop()
    assert len(where) == 2 * len(keys)
    assert {k: where[(k, "batch")] for k in keys} == {k: where[(k, "send")] for k in keys}
    assert len({where[(k, "send")] for k in keys}) > 1  # the keys really were spread


def test_frontdoor_sla_table_shows_the_live_clocks(
    endpoints: Endpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    child = child_id()
    due = datetime.now(UTC) + timedelta(days=800)

    async def setup() -> None:
        conn = await asyncpg.connect(endpoints.database_url)
        try:
            await insert_timer(conn, child, due, kind="first_review")
        finally:
            await conn.close()

    asyncio.run(setup())
    capsys.readouterr()

    sla_command(endpoints, as_json=False, kind="first_review", breaching=False)

    out = capsys.readouterr().out
    assert child in out
    assert "first_review" in out
    assert "live SLA clocks" in out
