"""The adversarial corpus (issue 11): generated and hand-written bad records among good ones,
through both partner paths — HTTP (the production ingress app) and Kafka (raw records to the
partner topic) — with intake running behind them.

The corpus: hand-written nasties (NUL and other control characters, 1 MB strings, nesting past
any parser's depth, wrong types, unicode confusables in agency names, UK dates, unknown types
and versions, reused event ids, bytes that are not UTF-8 or not JSON), hypothesis mutants of
every event's JSON Schema (each example fills every property its schema has; one property path at
a time is replaced with a value hypothesis draws from JSON of any shape), and request bodies
schemathesis generates from the OpenAPI document. The oracle is the contract's own code, run
in-process: ``check_event`` says what ingress must answer each HTTP event, ``decode_event`` what
intake must do with each Kafka record. The run holds: 0 crashes (intake alive, no exception out
of the app), 0 5xx, every bad record a 4xx with a problem ``code`` (HTTP) or a dead letter with a
``dlq.reason`` and message (Kafka), and every good record — and every event ingress accepted —
in intake's ``events`` table.

``python bench/adversarial.py [--records N] [--seed S]`` runs the full form (default 10,200
records, as schemathesis may draw a few fewer distinct bodies than asked) on a stack of its own
and writes bench/results/adversarial.json; the test suite runs a short form (tests/e2e/test_adversarial.py) through ``run_corpus``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from schemas.envelope import Agency
from schemas.roles import RoleTable
from schemas.topics import DEADLETTER, partner_lane
from services.common.decoding import Decoded, decode_event
from services.common.kafka import MAX_EVENT_BYTES, new_producer
from services.common.ledger import decode_headers
from services.common.outbox import partition_for
from services.common.settings import Endpoints
from services.ingress.config import IngressSettings
from services.ingress.domain.submission import EventAccepted, check_event
from tests.unit.contract_examples import EXAMPLES, example, replaced, string_paths

MB = 1_000_000
CONFUSABLES = ("p\u03bflice", "ＰＯＬＩＣＥ", "police\u200b", "Police", "he\u0430lth", "educatіon")
CONTROL = ("\x00", "\x07", "\x1b[31m", "\x7f", "\x0b", "\x9b")


def kafka_topic(agency: Agency) -> str:
    """Where a Kafka partner of ``agency`` publishes: its own lane ``partner.events.<agency>``."""
    return partner_lane(agency).name


@dataclass(frozen=True)
class Record:
    """One thing to send: the bytes, who sends it, and where it came from (``kind``)."""

    body: bytes
    agency: Agency
    kind: str
    reuse_of: str | None = None  # the event_id of a good record this one reuses for other content


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data)


def _senders(roles: RoleTable) -> list[tuple[str, int, Agency]]:
    """Every example's (type, version) with its own source agency, where the role table allows it."""
    out = []
    for event_type, version in EXAMPLES:
        agency = Agency(example(event_type, version)["source"]["agency"])
        if roles.allows(agency, event_type):
            out.append((event_type, version, agency))
    return out


