"""Privacy sweep through the real stack (issue 11 §4): personal data only where it belongs.

Real intake, conferences and dead-letter workers (the dead-letter one under faust, so faust's and
mode's own loggers run too) on the session's embedded broker and PostgreSQL. Partner records are
published as a Kafka partner publishes them, with a distinctive child — a name, a date of birth,
a postcode, an NHS number — put into invalid fields (so that a library error would quote it) and
into the body of records refused for another reason, plus a valid s47 that makes the conferences
handler raise (an enquiry dated before its referral: the message would carry the dates). Then
none of those values may appear in the ``deadletters`` table (any column but the original
record's own bytes, kept for replay — which is checked to really hold them), in the dead-letter
topic's headers, in ``frontdoor dlq list`` (table and ``--json``), or in any worker's log lines
(JSON lines, stdlib loggers included), nor in any page or API of the ops service an ops key can
read or in ``/metrics``; the good records around the bad ones are in ``events``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import pytest

import schemas.topics
from schemas.topics import DEADLETTER, PARTNER_EVENTS
from services.common.deadletter import header_map
from services.common.kafka import MAX_EVENT_BYTES, new_producer
from services.common.settings import Endpoints
from services.ops.domain.access import OpsRole
from tests.conftest import Workers, read_topic, wait_until
from tests.factories import contact, da_notification, to_line
from tests.integration.test_deadletter import frontdoor
from tests.integration.test_ops_auth import bearer, issue_ops_key, ops_app, routes
from tests.unit.test_conferences_lifecycle import at, referral, s47, strategy

pytestmark = pytest.mark.integration

GIVEN = "Zephaniah"
FAMILY = "Quillfeather-Ostrowska"
FULL_NAME = f"{GIVEN} {FAMILY}"
DOB = "2013-11-27"  # a real date, in the body of records refused for something else
BAD_DOB = "2013-02-30"  # not a date: refused, and a naive message would quote it
POSTCODE = "ZE2 9QX"
ADDRESS = f"7 Larkspur Wynd, Lerwick {POSTCODE}"
NHS = "9434765919"
NHS_SPACED = "943 476 5919"
S47_DAY, REFERRAL_DAY = "2021-06-14", "2021-06-15"  # the handler's refusal compares these
VALUES = (GIVEN, FAMILY, DOB, BAD_DOB, POSTCODE, NHS, NHS_SPACED, S47_DAY, REFERRAL_DAY)


def leaks(text: str) -> list[str]:
    return [v for v in VALUES if v in text]


def distinctive_child(**changes: Any) -> dict[str, Any]:
    child = {
        "given_name": GIVEN,
        "family_name": FAMILY,
        "date_of_birth": DOB,
        "sex": "M",
        "ethnicity": "WBRI",
        "address": ADDRESS,
    }
    return {**child, **changes}


def with_child(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    event["payload"]["child"] = distinctive_child(**changes)
    return event


def bad_records() -> list[tuple[str, bytes]]:
    """(what, bytes): each refused by intake, each carrying the child's values."""
    wrong_source = with_child(contact())
    wrong_source["payload"]["referral_source"] = FULL_NAME
    nhs_as_count = with_child(da_notification())
    nhs_as_count["payload"]["dash_yes_count"] = int(NHS)
    nhs_as_text = with_child(da_notification())
    nhs_as_text["payload"]["previous_incidents_12m"] = NHS_SPACED
    postcode_as_sex = with_child(contact(), sex=POSTCODE)
    unknown_field = with_child(contact())
    unknown_field["payload"]["child"]["nhs_number"] = NHS_SPACED
    name_as_type = with_child(contact())
    name_as_type["event_type"] = FULL_NAME
    nul_in_name = with_child(contact(), family_name=f"{FAMILY}\x00")
    oversized = with_child(contact())
    oversized["payload"]["summary"] = f"{FULL_NAME} born {DOB} " * (MAX_EVENT_BYTES // 30)
    return [
        ("impossible date of birth", to_line(with_child(contact(), date_of_birth=BAD_DOB))),
        ("name as a code", to_line(wrong_source)),
        ("NHS number as a count", to_line(nhs_as_count)),
        ("NHS number as text for a count", to_line(nhs_as_text)),
        ("postcode as a code", to_line(postcode_as_sex)),
        ("undeclared NHS number field", to_line(unknown_field)),
        ("name as an event type", to_line(name_as_type)),
        ("NUL in a name", to_line(nul_in_name)),
        ("oversized", to_line(oversized)),
        ("not JSON", f'{{"given_name": "{GIVEN}", "date_of_birth": {DOB}, "postcode'.encode()),
        ("a JSON string", orjson.dumps(f"{FULL_NAME} {DOB} {POSTCODE} {NHS}")),
    ]


def topic_for(value: bytes) -> str:
    """Where a Kafka partner publishes: its agency's own lane when the stack has lanes."""
    lane = getattr(schemas.topics, "partner_lane", None)
    if lane is None:
        return PARTNER_EVENTS.name
    try:
        agency = orjson.loads(value)["source"]["agency"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        agency = "education"
    return str(lane(agency).name)


async def publish(bootstrap: str, key: bytes, values: Sequence[bytes]) -> None:
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        for value in values:  # one key: bad records sit between good ones, in order
            await producer.send_and_wait(topic_for(value), value, key=key)
    finally:
        await producer.stop()


async def fetch(dsn: str, sql: str, *args: object) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def as_text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return " ".join(as_text(v) for v in value)
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, default=str, ensure_ascii=False) if value is not None else ""


async def test_no_personal_value_reaches_dead_letters_the_cli_or_the_logs(
    endpoints: Endpoints, workers: Workers
) -> None:
    dsn = endpoints.database_url
    key = f"privacy-{uuid.uuid4().hex}".encode()
    good = [with_child(contact()), with_child(da_notification()), with_child(contact())]
    bad = bad_records()
    reused = with_child(contact())  # the same event_id again, other content
    reused["event_id"] = good[0]["event_id"]
    reused["payload"]["summary"] = f"{FULL_NAME} of {ADDRESS}, NHS {NHS}"
    # a valid record the conferences handler refuses: an s47 dated before its referral
    child = f"Cprv{uuid.uuid4().hex[:10]}"
    ref = referral(child, at(2021, 6, 15))
    ref["payload"]["child"] = distinctive_child()
    early = s47(
        child, strategy(child, ref["payload"]["referral_id"], at(2021, 6, 14)), at(2021, 6, 14)
    )

    chatty = {"FRONTDOOR_LIBRARY_LOG_LEVEL": "INFO"}  # aiokafka, faust and mode speak up
    workers.start("intake", **chatty)
    workers.start("conferences", **chatty)
    workers.start("deadletter", FRONTDOOR_RUNTIME="faust", **chatty)
    await publish(
        endpoints.bootstrap_servers,
        key,
        [
            to_line(good[0]),
            *[v for _, v in bad[:6]],
            to_line(good[1]),
            *[v for _, v in bad[6:]],
            to_line(reused),
            to_line(ref),
            to_line(early),
            to_line(good[2]),
        ],
    )
    landed = [e["event_id"] for e in (*good, ref, early)]
    expected_letters = len(bad) + 2  # + the reused id (intake) + the early s47 (conferences)

    async def letters() -> list[Any]:
        rows = await fetch(
            dsn,
            "SELECT * FROM deadletters WHERE record_key = ANY($1::bytea[])",
            [key, child.encode()],
        )
        return rows if len(rows) >= expected_letters else []

    rows = await wait_until(letters, timeout=90)
    assert isinstance(rows, list)
    events = await fetch(
        dsn, "SELECT event_id FROM events WHERE event_id = ANY($1::uuid[])", landed
    )
    assert {str(r["event_id"]) for r in events} == set(landed)  # the good ones around them landed
    assert len(rows) == expected_letters
    by_class = {r["exception_class"].rsplit(".", 1)[-1] for r in rows}
    assert {"InvariantViolation", "EventIdReusedError", "UnknownEventType"} <= by_class
    assert {r["reason"] for r in rows} == {"validation", "deserialization"}

    # the table: every column but the original record, which is kept for replay and holds them
    for row in rows:
        kept = bytes(row["record_value"]).decode("utf-8", "replace")
        assert leaks(kept), "each refused record really carried the child's values"
        shown = {c: as_text(v) for c, v in dict(row).items() if c != "record_value"}
        assert {c: leaks(t) for c, t in shown.items() if leaks(t)} == {}, row["exception_message"]

    # the dead-letter topic: every header of every letter (the value is the original record)
    async def on_topic() -> list[Any]:
        found = await read_topic(
            endpoints.bootstrap_servers, DEADLETTER.name, DEADLETTER.partitions
        )
        mine = [r for r in found if r.key in (key, child.encode())]
        return mine if len(mine) >= expected_letters else []

    records = await wait_until(on_topic)
    assert isinstance(records, list)
    messages = [header_map(r.headers)["dlq.exception.message"] for r in records]
    assert len(messages) == expected_letters
    assert all(messages)
    for record in records:
        text = " ".join(f"{n}={bytes(v).decode('utf-8', 'replace')}" for n, v in record.headers)
        assert leaks(text) == [], text
    [refusal] = [m for m in messages if "before the referral" in m]
    assert "Section 47 enquiry start" in refusal  # the rule is still said

    # `frontdoor dlq list`, both forms
    listing = frontdoor(endpoints, "dlq", "list", "--json", "--limit", "1000")
    assert listing.returncode == 0, listing.stderr
    listed = [r for r in json.loads(listing.stdout) if r["id"] in {row["id"] for row in rows}]
    assert len(listed) == expected_letters
    table = frontdoor(endpoints, "dlq", "list", "--limit", "1000")
    assert table.returncode == 0, table.stderr
    assert leaks(listing.stdout + listing.stderr + table.stdout + table.stderr) == []

    # every ops page and API an ops key can read, and /metrics: what the dashboard serves
    ops_key = await issue_ops_key(endpoints.database_url, OpsRole.OPS, "privacy sweep")
    async with ops_app(endpoints) as (app, client):
        served: dict[str, str] = {}
        for path, method in routes(app):
            if method != "GET" or "{" in path or path.startswith(("/docs", "/redoc", "/login")):
                continue
            answer = await client.get(path, headers=bearer(ops_key))
            assert answer.status_code < 500, (path, answer.status_code)
            served[path] = answer.text
    assert {"/api/deadletters", "/metrics"} <= set(served)
    # it does serve these letters (it counts them all; it lists only the newest)
    assert json.loads(served["/api/deadletters"])["panel"]["total"] >= expected_letters
    assert {p: leaks(t) for p, t in served.items() if leaks(t)} == {}

    # the workers' logs: JSON lines only (stdlib, aiokafka, faust and mode included), no value
    await asyncio.sleep(0.5)  # the last batch's log lines
    workers.stop_all()
    logs = {p.name: p.read_text(errors="replace") for p in workers.log_dir.glob("*.log")}
    assert sorted(logs) == ["conferences-1.log", "deadletter-2.log", "intake-0.log"]
    lines = [(name, line) for name, text in logs.items() for line in text.splitlines()]
    not_json = [(n, line) for n, line in lines if line.strip() and not _is_json_object(line)]
    assert not_json == []
    assert any("deadlettered" in line for _, line in lines)  # the refusals were logged
    loggers = {str(json.loads(line).get("logger", "")).split(".")[0] for _, line in lines if line}
    assert {"aiokafka", "faust"} <= loggers  # library lines went through the same chain
    assert {n: leaks(t) for n, t in logs.items() if leaks(t)} == {}


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
