"""The SLA worker against the real embedded broker and a real PostgreSQL, workers as processes.

Lifecycle events are published straight onto ``frontdoor.contacts`` / ``frontdoor.casework`` (what
intake and screening would do); time is driven with ``FRONTDOOR_SLA_CLOCK_OFFSET_SECONDS`` so a
worker lives on the March 2025 days whose deadlines are written here by hand. Each worker is
stopped at the end of its test: workers on different clocks never share the database.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import CASEWORK, CONTACTS, DEADLETTER, SLA
from services.common.calendar import WorkingCalendar
from services.common.deadletter import header_map
from services.common.kafka import new_producer
from services.common.settings import Endpoints
from tests.conftest import Workers, read_topic, wait_until
from tests.factories import child_id, contact, da_notification, envelope
from tests.unit.test_sla_handler import (
    decision,
    icpc_held,
    referral,
    strategy_discussion,
    utc,
)

pytestmark = pytest.mark.integration


def offset_to(virtual_now: datetime) -> str:
    """The clock offset that makes a worker started now live at `virtual_now`."""
    return str((virtual_now - datetime.now(UTC)).total_seconds())


async def publish(bootstrap: str, items: Sequence[tuple[dict[str, Any], str]]) -> None:
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        for event, topic in items:
            await producer.send_and_wait(
                topic,
                orjson.dumps(event),
                key=event["subject"]["child_id"].encode(),
                headers=[("event_type", event["event_type"].encode())],
            )
    finally:
        await producer.stop()


async def timers_of(dsn: str, children: Sequence[str]) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(
            await conn.fetch(
                "SELECT * FROM sla_timers WHERE child_id = ANY($1::text[]) ORDER BY child_id, kind",
                list(children),
            )
        )
    finally:
        await conn.close()


async def sla_events(bootstrap: str, children: Sequence[str]) -> list[dict[str, Any]]:
    """Every record on frontdoor.sla about these children, decoded, in partition order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(SLA.name, p) for p in range(SLA.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: list[dict[str, Any]] = []
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=300)
            got = [r for rs in batch.values() for r in rs]
            found.extend(orjson.loads(r.value) for r in got)
            idle = 0 if got else idle + 1
        wanted = set(children)
        return [e for e in found if e["subject"]["child_id"] in wanted]
    finally:
        await consumer.stop()


async def _casework_read(dsn: str, events: Sequence[dict[str, Any]]) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        n = await conn.fetchval(
            "SELECT count(*) FROM processed_events WHERE consumer = 'sla.timers' "
            "AND event_id = ANY($1::uuid[])",
            [e["event_id"] for e in events],
        )
        return bool(n == len(events))
    finally:
        await conn.close()