def good(rng: random.Random, roles: RoleTable, n: int) -> list[tuple[Record, dict[str, Any]]]:
    senders = _senders(roles)
    picks = [senders[rng.randrange(len(senders))] for _ in range(n)]
    out = []
    for event_type, version, agency in picks:
        event = example(event_type, version)
        out.append((Record(_dumps(event), agency, "good"), event))
    return out


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def nasties(
    rng: random.Random, base: Sequence[tuple[Record, dict[str, Any]]], *, max_string: int
) -> Iterator[Record]:
    """Hand-written bad records, each made from a good one (which is sent as well)."""
    for index, (record, event) in enumerate(base):
        fresh = {**event, "event_id": str(uuid.uuid4())}
        agency = record.agency
        paths = list(string_paths(fresh))
        loc = paths[rng.randrange(len(paths))]
        match index % 14:
            case 0:
                yield Record(_dumps(replaced(fresh, loc, "a" + rng.choice(CONTROL) + "b")),
                             agency, "control_character")  # fmt: skip
            case 1:
                yield Record(_dumps(replaced(fresh, loc, "x" * max_string)), agency, "huge_string")
            case 2:
                yield Record(_dumps(replaced(fresh, ("payload",), _nested(200))), agency, "deep")
            case 3:
                deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
                yield Record(deep, agency, "deeper_than_the_parser")
            case 4:
                wrong = rng.choice([12345, ["list"], {"obj": 1}, None, True, 1e308])
                yield Record(_dumps(replaced(fresh, loc, wrong)), agency, "wrong_type")
            case 5:
                spoof = replaced(fresh, ("source", "agency"), rng.choice(CONFUSABLES))
                yield Record(_dumps(spoof), agency, "confusable_agency")
            case 6:
                other = replaced(fresh, ("occurred_at",), "04/03/2025")
                yield Record(_dumps(other), agency, "uk_date")
            case 7:
                choices: list[dict[str, Any]] = [
                    {"event_type": "contact.teleported"},
                    {"schema_version": 99},
                ]
                unknown = rng.choice(choices)
                yield Record(_dumps({**fresh, **unknown}), agency, "unknown_type_or_version")
            case 8:
                missing = {k: v for k, v in fresh.items() if k != rng.choice(list(fresh))}
                yield Record(_dumps(missing), agency, "missing_field")
            case 9:
                yield Record(_dumps({**fresh, "surprise": "extra"}), agency, "extra_field")
            case 10:
                raw = rng.choice(
                    [
                        b"\xff\xfe\x00{",
                        b'{"event_id": "not closed',
                        b"",
                        b"[1,2]",
                        b'"a string"',
                        b"123456789012345678901234567890",
                        b"null",
                    ]
                )
                yield Record(raw, agency, "not_an_event")  # fmt: skip
            case 11:
                reused = replaced(event, ("source", "system"), "another-system")
                yield Record(_dumps(reused), agency, "reused_id", reuse_of=event["event_id"])
            case 12:
                yield Record(_dumps(replaced(fresh, ("event_id",), "not-a-uuid")), agency, "bad_id")
            case _:
                yield Record(_dumps(replaced(fresh, loc, "")), agency, "empty_string")


def hypothesis_mutants(
    seed: int, base: Sequence[tuple[Record, dict[str, Any]]], n: int
) -> list[Record]:
    """``n`` records: a good event with one property path replaced by hypothesis-drawn JSON."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
        | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=8,
    )  # fmt: skip
    out: list[Record] = []

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, len(base) - 1), st.integers(0, 10**6), json_values)
    def draw(which: int, where: int, value: Any) -> None:
        record, event = base[which]
        fresh = {**event, "event_id": str(uuid.uuid4())}
        paths = [p for p in _leaf_paths(fresh) if p[:1] not in (("event_id",), ("event_type",))
                 and p != ("source", "agency")]  # fmt: skip
        mutated = replaced(fresh, paths[where % len(paths)], value)
        out.append(Record(_dumps(mutated), record.agency, "hypothesis"))

    draw()
    return out[:n]


def _leaf_paths(data: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _leaf_paths(value, (*loc, key))
    elif isinstance(data, list) and data:
        for index, value in enumerate(data):
            yield from _leaf_paths(value, (*loc, index))
    elif loc:
        yield loc


def schemathesis_bodies(doc: dict[str, Any], seed: int, n: int, agency: Agency) -> list[Record]:
    """``n`` request bodies schemathesis generates from the OpenAPI document (valid or not)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    schema = schemathesis.openapi.from_dict(doc)
    operation = schema["/v1/events"]["POST"]
    out: list[Record] = []

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy())
    def draw(case: Any) -> None:
        body = case.body
        events = body.get("events") if isinstance(body, dict) else None
        for event in events if isinstance(events, list) else [body]:
            source = event.get("source") if isinstance(event, dict) else None
            if isinstance(source, dict) and len(out) % 2:
                source["agency"] = agency.value  # else nearly every event is a spoof (403)
        try:
            raw = orjson.dumps(body)
        except TypeError:
            return
        out.append(Record(raw, agency, "schemathesis"))

    draw()
    return out[:n]


