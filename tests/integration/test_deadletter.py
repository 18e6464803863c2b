"""The dead-letter service and ``frontdoor dlq`` against the real embedded broker and a real
PostgreSQL: any header bytes kept and listed, letters identified by content (not offsets),
replay byte for byte without loops, and a poisoned batch that never stops the worker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from schemas.topics import DEADLETTER
from services.common.deadletter import DeadLetterReason, Origin, header_map
from services.common.kafka import ensure_topics, new_producer
from services.common.pipeline import Delivery, Handler, Unit, dead_letter_row
from services.common.runtime import Resources, run_aiokafka
from services.common.settings import Endpoints
from services.deadletter.bootstrap import service
from tests.conftest import ROOT, Workers, read_topic, wait_until
from tests.factories import contact, to_line

pytestmark = pytest.mark.integration

Headers = tuple[tuple[str, bytes], ...]
NUL_HEADERS: Headers = (
    ("trace", b"t\x00-1"),
    ("raw", b"\xff\xfe\x00"),
    ("na\x00me", b"v"),  # a NUL in a header name
    ("dup", b"1"),
    ("dup", b"2"),
    ("empty", b""),
)


def letter(
    value: bytes,
    *,
    headers: Headers = (("trace", b"t-1"),),
    topic: str = "partner.events",
    partition: int = 0,
    offset: int = 0,
    at: datetime | None = None,
    reason: DeadLetterReason = DeadLetterReason.PROCESSING,
    key: bytes | None = b"child-1",
) -> tuple[bytes | None, bytes, Headers]:
    """(key, value, headers) of the dead letter the pipeline writes for one failed record."""
    original = Origin(topic, partition, offset, key, value, headers)
    row = dead_letter_row(
        original,
        reason,
        ValueError("payload.summary: bad"),
        "frontdoor-intake",
        at or datetime.now(UTC),
    )
    return row.key, value, row.headers


def letter_id(headers: Headers) -> uuid.UUID:
    return uuid.UUID(header_map(headers)["dlq.id"])


async def produce(bootstrap: str, records: Sequence[tuple[bytes | None, bytes, Headers]]) -> None:
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        futures = [
            await producer.send(DEADLETTER.name, value, key=key, headers=list(headers) or None)
            for key, value, headers in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def rows_for(dsn: str, letter_ids: Sequence[uuid.UUID]) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(
            await conn.fetch(
                "SELECT * FROM deadletters WHERE letter_id = ANY($1::uuid[]) ORDER BY id",
                list(letter_ids),
            )
        )
    finally:
        await conn.close()


async def rows_where(dsn: str, sql: str, *args: object) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(f"SELECT * FROM deadletters WHERE {sql} ORDER BY id", *args))
    finally:
        await conn.close()


def exact_headers(row: Any) -> Headers:
    return tuple(
        (bytes(n).decode(), bytes(v))
        for n, v in zip(row["header_names"], row["header_values"], strict=True)
    )


def frontdoor(endpoints: Endpoints, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
            "DATABASE_URL": endpoints.database_url,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def stored(dsn: str, letter_ids: Sequence[uuid.UUID]) -> list[Any]:
    """The rows, once every one of ``letter_ids`` is in the table."""
    rows = await rows_for(dsn, letter_ids)
    return rows if len(rows) == len(set(letter_ids)) else []


@pytest.mark.parametrize("runtime", ["aiokafka", "faust"])
async def test_letter_with_a_nul_in_a_header_is_stored_and_listed(
    endpoints: Endpoints, workers: Workers, runtime: str
) -> None:
    workers.start("deadletter", FRONTDOOR_RUNTIME=runtime)
    value = to_line(contact())
    key, _, headers = letter(value, headers=NUL_HEADERS)
    headers = tuple(  # a NUL in a dlq.* text header too
        (k, b"bad\x00message" if k == "dlq.exception.message" else v) for k, v in headers
    )
    await produce(endpoints.bootstrap_servers, [(key, value, headers)])

    [row] = await wait_until(lambda: stored(endpoints.database_url, [letter_id(headers)]))
    assert exact_headers(row) == headers  # every byte, in order, dlq.* included
    assert (bytes(row["record_key"]), bytes(row["record_value"])) == (key, value)
    assert row["reason"] == "processing"
    assert row["exception_message"] == "bad\\u0000message"

    listing = frontdoor(endpoints, "dlq", "list", "--json", "--limit", "1000")
    assert listing.returncode == 0, listing.stderr
    [listed] = [r for r in json.loads(listing.stdout) if r["id"] == row["id"]]
    assert listed["letter_id"] == str(letter_id(headers))
    assert listed["headers"] == {
        "trace": "t\\u0000-1",
        "raw": "\\xff\\xfe\\u0000",
        "na\\u0000me": "v",
        "dup": "2",
        "empty": "",
    }
    table = frontdoor(endpoints, "dlq", "list")
    assert table.returncode == 0, table.stderr


async def test_letters_at_the_same_offset_after_a_broker_restart_are_both_kept(
    endpoints: Endpoints, workers: Workers
) -> None:
    """Same group/topic/partition/offset (offsets start again after a restart), other content:
    two letters. The same letter twice: one."""
    workers.start("deadletter")
    before_restart = letter(to_line(contact()), offset=0)
    after_restart = letter(to_line(contact()), offset=0)
    await produce(endpoints.bootstrap_servers, [before_restart, before_restart, after_restart])
    ids = [letter_id(before_restart[2]), letter_id(after_restart[2])]
    rows = await wait_until(lambda: stored(endpoints.database_url, ids))
    assert isinstance(rows, list)
    assert [
        (r["consumer_group"], r["original_topic"], r["original_partition"], r["original_offset"])
        for r in rows
    ] == [("frontdoor-intake", "partner.events", 0, 0)] * 2
    assert {bytes(r["record_value"]) for r in rows} == {before_restart[1], after_restart[1]}
    # the repeat was delivered and dropped: a marker sent after it is in, and nothing else is
    marker = letter(to_line(contact()))
    await produce(endpoints.bootstrap_servers, [before_restart, marker])
    await wait_until(lambda: stored(endpoints.database_url, [letter_id(marker[2])]))
    assert len(await rows_for(endpoints.database_url, ids)) == 2


async def test_replay_resends_key_value_and_headers_byte_for_byte(
    endpoints: Endpoints, workers: Workers
) -> None:
    topic = f"dlq-replay-{uuid.uuid4().hex[:8]}"
    await ensure_topics(endpoints.bootstrap_servers, [(topic, 1)])
    workers.start("deadletter")
    value = b'{"not": "json \xff\x00'  # bytes, not text
    first = letter(value, headers=NUL_HEADERS, topic=topic, at=datetime.now(UTC))
    await produce(endpoints.bootstrap_servers, [first])
    [row] = await wait_until(lambda: stored(endpoints.database_url, [letter_id(first[2])]))

    replayed = frontdoor(endpoints, "dlq", "replay", "--raw", "--id", str(row["id"]))
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 dead letter" in replayed.stderr
    [record] = await read_topic(endpoints.bootstrap_servers, topic, 1)
    assert (record.key, record.value) == (b"child-1", value)
    assert tuple(record.headers) == NUL_HEADERS  # the original headers, no dlq.* ones
    [after] = await rows_for(endpoints.database_url, [letter_id(first[2])])
    assert after["replayed_at"] is not None
    listing = json.loads(frontdoor(endpoints, "dlq", "list", "--json", "--limit", "1000").stdout)
    assert row["id"] not in {r["id"] for r in listing}

    # the replayed record fails again: the same letter (same content), a later failure —
    # it is waiting again rather than lost behind the first one's claim
    again = letter(value, headers=NUL_HEADERS, topic=topic, at=datetime.now(UTC) + timedelta(1))
    assert letter_id(again[2]) == letter_id(first[2])
    await produce(endpoints.bootstrap_servers, [again])

    async def waiting_again() -> bool:
        [current] = await rows_for(endpoints.database_url, [letter_id(first[2])])
        return current["replayed_at"] is None

    await wait_until(waiting_again)


async def test_replay_refuses_the_loop_and_filters_that_name_nothing(
    endpoints: Endpoints, workers: Workers
) -> None:
    workers.start("deadletter")
    marker = f"by-hand-{uuid.uuid4().hex}".encode()
    await produce(endpoints.bootstrap_servers, [(marker, b"written by hand", ())])
    [row] = await wait_until(lambda: rows_where(endpoints.database_url, "record_key = $1", marker))
    assert (row["reason"], row["original_topic"]) == ("unknown", DEADLETTER.name)
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        absent = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM deadletters")) + 99999
    finally:
        await conn.close()

    for args, says in (
        (["--id", str(row["id"])], f"dead letter {row['id']} came from frontdoor.deadletter"),
        (["--reason", "unknown"], "would loop back onto it"),
        (["--reason", "bogus"], "no dead-letter reason 'bogus'"),
        (["--id", str(absent)], f"no dead letter with id {absent}"),
    ):
        result = frontdoor(endpoints, "dlq", "replay", "--raw", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert says in line
        assert "Traceback" not in result.stderr
    [still] = await rows_where(endpoints.database_url, "id = $1", row["id"])
    assert still["replayed_at"] is None


async def test_letter_kept_before_letter_ids_is_listed_and_replayed(
    endpoints: Endpoints, workers: Workers
) -> None:
    """A row written by the old service (no letter id, headers only as a text map) keeps
    working, and no longer blocks a new letter at its group/topic/partition/offset."""
    topic = f"dlq-old-{uuid.uuid4().hex[:8]}"
    await ensure_topics(endpoints.bootstrap_servers, [(topic, 1)])
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        old_id = await conn.fetchval(
            """INSERT INTO deadletters (dlq_partition, dlq_offset, reason, exception_class,
                   exception_message, original_topic, original_partition, original_offset,
                   consumer_group, failed_at, record_key, record_value, record_headers)
               VALUES (0, 5, 'processing', 'ValueError', 'bad', $1, 0, 5, 'frontdoor-intake',
                       now(), 'child-1', 'old value', '{"trace": "t-old"}'::jsonb)
               RETURNING id""",
            topic,
        )
    finally:
        await conn.close()
    workers.start("deadletter")
    same_place = letter(to_line(contact()), topic=topic, offset=5)
    await produce(endpoints.bootstrap_servers, [same_place])
    await wait_until(lambda: stored(endpoints.database_url, [letter_id(same_place[2])]))

    listing = json.loads(frontdoor(endpoints, "dlq", "list", "--json", "--limit", "1000").stdout)
    [old] = [r for r in listing if r["id"] == old_id]
    assert (old["letter_id"], old["headers"], old["key"]) == (None, {"trace": "t-old"}, "child-1")
    replayed = frontdoor(endpoints, "dlq", "replay", "--raw", "--id", str(old_id))
    assert replayed.returncode == 0, replayed.stderr
    [record] = await read_topic(endpoints.bootstrap_servers, topic, 1)
    assert (record.key, record.value, list(record.headers)) == (
        b"child-1",
        b"old value",
        [("trace", b"t-old")],
    )


async def test_unreachable_database_is_one_line_not_a_traceback() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli.main",
            "dlq",
            "list",
            "--database",
            "postgresql://nobody@127.0.0.1:1/none",
            "--bootstrap",
            "127.0.0.1:1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        "frontdoor dlq list: cannot reach the database or the broker (ConnectionRefusedError"
    )
    assert line.endswith("or start `frontdoor dev`")


def raising_for(letter: uuid.UUID, base: Any) -> Any:
    """The service's handler factory, but the handler raises whenever ``letter`` is in a batch."""

    @asynccontextmanager
    async def factory(resources: Resources) -> AsyncIterator[Handler]:
        async with base(resources) as inner:

            async def handler(unit: Unit, deliveries: Sequence[Delivery]) -> None:
                if any(d.id == letter for d in deliveries):
                    raise RuntimeError("the handler broke on one letter")
                await inner(unit, deliveries)

            yield handler

    return factory


