"""The SLA adapters against a real PostgreSQL: the lease, row locks between handler and scanner,
no lock held while Kafka answers, scheduled announcements, early events' retention, the batch
sender and the ``frontdoor sla`` listing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from structlog.testing import capture_logs

from schemas.topics import CASEWORK, CONTACTS, SLA
from services.cli.sla import sla_command
from services.common.calendar import WorkingCalendar
from services.common.deadletter import Origin
from services.common.kafka import ensure_topics, new_producer
from services.common.ledger import PostgresLedger
from services.common.outbox import KafkaSender, OutboxRow, Relay, partition_for
from services.common.pipeline import Handler, HandlerFactory, Pipeline, Subscription
from services.common.settings import Endpoints
from services.sla.adapters.kafka import BatchSender
from services.sla.adapters.leadership import PostgresLeadership
from services.sla.adapters.postgres import PostgresTimerStore
from services.sla.adapters.rows import schedule
from services.sla.adapters.scanning import PostgresScanStore
from services.sla.domain import announcements
from services.sla.domain.breaches import settle_at
from services.sla.domain.clocks import wanted_event_types
from services.sla.domain.timers import Timer, TimerStatus
from services.sla.handlers import TIMERS_CONSUMER, TimerHandler
from services.sla.policies import load_policy
from tests.conftest import wait_until
from tests.factories import child_id, contact, to_line
from tests.unit.test_sla_handler import decision, referral, triaged, utc

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
    scan = PostgresScanStore(PostgresLedger(pool))

    async with pool.acquire() as conn, conn.transaction():  # a lifecycle batch's transaction
        children = await PostgresTimerStore(conn).load([child])
        assert [t.timer_id for t in children[child].timers] == [timer_id]
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
    scan = PostgresScanStore(PostgresLedger(pool))

    await scan.settle_due(due, ALL_DUE, settle_at(due), recorded_before=due)
    assert await status_of(pool, timer_id) == "open"

    later = due + timedelta(microseconds=1)
    await scan.settle_due(later, ALL_DUE, settle_at(later), recorded_before=later)
    row = await pool.fetchrow(
        "SELECT status, breached_at FROM sla_timers WHERE timer_id = $1", timer_id
    )
    assert row is not None
    assert (row["status"], row["breached_at"]) == ("breached", later)


async def outbox_rows(pool: asyncpg.Pool, event_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT producer, topic, relayed_at FROM outbox WHERE event_id = $1", event_id
        )
    )


def _opened(handler: Handler) -> HandlerFactory:
    @asynccontextmanager
    async def factory(_resources: object) -> AsyncIterator[Handler]:
        yield handler

    return factory


class RecordingSender:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.rows: list[OutboxRow] = []
        self.fail = fail

    async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
        self.rows.extend(rows)
        if self.fail is not None:
            raise self.fail


async def test_a_breach_is_committed_to_the_outbox_with_its_transition_and_stamped_when_sent(
    pool: asyncpg.Pool,
) -> None:
    due = datetime.now(UTC) + timedelta(days=500)
    later = due + timedelta(seconds=1)
    timer_id = await insert_timer(pool, child_id(), due)
    ledger = PostgresLedger(pool)
    rows = await PostgresScanStore(ledger).settle_due(
        later, ALL_DUE, settle_at(later), recorded_before=later
    )
    event_id = uuid.uuid5(timer_id, "breached")
    (mine,) = [r for r in rows if r.event_id == event_id]
    assert mine.topic == SLA.name
    assert mine.event_type == "sla.breached"
    assert [(r["producer"], r["relayed_at"]) for r in await outbox_rows(pool, event_id)] == [
        ("sla.scanner", None)
    ]

    with pytest.raises(ConnectionError):  # the broker never acknowledged: the row waits
        await Relay(ledger, RecordingSender(ConnectionError("no ack"))).relay([mine])
    assert (await outbox_rows(pool, event_id))[0]["relayed_at"] is None
    await Relay(ledger, RecordingSender()).relay([mine])
    assert (await outbox_rows(pool, event_id))[0]["relayed_at"] is not None


async def test_no_row_lock_is_held_while_the_scanner_or_the_handler_waits_for_kafka(
    pool: asyncpg.Pool,
) -> None:
    due = datetime.now(UTC) + timedelta(days=600)
    later = due + timedelta(seconds=1)
    scanned_child, handled = child_id(), contact()
    timer_id = await insert_timer(pool, scanned_child, due)
    ledger = PostgresLedger(pool)
    locked_while_sending: list[str] = []
    sent: list[str | None] = []

    class LockProbe:
        async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
            sent.extend(r.event_type for r in rows)
            async with pool.acquire() as conn, conn.transaction():
                for sql, key in (
                    ("SELECT 1 FROM sla_timers WHERE timer_id = $1 FOR UPDATE NOWAIT", timer_id),
                    (
                        "SELECT 1 FROM sla_children WHERE child_id = $1 FOR UPDATE NOWAIT",
                        handled["subject"]["child_id"],
                    ),
                ):
                    try:
                        await conn.fetch(sql, key)
                    except asyncpg.exceptions.LockNotAvailableError:
                        locked_while_sending.append(sql)

    relay = Relay(ledger, LockProbe())
    rows = await PostgresScanStore(ledger).settle_due(
        later, ALL_DUE, settle_at(later), recorded_before=later
    )
    await relay.relay([r for r in rows if r.event_id == uuid.uuid5(timer_id, "breached")])

    policy = load_policy("wt2013")
    handler = TimerHandler(
        PostgresTimerStore, policy, WorkingCalendar.england_and_wales(), lambda: later
    )
    sub = Subscription(
        consumer=TIMERS_CONSUMER,
        topic=CONTACTS.name,
        group="frontdoor-sla-contacts",
        handler=_opened(handler),
        event_types=wanted_event_types(policy),
    )
    origin = Origin(
        CONTACTS.name,
        0,
        0,
        handled["subject"]["child_id"].encode(),
        to_line(handled),
        (("event_type", b"contact.received"),),
    )
    outcome = await Pipeline(sub, handler, ledger, relay).process([origin])

    assert outcome.handled == 1
    assert sent == ["sla.breached", "sla.started"]  # the scanner's round, then the handler's batch
    assert locked_while_sending == []


async def test_timers_team_and_team_history_are_stored_alike_whichever_topic_is_read_first(
    pool: asyncpg.Pool,
) -> None:
    ledger = PostgresLedger(pool)
    policy = load_policy("wt2013")
    handler = TimerHandler(
        PostgresTimerStore,
        policy,
        WorkingCalendar.england_and_wales(),
        lambda: datetime(2025, 3, 28, tzinfo=UTC),
    )
    relay = Relay(ledger, RecordingSender())

    async def feed(event: dict[str, Any], topic: str) -> None:
        sub = Subscription(
            consumer=TIMERS_CONSUMER,
            topic=topic,
            group=f"frontdoor-sla-{topic.rsplit('.', 1)[-1]}",
            handler=_opened(handler),
            event_types=wanted_event_types(policy),
        )
        headers = (("event_type", event["event_type"].encode()),)
        key = event["subject"]["child_id"].encode()
        origin = Origin(topic, 0, 0, key, to_line(event), headers)
        assert (await Pipeline(sub, handler, ledger, relay).process([origin])).handled == 1

    async def view(child: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], Any]:
        timers = await pool.fetch(
            "SELECT kind, status, started_at, due_at, met_at, team FROM sla_timers"
            " WHERE child_id = $1 ORDER BY kind",
            child,
        )
        teams = await pool.fetch(
            "SELECT as_of, team FROM sla_child_teams WHERE child_id = $1 ORDER BY as_of", child
        )
        current = await pool.fetchrow(
            "SELECT team, team_as_of FROM sla_children WHERE child_id = $1", child
        )
        return ([tuple(r) for r in timers], [tuple(r) for r in teams], tuple(current or ()))

    views: list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], Any]] = []
    for contacts_first in (True, False):
        child = child_id()
        c = contact(child, at=utc(2025, 3, 4, 10, 30))
        d = decision(c, at=utc(2025, 3, 5, 14, 0), outcome="referral")
        r = referral(child, at=utc(2025, 3, 5, 15, 0), referral_id=d["payload"]["referral_id"])
        casework = [triaged(c), d, r]
        order = [(c, CONTACTS.name)] + [(e, CASEWORK.name) for e in casework]
        for event, topic in order if contacts_first else reversed(order):
            await feed(event, topic)
        views.append(await view(child))

    assert views[0] == views[1]
    timers, teams, current = views[0]
    assert [(row[0], row[-1]) for row in timers] == [
        ("assessment", "Assessment Team 2"),
        ("screening_decision", "MASH"),
        ("triage", "MASH"),
    ]
    assert [team for _, team in teams] == ["MASH", "MASH", "Assessment Team 2"]
    assert current == ("Assessment Team 2", utc(2025, 3, 5, 15, 0))


async def test_a_scheduled_breach_moves_into_the_outbox_once_at_its_moment(
    pool: asyncpg.Pool,
) -> None:
    moment = datetime.now(UTC) + timedelta(days=900)
    timer = Timer(
        timer_id=uuid.uuid4(),
        child_id=child_id(),
        kind="screening_decision",
        policy="wt2013",
        subject_ref=str(uuid.uuid4()),
        started_at=moment - timedelta(days=3),
        due_at=moment - timedelta(days=1),
        status=TimerStatus.MET,
        met_at=moment,
        breached_at=moment,
    )
    entry = announcements.outbox_entry(timer, announcements.breached(timer, team="MASH"))
    async with pool.acquire() as conn:
        await schedule(conn, [entry, entry])  # scheduling twice keeps one
    scan = PostgresScanStore(PostgresLedger(pool))

    early = await scan.release_scheduled(moment - timedelta(microseconds=1), 100_000)
    assert entry.event_id not in {r.event_id for r in early}

    released = await asyncio.gather(
        scan.release_scheduled(moment, 100_000), scan.release_scheduled(moment, 100_000)
    )
    mine = [r for rows in released for r in rows if r.event_id == entry.event_id]
    assert len(mine) == 1
    assert mine[0].value == entry.record.value
    assert len(await outbox_rows(pool, entry.event_id)) == 1
    left = "SELECT count(*) FROM sla_outbox WHERE event_id = $1"
    assert await pool.fetchval(left, entry.event_id) == 0


async def test_early_events_past_their_retention_are_forgotten_and_newer_ones_kept(
    pool: asyncpg.Pool,
) -> None:
    child = child_id()
    cutoff = datetime(2001, 1, 1, tzinfo=UTC)  # older than anything any other test records
    old, kept = uuid.uuid4(), uuid.uuid4()
    for event_id, recorded in ((old, cutoff - timedelta(days=1)), (kept, cutoff)):
        await pool.execute(
            "INSERT INTO sla_early_events (child_id, event_id, event_type, occurred_at, body,"
            " recorded_at) VALUES ($1, $2, 'case.closed', $3, '{}', $3)",
            child,
            event_id,
            recorded,
        )
    scan = PostgresScanStore(PostgresLedger(pool))

    while await scan.forget_early_events(cutoff, 1) == 1:
        pass

    left = await pool.fetch("SELECT event_id FROM sla_early_events WHERE child_id = $1", child)
    assert [r["event_id"] for r in left] == [kept]


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


# -- the scanner's batch sender --------------------------------------------------------------------


async def test_batch_sender_puts_each_row_where_the_pipelines_sender_does_with_its_timestamp(
    endpoints: Endpoints,
) -> None:
    marker = uuid.uuid4().hex
    topic = f"test.sla.batch.{marker[:8]}"
    await ensure_topics(endpoints.bootstrap_servers, [(topic, SLA.partitions)])
    partitions = {topic: SLA.partitions}
    keys = [child_id().encode() for _ in range(40)]

    def rows(how: str) -> list[OutboxRow]:
        return [
            OutboxRow(
                event_id=uuid.uuid4(),
                event_type="sla.breached",
                topic=topic,
                partition=partition_for(topic, k, partitions=partitions),
                key=k,
                value=f"{marker}:{how}".encode(),
                headers=(("event_type", b"sla.breached"),),
            )
            for k in keys
        ]

    producer = new_producer(endpoints.bootstrap_servers)
    await producer.start()
    try:
        await KafkaSender(producer).send(rows("send"), timestamp_ms=1_700_000_000_000)
        await BatchSender(producer).send(rows("batch"), timestamp_ms=1_700_000_000_123)
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
        where: dict[tuple[bytes, str], tuple[int, int, list[tuple[str, bytes]]]] = {}
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=300)
            got = [r for rs in batch.values() for r in rs]
            for r in got:
                if r.value is not None and r.value.startswith(marker.encode()):
                    how = r.value.decode().split(":")[1]
                    where[(r.key, how)] = (r.partition, r.timestamp, list(r.headers))
            idle = 0 if got else idle + 1
    finally:
        await consumer.stop()
    assert len(where) == 2 * len(keys)
    assert {k: where[(k, "batch")][0] for k in keys} == {k: where[(k, "send")][0] for k in keys}
    assert len({where[(k, "send")][0] for k in keys}) > 1  # the keys really were spread
    assert {where[(k, "batch")][1] for k in keys} == {1_700_000_000_123}
    assert all(where[(k, "batch")][2] == [("event_type", b"sla.breached")] for k in keys)


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
    assert "Due next (can still be met)" in out
    assert "showing " in out
    assert " open clock" in out