# ── sending and judging ──────────────────────────────────────────────────────────────────────


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    must_land: set[str] = field(default_factory=set)
    must_dead_letter: dict[bytes, str] = field(default_factory=dict)  # kafka key -> kind

    def fail(self, text: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(text)


async def send_http(
    client: httpx.AsyncClient, keys: dict[Agency, str], records: Sequence[Record],
    roles: RoleTable, settings: IngressSettings, tally: Tally,
) -> None:  # fmt: skip
    """POST each record with its agency's key; hold the answer against ``check_event``."""
    taken: dict[str, bytes | None] = {}
    for record in records:
        expected = _expected_http(record, roles, settings, taken)
        tally.sent[f"http.{record.kind}"] += 1
        response = await client.post(
            "/v1/events", content=record.body,
            headers={"Authorization": f"Bearer {keys[record.agency]}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        status = response.status_code
        tally.statuses[status] += 1
        if status >= 500:
            tally.fail(f"http {record.kind}: {status} {response.text[:200]}")
            continue
        if status >= 400:
            if response.headers.get("content-type") != "application/problem+json":
                tally.fail(f"http {record.kind}: {status} without a problem document")
            elif not response.json().get("code"):
                tally.fail(f"http {record.kind}: {status} problem without a code")
        if status in (202, 207):
            accepted = response.json()["accepted"]
            tally.must_land.update(accepted)
            for event_id in accepted:
                taken.setdefault(event_id, None)
        if expected is not None and status not in expected:
            tally.fail(f"http {record.kind}: expected {sorted(expected)}, got {status}")


def _expected_http(
    record: Record, roles: RoleTable, settings: IngressSettings, taken: dict[str, bytes | None]
) -> set[int] | None:
    """What ingress may answer a single event; ``None`` when the body is not one event.
    ``taken``: the ids accepted so far in this run, with their canonical JSON when known."""
    try:
        data = orjson.loads(record.body)
    except orjson.JSONDecodeError:
        return {400}
    if not isinstance(data, dict) or "events" in data:
        return None
    if len(record.body) > settings.max_body_bytes:
        return {413}
    verdict = check_event(0, data, len(record.body), agency=record.agency, roles=roles,
                          max_event_bytes=settings.max_event_bytes)  # fmt: skip
    if not isinstance(verdict, EventAccepted):
        return {verdict.status}
    event_id = str(verdict.event.event_id)
    if record.reuse_of is not None:
        return {409}
    if event_id not in taken:
        taken[event_id] = verdict.canonical
        return {202}
    before = taken[event_id]
    if before is None:  # first accepted inside a batch: either answer can be right
        return {202, 409}
    return {202} if before == verdict.canonical else {409}


async def send_kafka(bootstrap: str, records: Sequence[Record], tally: Tally) -> None:
    """Publish each record raw, with a key of its own — a reuse shares its original's key, so the
    original is read first, as from one partner's system — and ``decode_event`` says what must
    happen to it."""
    producer = new_producer(bootstrap)
    await producer.start()
    keys: dict[str, bytes] = {}
    try:
        for record in records:
            tally.sent[f"kafka.{record.kind}"] += 1
            decoded = decode_event(record.body, max_bytes=MAX_EVENT_BYTES)
            key = f"adv-{uuid.uuid4().hex}".encode()
            if record.reuse_of is not None:
                key = keys[record.reuse_of] + b"-reuse"
            if isinstance(decoded, Decoded) and record.reuse_of is None:
                keys[str(decoded.event.event_id)] = key
                tally.must_land.add(str(decoded.event.event_id))
            else:
                tally.must_dead_letter[key] = record.kind
            partition = partition_for(kafka_topic(record.agency), key.removesuffix(b"-reuse"))
            await producer.send_and_wait(
                kafka_topic(record.agency), record.body, key=key, partition=partition
            )
    finally:
        await producer.stop()


async def judge_landing(dsn: str, tally: Tally, *, timeout: float) -> dict[str, int]:
    """Wait for every good event in ``events`` and every bad Kafka record in the dead letters."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        landed: set[str] = set()
        dead: dict[bytes, dict[str, bytes]] = {}
        while True:
            ids = [uuid.UUID(i) for i in tally.must_land]
            rows = await conn.fetch("SELECT event_id FROM events WHERE event_id = ANY($1)", ids)
            landed = {str(r["event_id"]) for r in rows}
            letters = await conn.fetch(
                "SELECT key, headers FROM outbox WHERE topic = $1 AND key = ANY($2)",
                DEADLETTER.name, list(tally.must_dead_letter),
            )  # fmt: skip
            dead = {bytes(r["key"]): dict(decode_headers(r["headers"])) for r in letters}
            done = len(landed) == len(tally.must_land) and len(dead) == len(tally.must_dead_letter)
            if done or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    for key, kind in tally.must_dead_letter.items():
        headers = dead.get(key)
        if headers is None:
            tally.fail(f"kafka {kind}: no dead letter")
        elif not headers.get("dlq.reason") or not headers.get("dlq.exception.message"):
            tally.fail(f"kafka {kind}: dead letter without a reason")
    for missing in sorted(tally.must_land - landed)[:10]:
        tally.fail(f"good event {missing} did not land")
    reasons = Counter(h.get("dlq.reason", b"").decode() for h in dead.values())
    return {
        "landed": len(landed),
        "dead_letters": len(dead),
        **{f"dlq.{k}": v for k, v in reasons.items()},
    }


@dataclass(frozen=True)
class Corpus:
    goods: list[Record]
    http_bads: list[Record]
    kafka_bads: list[Record]
    mutants: list[Record]
    st_bodies: list[Record]


def corpus(
    seed: int, roles: RoleTable, doc: dict[str, Any], *, n_good: int, n_hypothesis: int,
    n_schemathesis: int,
) -> Corpus:  # fmt: skip
    """The goods; nasty ``i`` is made from good ``i`` (and follows it); then the mutants. The
    broker caps a record at 1 MB, so the Kafka path's huge strings are just over intake's limit."""
    base = good(random.Random(seed), roles, n_good)
    return Corpus(
        goods=[r for r, _ in base],
        http_bads=list(nasties(random.Random(seed + 1), base, max_string=MB)),
        kafka_bads=list(nasties(random.Random(seed + 1), base, max_string=MAX_EVENT_BYTES + 1)),
        mutants=hypothesis_mutants(seed, base, n_hypothesis),
        st_bodies=schemathesis_bodies(doc, seed, n_schemathesis, Agency.SOCIAL_CARE),
    )


def interleave(goods: Sequence[Record], bads: Sequence[Record]) -> list[Record]:
    """Goods first within each pair, so a reused id follows the event it reuses."""
    out: list[Record] = []
    for i in range(max(len(goods), len(bads))):
        out += [*goods[i : i + 1], *bads[i : i + 1]]
    return out


async def run_corpus(
    endpoints: Endpoints, client: httpx.AsyncClient, keys: dict[Agency, str],
    settings: IngressSettings, doc: dict[str, Any], *, seed: int, n_good: int,
    n_hypothesis: int, n_schemathesis: int, landing_timeout: float = 120.0,
    intake_alive: Callable[[], bool] = lambda: True,
) -> dict[str, Any]:  # fmt: skip
    """Send the corpus through both paths and judge it; the summary, with ``failures``."""
    roles = settings.role_table()
    started = time.monotonic()
    c = corpus(
        seed, roles, doc, n_good=n_good, n_hypothesis=n_hypothesis, n_schemathesis=n_schemathesis
    )
    tally = Tally()
    # Kafka first (intake reads it while HTTP is sent), every event under an id of its own
    ids: dict[str, str] = {}
    kafka = [_rekeyed(r, ids) for r in interleave(c.goods, c.kafka_bads) + c.mutants]
    await send_kafka(endpoints.bootstrap_servers, kafka, tally)
    http = interleave(c.goods, c.http_bads) + c.mutants + c.st_bodies
    await send_http(client, keys, http, roles, settings, tally)
    landing = await judge_landing(endpoints.database_url, tally, timeout=landing_timeout)
    if not intake_alive():
        tally.fail("intake is not running")
    return {
        "records": sum(tally.sent.values()),
        "http_records": sum(v for k, v in tally.sent.items() if k.startswith("http.")),
        "kafka_records": sum(v for k, v in tally.sent.items() if k.startswith("kafka.")),
        "by_kind": dict(sorted(tally.sent.items())),
        "http_statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "server_errors": sum(v for k, v in tally.statuses.items() if k >= 500),
        "must_land": len(tally.must_land),
        "must_dead_letter": len(tally.must_dead_letter),
        **landing,
        "seconds": round(time.monotonic() - started, 1),
        "failures": tally.failures,
    }


def _rekeyed(record: Record, ids: dict[str, str]) -> Record:
    """The record for the other path: each event id replaced by one of its own (``ids`` maps
    old to new, so a reuse reuses the other path's id); anything else unchanged."""
    try:
        data = orjson.loads(record.body)
        old = str(uuid.UUID(data["event_id"]))
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError, AttributeError):
        return record
    new = ids.setdefault(old, str(uuid.uuid4()))
    reuse = ids.get(record.reuse_of) if record.reuse_of else None
    return Record(_dumps({**data, "event_id": new}), record.agency, record.kind, reuse)


# ── the full form ────────────────────────────────────────────────────────────────────────────


async def main_async(records: int, seed: int) -> dict[str, Any]:
    from harness import fresh_stack, save_result, start_worker

    from services.common.db import create_pool
    from services.common.embedded import stop_process
    from services.ingress import openapi
    from services.ingress.adapters.postgres import PostgresCredentialStore
    from services.ingress.bootstrap import build_api
    from services.ingress.credentials import CredentialAdmin

    # per good record: 1 good + 1 nasty on each path (4), plus mutants on both (2 each)
    n_good = max(50, records // 10)
    n_hypothesis, n_schemathesis = n_good * 2, records - n_good * 8
    settings = IngressSettings(rate_per_second=1e6, burst=10**6, auth_cache_ttl_seconds=300)
    async with fresh_stack() as (infra, tmp):
        ep = infra.endpoints
        intake = start_worker("intake", ep.bootstrap_servers, ep.database_url, tmp,
                              {"FRONTDOOR_SCREENING_HISTORY_WAIT_SECONDS": "0"})  # fmt: skip
        app = build_api(ep, settings)
        try:
            async with app.router.lifespan_context(app):
                pool = await create_pool(ep.database_url, max_size=2)
                admin = CredentialAdmin(PostgresCredentialStore(pool), clock=_now)
                keys = {a: (await admin.add(a, "adversarial"))[1].text for a in Agency}
                await pool.close()
                transport = httpx.ASGITransport(app=app, client=("192.0.2.9", 4000))
                async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as c:
                    result = await run_corpus(
                        ep, c, keys, settings, openapi.document(app, settings), seed=seed, n_good=n_good,
                        n_hypothesis=n_hypothesis, n_schemathesis=max(0, n_schemathesis),
                        landing_timeout=600, intake_alive=lambda: intake.poll() is None,
                    )  # fmt: skip
        finally:
            stop_process(intake)
    save_result("adversarial", result)
    return result


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_200)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    result = asyncio.run(main_async(args.records, args.seed))
    sys.exit(1 if result["failures"] or result["server_errors"] else 0)


if __name__ == "__main__":
    main()