def of_type(events: Sequence[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == event_type]


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- a replayed sequence --------------------------------------------------------------------------


async def test_replayed_sequence_produces_the_expected_timers_and_a_decision_meets_its_clock(
    endpoints: Endpoints, workers: Workers
) -> None:
    x, y = child_id(), child_id()
    c = contact(x, at=utc(2025, 3, 4, 10, 30))  # Tuesday
    d = decision(c, at=utc(2025, 3, 5, 14, 0), outcome="referral")
    r = referral(x, at=utc(2025, 3, 5, 15, 0), referral_id=d["payload"]["referral_id"])
    rid = r["payload"]["referral_id"]
    s = strategy_discussion(x, rid, at=utc(2025, 3, 10, 11, 0))  # Monday
    plan = str(uuid.uuid4())
    icpc = icpc_held(x, rid, at=utc(2025, 3, 27, 10, 0), plan_id=plan)  # Thursday
    # Saturday night, child aged 7: in March 2025 Operation Encompass was a police scheme, not yet
    # a duty (commenced 7 Nov 2025, DOMAIN.md §2), so no Encompass clock is started for it
    da = da_notification(y, at=utc(2025, 3, 8, 2, 10))
    workers.start("sla", FRONTDOOR_SLA_CLOCK_OFFSET_SECONDS=offset_to(utc(2025, 3, 28, 12, 0)))

    # casework first: the contacts and casework subscriptions run in their own groups, and a
    # scanner round between the contact (timer started, already overdue on this clock) and its
    # decision would announce a breach that the decision then corrects (a known limit: breaches
    # are announced on processing time). With the decision read first it is an early stop.
    await publish(
        endpoints.bootstrap_servers,
        [
            (d, CASEWORK.name),
            (r, CASEWORK.name),
            (s, CASEWORK.name),
            (icpc, CASEWORK.name),
        ],
    )
    await wait_until(lambda: _casework_read(endpoints.database_url, [d, r, s, icpc]))
    await publish(endpoints.bootstrap_servers, [(c, CONTACTS.name), (da, CONTACTS.name)])

    async def settled() -> list[asyncpg.Record]:
        rows = await timers_of(endpoints.database_url, [x, y])
        ready = len(rows) == 7 and all(
            row["status"] != "open" for row in rows if row["child_id"] == y
        )
        return rows if ready else []

    rows = await wait_until(settled)
    assert isinstance(rows, list)
    got = {(row["child_id"], row["kind"]): row for row in rows}
    expected = {
        # child, kind: (status, due_at)
        (x, "screening_decision"): ("met", utc(2025, 3, 5, 23, 59, 59)),
        (x, "assessment"): ("open", utc(2025, 5, 12, 22, 59, 59)),  # 45 WD over Easter, BST
        (x, "icpc"): ("met", utc(2025, 3, 31, 22, 59, 59)),  # 15 WD, over the clock change
        (x, "first_core_group"): ("open", utc(2025, 4, 10, 22, 59, 59)),
        (x, "cp_visit"): ("open", utc(2025, 4, 10, 22, 59, 59)),
        (x, "first_review"): ("open", utc(2025, 6, 27, 22, 59, 59)),
        (y, "screening_decision"): ("breached", utc(2025, 3, 10, 23, 59, 59)),  # Sat → Mon
    }
    assert {k: (v["status"], v["due_at"]) for k, v in got.items()} == expected
    screening = got[(x, "screening_decision")]
    assert screening["met_at"] == utc(2025, 3, 5, 14, 0)
    assert screening["breached_at"] is None
    assert screening["closed_event_id"] == UUID(d["event_id"])
    assert got[(x, "assessment")]["team"] == "Assessment Team 2"

    events = await wait_until(
        lambda: _at_least(sla_events(endpoints.bootstrap_servers, [x, y]), 10)
    )
    assert isinstance(events, list)
    started = of_type(events, "sla.started")
    assert sorted(e["payload"]["timer_id"] for e in started) == sorted(
        str(row["timer_id"]) for row in rows
    )
    met = {e["payload"]["timer_id"]: e for e in of_type(events, "sla.met")}
    assert set(met) == {
        str(got[(x, "screening_decision")]["timer_id"]),
        str(got[(x, "icpc")]["timer_id"]),
    }
    assert met[str(screening["timer_id"])]["causation_id"] == d["event_id"]
    breached = of_type(events, "sla.breached")
    assert sorted(e["payload"]["timer_id"] for e in breached) == sorted(
        str(got[(y, k)]["timer_id"]) for k in ("screening_decision",)
    )
    for e in breached:
        assert moment(e["payload"]["breached_at"]) > moment(e["payload"]["due_at"])


async def _at_least(awaitable: Any, n: int) -> Any:
    found = await awaitable
    return found if len(found) >= n else []


# -- a deadline passing ----------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["aiokafka", "faust"])
async def test_deadline_passing_emits_one_warning_and_exactly_one_breach_never_early(
    endpoints: Endpoints, workers: Workers, runtime: str
) -> None:
    child = child_id()
    c = contact(child, at=utc(2025, 3, 4, 10, 30))
    due = utc(2025, 3, 5, 23, 59, 59)  # end of Wednesday; warning due at end of Tuesday
    workers.start(
        "sla",
        FRONTDOOR_SLA_RUNTIME=runtime,
        FRONTDOOR_SLA_CLOCK_OFFSET_SECONDS=offset_to(due - timedelta(seconds=30)),
    )
    await publish(endpoints.bootstrap_servers, [(c, CONTACTS.name)])

    async def timer_row(status: str) -> asyncpg.Record | None:
        rows = await timers_of(endpoints.database_url, [child])
        return rows[0] if rows and rows[0]["status"] == status else None

    opened = await wait_until(lambda: timer_row("open"), timeout=25)
    assert isinstance(opened, asyncpg.Record)
    assert opened["due_at"] == due
    breached = await wait_until(lambda: timer_row("breached"), timeout=90)
    assert isinstance(breached, asyncpg.Record)
    assert breached["breached_at"] > due
    assert breached["warned_at"] is not None
    assert breached["warned_at"] <= due

    events = await wait_until(
        lambda: _at_least(sla_events(endpoints.bootstrap_servers, [child]), 3)
    )
    assert isinstance(events, list)
    assert [e["event_type"] for e in events] == ["sla.started", "sla.warning", "sla.breached"]
    (breach,) = of_type(events, "sla.breached")
    assert breach["event_id"] == str(uuid.uuid5(breached["timer_id"], "breached"))
    assert moment(breach["payload"]["breached_at"]) == breached["breached_at"]


# -- two workers -----------------------------------------------------------------------------------


async def leader_pid(dsn: str) -> int | None:
    conn = await asyncpg.connect(dsn)
    try:
        name = await conn.fetchval(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.database = ("
            "   SELECT oid FROM pg_database WHERE datname = current_database())"
            "   AND a.application_name LIKE 'frontdoor-sla-scanner:%'"
        )
    finally:
        await conn.close()
    return int(name.rsplit(":", 1)[1]) if name else None


def protection(child: str, due: datetime) -> dict[str, Any]:
    """Police protection (72 real hours) started so that it falls due at `due`."""
    started = due - timedelta(hours=72)
    return envelope(
        "police.protection_started",
        1,
        {
            "protection_id": str(uuid.uuid4()),
            "started_at": started.isoformat(),
            "police_ref": f"SYP-{uuid.uuid4().hex[:8]}",
            "summary": "Child found alone at home overnight.",
        },
        child=child,
        agency="police",
        at=started,
    )


async def test_two_sla_workers_announce_each_breach_once_even_when_the_leader_dies(
    endpoints: Endpoints, workers: Workers
) -> None:
    first = workers.start("sla")
    second = workers.start("sla")
    leader = await wait_until(lambda: leader_pid(endpoints.database_url))
    assert leader in (first.pid, second.pid)
    now = datetime.now(UTC)
    early_children = [child_id() for _ in range(12)]
    late_children = [child_id() for _ in range(12)]
    await publish(
        endpoints.bootstrap_servers,
        [
            (protection(c, now + timedelta(seconds=20, milliseconds=150 * i)), CASEWORK.name)
            for i, c in enumerate(early_children)
        ]
        + [
            (protection(c, now + timedelta(seconds=45, milliseconds=150 * i)), CASEWORK.name)
            for i, c in enumerate(late_children)
        ],
    )
    everyone = early_children + late_children

    async def statuses(children: Sequence[str], status: str) -> bool:
        rows = await timers_of(endpoints.database_url, children)
        return len(rows) == len(children) and all(r["status"] == status for r in rows)

    await wait_until(lambda: statuses(late_children, "open"), timeout=40)
    await wait_until(lambda: statuses(early_children, "breached"), timeout=60)
    # the leader dies between the two waves; the other worker must take over
    dying = first if leader == first.pid else second
    dying.send_signal(signal.SIGKILL)
    dying.wait()
    await wait_until(lambda: statuses(late_children, "breached"), timeout=90)
    assert await wait_until(lambda: leader_pid(endpoints.database_url)) != dying.pid

    rows = await timers_of(endpoints.database_url, everyone)
    events = await wait_until(
        lambda: _at_least(sla_events(endpoints.bootstrap_servers, everyone), 3 * len(everyone))
    )
    assert isinstance(events, list)
    per_timer: dict[str, int] = {}
    for e in of_type(events, "sla.breached"):
        per_timer[e["payload"]["timer_id"]] = per_timer.get(e["payload"]["timer_id"], 0) + 1
        assert moment(e["payload"]["breached_at"]) > moment(e["payload"]["due_at"])
    assert per_timer == {str(r["timer_id"]): 1 for r in rows}


# -- a simulated month -----------------------------------------------------------------------------


async def test_replayed_simulated_month_gives_every_contact_its_screening_clock(
    endpoints: Endpoints, workers: Workers, tmp_path: Path
) -> None:
    from services.simulate.cli import write_feed

    feed = tmp_path / "month.jsonl"
    write_feed(feed, days=30, seed=uuid.uuid4().int % 1_000_000_000, start=date(2025, 1, 6))
    events = [orjson.loads(line) for line in feed.read_bytes().splitlines() if line.strip()]
    contacts = {
        e["payload"]["contact_id"]: e for e in events if e["event_type"] in CONTACTS.event_types
    }
    decided: dict[str, datetime] = {}
    for e in events:
        if e["event_type"] == "screening.decision_recorded":
            at = moment(e["payload"]["decided_at"])
            decided[e["payload"]["contact_id"]] = min(
                at, decided.get(e["payload"]["contact_id"], at)
            )
    children = sorted({e["subject"]["child_id"] for e in events})
    workers.start("sla")
    await publish(
        endpoints.bootstrap_servers,
        [
            (
                e,
                CONTACTS.name if e["event_type"] in CONTACTS.event_types else CASEWORK.name,
            )
            for e in events
        ],
    )

    async def screening_clocks() -> dict[str, asyncpg.Record]:
        rows = [
            r
            for r in await timers_of(endpoints.database_url, children)
            # simulated child ids recur across seeds (other tests' feeds share them), contact
            # ids do not: keep this month's clocks only
            if r["kind"] == "screening_decision" and str(r["subject_ref"]) in contacts
        ]
        settled = len(rows) == len(contacts) and all(r["status"] != "open" for r in rows)
        return {r["subject_ref"]: r for r in rows} if settled else {}

    clocks = await wait_until(screening_clocks, timeout=240, interval=1)
    assert isinstance(clocks, dict)
    calendar = WorkingCalendar.england_and_wales(2024, 2026)
    late = 0
    for contact_id, received_event in contacts.items():
        row = clocks[contact_id]
        received = moment(received_event["payload"]["contact_at"])
        due = calendar.due_end_of_day(received, 1)
        assert row["due_at"] == due, contact_id
        decision_at = decided.get(contact_id)
        if decision_at is not None and decision_at >= received:
            assert row["status"] == "met", (contact_id, row["status"])
            assert row["met_at"] == decision_at
            if decision_at <= due:
                assert row["breached_at"] is None  # in time, however late the decision was read
            else:
                # missed: recorded when the late decision was applied or when the scanner got
                # there first, whichever happened first in this replay
                assert row["breached_at"] > due
                late += 1
        else:
            assert row["status"] == "breached", (contact_id, row["status"])
            assert row["breached_at"] > due
    assert 0 < late < len(contacts)  # the month has decisions on both sides of the deadline


# -- poison ----------------------------------------------------------------------------------------


async def dead_letters_for(bootstrap: str, event_ids: set[str]) -> dict[str, dict[str, str]]:
    """The ``dlq.*`` headers of each dead letter carrying one of these events, by event id."""
    found: dict[str, dict[str, str]] = {}
    for record in await read_topic(bootstrap, DEADLETTER.name, DEADLETTER.partitions):
        try:
            value = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict) and value.get("event_id") in event_ids:
            found[value["event_id"]] = header_map(list(record.headers))
    return found


@pytest.mark.parametrize("runtime", ["aiokafka", "faust"])
async def test_poison_records_are_dead_lettered_with_their_reason_and_the_rest_land(
    endpoints: Endpoints, workers: Workers, runtime: str
) -> None:
    events = [contact(at=utc(2025, 3, 4, 10, 30)) for _ in range(500)]
    nul_text, nul_header, beyond_calendar = events[101], events[250], events[399]
    nul_text["payload"]["summary"] = "Seen at the door \u0000 by a neighbour."
    # valid by the contract, but its deadline lies beyond the bank-holiday calendar (2040):
    # the handler raises, the batch is split until this record stands alone
    beyond_calendar["payload"]["contact_at"] = "2099-03-04T10:30:00+00:00"
    beyond_calendar["occurred_at"] = "2099-03-04T10:30:00+00:00"
    producer = new_producer(endpoints.bootstrap_servers)
    await producer.start()
    try:
        sent = [
            await producer.send(
                CONTACTS.name,
                orjson.dumps(e),
                key=e["subject"]["child_id"].encode(),
                headers=[("event_type", b"contact.received")]
                + ([("trace", b"a\x00b")] if e is nul_header else []),
            )
            for e in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    worker = workers.start("sla", FRONTDOOR_SLA_RUNTIME=runtime)

    good = [e for e in events if e not in (nul_text, nul_header, beyond_calendar)]
    children = [e["subject"]["child_id"] for e in good]

    async def landed() -> bool:
        rows = await timers_of(endpoints.database_url, children)
        return len({r["child_id"] for r in rows if r["kind"] == "screening_decision"}) == 497

    await wait_until(landed, timeout=120)
    poison = {str(e["event_id"]): e for e in (nul_text, nul_header, beyond_calendar)}
    letters = await wait_until(
        lambda: _all_of(dead_letters_for(endpoints.bootstrap_servers, set(poison)), 3),
        timeout=60,
    )
    assert isinstance(letters, dict)
    reasons = {eid: letters[eid]["dlq.reason"] for eid in poison}
    assert reasons == {
        str(nul_text["event_id"]): "validation",
        str(nul_header["event_id"]): "validation",
        str(beyond_calendar["event_id"]): "processing",
    }
    assert letters[str(beyond_calendar["event_id"])]["dlq.exception.class"].endswith(
        "CalendarRangeError"
    )
    assert "\u0000" not in letters[str(nul_text["event_id"])]["dlq.exception.message"]
    assert letters[str(nul_header["event_id"])]["trace"] == "a\x00b"  # original headers kept
    assert not await timers_of(
        endpoints.database_url, [e["subject"]["child_id"] for e in poison.values()]
    )
    await asyncio.sleep(2)
    assert worker.poll() is None  # the worker never stopped


async def _all_of(awaitable: Any, n: int) -> Any:
    found = await awaitable
    return found if len(found) >= n else {}