async def test_poisoned_batch_of_500_keeps_499_never_loops_the_one_that_raises_and_runs_on(
    endpoints: Endpoints,
) -> None:
    """A NUL in a text field, a NUL in a header and a handler exception in one batch of 500:
    the NUL letters are kept as they are (this service keeps any bytes); the one the handler
    raises for is never dead-lettered onto its own topic (no loop) but claimed and logged as
    unstorable; the other 499 are stored and the worker never exits."""
    values = [to_line(contact()) for _ in range(500)]
    records = [letter(v, offset=n) for n, v in enumerate(values)]
    nul_text = contact()
    nul_text["payload"]["summary"] = "before\u0000after"
    records[100] = letter(to_line(nul_text), offset=100)
    records[100] = (records[100][0], records[100][1] + b"\x00", records[100][2])
    records[200] = letter(values[200], headers=(("trace", b"a\x00b"),), offset=200)
    poison = records[300]
    ids = [letter_id(h) for _, _, h in records]

    base = service()
    sub = base.subscriptions[0]
    poisoned = replace(
        base, subscriptions=(replace(sub, handler=raising_for(ids[300], sub.handler)),)
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_aiokafka(poisoned, endpoints, stop))
    try:
        await produce(endpoints.bootstrap_servers, records)
        kept = [i for n, i in enumerate(ids) if n != 300]
        rows = await wait_until(lambda: stored(endpoints.database_url, kept), timeout=120)
        assert isinstance(rows, list)
        by_id = {r["letter_id"]: r for r in rows}
        assert bytes(by_id[ids[100]]["record_value"]) == records[100][1]
        assert exact_headers(by_id[ids[200]])[0] == ("trace", b"a\x00b")
        assert await rows_for(endpoints.database_url, [ids[300]]) == []

        # the letter that cannot be kept is never dead-lettered onto its own topic (a loop): it is
        # claimed, logged as unstorable, and its bytes stay in the topic and the outbox
        async def claimed() -> bool:
            conn = await asyncpg.connect(endpoints.database_url)
            try:
                return bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM processed_events "
                        "WHERE consumer = 'deadletter' AND event_id = $1",
                        ids[300],
                    )
                )
            finally:
                await conn.close()

        await wait_until(claimed)
        looped = [
            r
            for r in await read_topic(
                endpoints.bootstrap_servers, DEADLETTER.name, DEADLETTER.partitions
            )
            if r.value == poison[1]
            and header_map(tuple(r.headers))["dlq.reason"] == "processing"
            and header_map(tuple(r.headers)).get("dlq.original.topic") == DEADLETTER.name
        ]
        assert looped == []
        assert not worker.done()  # the worker never exited
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)
