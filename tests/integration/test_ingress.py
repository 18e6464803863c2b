"""Partner ingress on the real embedded broker and a real PostgreSQL.

The app is the production one (``bootstrap.build_api``: migrations, asyncpg pool, the outbox relay
on an acks=all producer, the sweeper and the audit retention); requests go through its ASGI
interface, or over real HTTP to a uvicorn process for the end-to-end test, which follows a
submission through the intake and SLA workers. A 202 is proven to survive a SIGKILL of the broker
right after it: the event still reaches ``events``, exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from typer.testing import CliRunner

from schemas.envelope import Agency
from schemas.topics import PARTNER_EVENTS
from services.cli.agencies import agencies_app
from services.cli.stack import Infrastructure
from services.common.db import create_pool, migrate
from services.common.embedded import free_port, stop_process, wait_for_port
from services.common.outbox import OutboxRow
from services.common.publishing import OutRecord
from services.common.settings import Endpoints
from services.ingress.adapters.memory import MemoryAuditLog, MemoryCredentialStore
from services.ingress.adapters.postgres import PostgresAuditLog, PostgresCredentialStore
from services.ingress.audit import AuditEntry
from services.ingress.bootstrap import MIGRATIONS, build_api
from services.ingress.config import IngressSettings
from services.ingress.credentials import CredentialAdmin, CredentialStore, StoredCredential
from services.ingress.ports import AuditTrail
from services.ingress.retention import AuditRetention
from tests.conftest import ROOT, Workers, wait_until
from tests.factories import contact, da_notification

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def dsn(endpoints: Endpoints) -> str:
    await migrate(endpoints.database_url, [MIGRATIONS])
    return endpoints.database_url


@asynccontextmanager
async def serving(
    endpoints: Endpoints,
    *,
    started: Callable[[FastAPI], None] | None = None,
    client_addr: str = "198.51.100.20",
    **overrides: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, CredentialAdmin]]:
    """The production app with its lifespan running, a client, and the credential admin."""
    settings = IngressSettings(auth_cache_ttl_seconds=0, **overrides)
    app = build_api(endpoints, settings)
    async with app.router.lifespan_context(app):
        if started is not None:
            started(app)
        pool = await create_pool(endpoints.database_url, max_size=2)
        admin = CredentialAdmin(PostgresCredentialStore(pool), clock=lambda: datetime.now(UTC))
        transport = httpx.ASGITransport(app=app, client=(client_addr, 50000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
                yield client, admin
        finally:
            await pool.close()


async def new_key(admin: CredentialAdmin, agency: Agency) -> tuple[str, dict[str, str]]:
    credential, key = await admin.add(agency, "integration")
    return credential.credential_id, {"Authorization": f"Bearer {key.text}"}


async def partner_records_for(bootstrap: str, request_id: str) -> list[Any]:
    """Records on partner.events whose ingress.request_id header is ``request_id``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(PARTNER_EVENTS.name, p) for p in range(PARTNER_EVENTS.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: list[Any] = []
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=300)
            records = [r for rs in batch.values() for r in rs]
            idle = 0 if records else idle + 1
            found += [
                r
                for r in records
                if dict(r.headers).get("ingress.request_id") == request_id.encode()
            ]
        return found
    finally:
        await consumer.stop()


async def audit_row(dsn: str, request_id: str) -> asyncpg.Record:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT * FROM ingress_audit WHERE request_id = $1", uuid.UUID(request_id)
        )
    finally:
        await conn.close()
    assert row is not None, f"no audit row for {request_id}"
    return row


# -- adapters: the PostgreSQL store passes the same contract as the in-memory fake ----------------


async def _credential_contract(store: CredentialStore) -> None:
    cid = uuid.uuid4().hex[:16]
    row = StoredCredential(cid, Agency.PROBATION, "delius", "$argon2id$v=19$m=8,t=1,p=1$x$y", T0)
    assert await store.get(cid) is None
    await store.insert(row)
    assert await store.get(cid) == row
    await store.mark_used(cid, T0 + timedelta(minutes=1))
    assert (await store.get(cid)).last_used_at == T0 + timedelta(minutes=1)  # type: ignore[union-attr]
    assert await store.set_revoked(cid, T0 + timedelta(hours=1), replaced_by=None)
    assert not await store.set_revoked(uuid.uuid4().hex[:16], T0)
    fetched = await store.get(cid)
    assert fetched is not None
    assert fetched.revoked_at == T0 + timedelta(hours=1)
    assert cid in [c.credential_id for c in await store.all()]


async def test_postgres_and_memory_credential_stores_honour_one_contract(dsn: str) -> None:
    await _credential_contract(MemoryCredentialStore())
    pool = await create_pool(dsn, max_size=2)
    try:
        await _credential_contract(PostgresCredentialStore(pool))
    finally:
        await pool.close()


async def test_audit_rows_are_recorded_and_cannot_be_changed(dsn: str) -> None:
    entry = AuditEntry(
        request_id=uuid.uuid4(),
        received_at=T0,
        client_addr="192.0.2.1",
        status=207,
        outcome="partially_accepted",
        agency="police",
        credential_id="0123456789abcdef",
        events_received=2,
        accepted_ids=(uuid.uuid4(),),
        rejected_ids=(uuid.uuid4(),),
        events_rejected=1,
        body_bytes=1234,
        duration_ms=5.5,
    )
    await MemoryAuditLog().record(entry)
    pool = await create_pool(dsn, max_size=2)
    try:
        await PostgresAuditLog(pool).record(entry)
        row = await pool.fetchrow(
            "SELECT * FROM ingress_audit WHERE request_id = $1", entry.request_id
        )
        assert row is not None
        assert (row["status"], row["events_accepted"], row["events_rejected"]) == (207, 1, 1)
        assert list(row["accepted_ids"]) == list(entry.accepted_ids)
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await pool.execute(
                "UPDATE ingress_audit SET status = 202 WHERE request_id = $1", entry.request_id
            )
    finally:
        await pool.close()


def _entry(received_at: datetime, **fields: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "request_id": uuid.uuid4(),
        "received_at": received_at,
        "client_addr": "192.0.2.1",
        "status": 202,
        "outcome": "accepted",
        "agency": "police",
        "accepted_ids": (uuid.uuid4(),),
        **fields,
    }
    return AuditEntry(**values)


def _outbox_row(event_id: uuid.UUID) -> OutboxRow:
    record = OutRecord(PARTNER_EVENTS.name, b"child-1", b'{"n": 1}', [("event_type", b"x.y")])
    return OutboxRow.of(record, event_id=event_id, event_type="contact.received")


async def _accept_contract(
    audit: AuditTrail, outbox: Callable[[], Awaitable[list[uuid.UUID]]]
) -> None:
    """Audit row and outbox rows commit together; a failed audit insert keeps no outbox row."""
    first = _entry(T0)
    stored = await audit.accept(first, [_outbox_row(first.accepted_ids[0])])
    assert [r.event_id for r in stored] == list(first.accepted_ids)
    assert all(r.id is not None for r in stored)
    again = _entry(T0, request_id=first.request_id)  # the same request id: the insert fails
    with pytest.raises((asyncpg.UniqueViolationError, KeyError)):
        await audit.accept(again, [_outbox_row(again.accepted_ids[0])])
    ids = set(await outbox())
    assert first.accepted_ids[0] in ids
    assert again.accepted_ids[0] not in ids


async def test_postgres_and_memory_audit_logs_store_a_submission_in_one_transaction(
    dsn: str,
) -> None:
    memory = MemoryAuditLog()

    async def in_memory() -> list[uuid.UUID]:
        return [s.row.event_id for s in memory.ledger.outbox]

    await _accept_contract(memory, in_memory)
    pool = await create_pool(dsn, max_size=2)
    try:

        async def outbox() -> list[uuid.UUID]:
            rows = await pool.fetch("SELECT event_id FROM outbox WHERE producer = 'ingress'")
            return [r["event_id"] for r in rows]

        await _accept_contract(PostgresAuditLog(pool), outbox)
        row = await pool.fetchrow(
            "SELECT topic, partition, headers FROM outbox WHERE producer = 'ingress' LIMIT 1"
        )
        assert row is not None
        assert row["topic"] == PARTNER_EVENTS.name
    finally:
        await pool.close()


async def test_retention_deletes_only_audit_rows_older_than_its_period(dsn: str) -> None:
    now = datetime.now(UTC)
    old = [_entry(now - timedelta(days=800)), _entry(now - timedelta(days=401))]
    young = [_entry(now - timedelta(days=399)), _entry(now - timedelta(minutes=1))]
    pool = await create_pool(dsn, max_size=2)
    try:
        audit = PostgresAuditLog(pool)
        for e in [*old, *young]:
            await audit.record(e)
        deleted = await AuditRetention(audit, days=400, clock=lambda: now, batch=1).purge()
        assert deleted >= len(old)  # other tests' rows may be that old too
        left = {
            r["request_id"]
            for r in await pool.fetch(
                "SELECT request_id FROM ingress_audit WHERE request_id = ANY($1::uuid[])",
                [e.request_id for e in [*old, *young]],
            )
        }
        assert left == {e.request_id for e in young}
    finally:
        await pool.close()


async def test_the_database_refuses_any_other_deletion_of_audit_rows(dsn: str) -> None:
    now = datetime.now(UTC)
    ancient, recent = _entry(now - timedelta(days=900)), _entry(now - timedelta(days=100))
    pool = await create_pool(dsn, max_size=2)
    try:
        audit = PostgresAuditLog(pool)
        await audit.record(ancient)
        await audit.record(recent)
        with pytest.raises(asyncpg.RaiseError, match="append-only"):  # not the retention task
            await pool.execute(
                "DELETE FROM ingress_audit WHERE request_id = $1", ancient.request_id
            )
        misconfigured = AuditRetention(audit, days=30, clock=lambda: now)  # below the floor
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await misconfigured.purge()
        count = await pool.fetchval(
            "SELECT count(*) FROM ingress_audit WHERE request_id = ANY($1::uuid[])",
            [ancient.request_id, recent.request_id],
        )
        assert count == 2
    finally:
        await pool.close()


# -- the production app on the real stack -------------------------------------------------------


async def test_a_batch_with_one_bad_event_lands_the_good_ones_on_partner_events(
    endpoints: Endpoints, dsn: str
) -> None:
    async with serving(endpoints) as (client, admin):
        credential_id, auth = await new_key(admin, Agency.EDUCATION)
        good1, bad, good2 = contact(), contact(), contact()
        bad["payload"]["referral_source"] = "ZZ"
        response = await client.post(
            "/v1/events", json={"events": [good1, bad, good2]}, headers=auth
        )
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["accepted"] == [good1["event_id"], good2["event_id"]]
    assert [(r["index"], r["event_id"], r["code"]) for r in body["rejected"]] == [
        (1, bad["event_id"], "invalid_event")
    ]
    request_id = response.headers["x-request-id"]
    records = await partner_records_for(endpoints.bootstrap_servers, request_id)
    published = {orjson.loads(r.value)["event_id"]: r for r in records}
    assert set(published) == {good1["event_id"], good2["event_id"]}
    assert published[good1["event_id"]].key == good1["subject"]["child_id"].encode()
    row = await audit_row(dsn, request_id)
    assert (row["status"], row["outcome"], row["agency"], row["credential_id"]) == (
        207,
        "partially_accepted",
        "education",
        credential_id,
    )
    assert row["client_addr"] == "198.51.100.20"
    assert sorted(map(str, row["accepted_ids"])) == sorted([good1["event_id"], good2["event_id"]])
    assert [str(i) for i in row["rejected_ids"]] == [bad["event_id"]]


# -- a 202 survives the broker: PostgreSQL holds it, the sweeper or intake's catch-up delivers it -


class _NeverRelays:
    """A relay that sends nothing: as if the process died between the commit and the relay."""

    async def relay(self, rows: Sequence[OutboxRow]) -> None:
        return None


def _without_relay(app: FastAPI) -> None:
    app.state.handler.relay = _NeverRelays()


def _handled(log_path: Path, event_id: uuid.UUID) -> list[dict[str, Any]]:
    """Intake's canonical lines for ``event_id`` (offset -1: read from the outbox, not Kafka)."""
    lines = [orjson.loads(line) for line in log_path.read_bytes().splitlines() if line[:1] == b"{"]
    return [
        line
        for line in lines
        if line.get("event") == "record_handled" and line.get("event_id") == str(event_id)
    ]


@pytest.mark.parametrize("kill", ["immediately", "after_the_relay", "before_the_relay"])
def test_a_202_survives_a_broker_sigkill_right_after_it_and_reaches_events_once(
    kill: str, infra: Infrastructure, endpoints: Endpoints, workers: Workers
) -> None:
    """The broker is SIGKILLed right after the 202, then restarted empty; intake and a fresh
    ingress (its outbox sweeper) start. ``immediately``: whatever the relay had done by then;
    ``after_the_relay``: the broker had the record and forgot it, so intake catches it up from
    the outbox; ``before_the_relay``: the broker never had it, so the sweeper sends it. (A sync
    test: ``restart_broker`` must run on the main thread, whose death the broker follows.)"""
    broker = infra.broker
    if broker is None:
        pytest.skip("the broker is not embedded here, so this test cannot kill it")
    event = contact(at=datetime.now(UTC))
    event_id = uuid.UUID(event["event_id"])

    async def query(sql: str) -> Any:
        conn = await asyncpg.connect(endpoints.database_url)
        try:
            return await conn.fetchval(sql, event_id)
        finally:
            await conn.close()

    async def relayed() -> bool:
        return bool(
            await query(
                "SELECT relayed_at IS NOT NULL FROM outbox "
                "WHERE producer = 'ingress' AND event_id = $1"
            )
        )

    async def recorded() -> int:
        n: int = await query("SELECT count(*) FROM events WHERE event_id = $1")
        return n

    async def submit_then_kill() -> bool:
        started = _without_relay if kill == "before_the_relay" else None
        async with serving(endpoints, started=started) as (client, admin):
            _, auth = await new_key(admin, Agency.EDUCATION)
            response = await client.post("/v1/events", json=event, headers=auth)
            assert response.status_code == 202, response.text
            if kill == "after_the_relay":
                await wait_until(relayed, timeout=30)
            os.kill(broker.process.pid, signal.SIGKILL)
        stored = await query(
            "SELECT count(*) FROM outbox WHERE producer = 'ingress' AND event_id = $1"
        )
        assert stored == 1  # the 202 is PostgreSQL's, whatever the broker did
        return await relayed()

    async def recover() -> None:
        async with serving(endpoints):  # a fresh ingress: its lifespan runs the outbox sweeper
            assert await wait_until(recorded, timeout=60) == 1
            await wait_until(relayed, timeout=60)
            await asyncio.sleep(3)  # more sweeps and catch-up passes: nothing applied again

    relayed_before_the_kill = asyncio.run(submit_then_kill())
    if kill != "immediately":
        assert relayed_before_the_kill is (kill == "after_the_relay")
    infra.restart_broker()  # empty, topics created again
    intake = workers.start("intake", FRONTDOOR_CATCHUP_INTERVAL="1")
    asyncio.run(recover())
    assert intake.poll() is None, "the intake worker exited"

    assert asyncio.run(recorded()) == 1
    claims = asyncio.run(
        query("SELECT count(*) FROM processed_events WHERE consumer = 'intake' AND event_id = $1")
    )
    routed = asyncio.run(
        query("SELECT count(*) FROM outbox WHERE producer = 'intake' AND event_id = $1")
    )
    assert (claims, routed) == (1, 1)  # intake handled it once and routed it once
    handled = [
        line
        for line in _handled(workers.log_dir / "intake-0.log", event_id)
        if line["outcome"] == "handled"
    ]
    assert len(handled) == 1, handled
    read_from_outbox = handled[0]["offset"] == -1
    if relayed_before_the_kill:
        # the broker forgot it and nothing sent it again: only intake's catch-up can deliver it
        assert read_from_outbox
    sent_by = "the relay before the kill" if relayed_before_the_kill else "the sweeper afterwards"
    read_by = "catch-up from the outbox" if read_from_outbox else "reading partner.events"
    print(f"[{kill}] sent to the broker by {sent_by}; intake handled it by {read_by}")


def test_a_running_ingress_sweeper_sends_a_202_given_while_the_broker_was_dead(
    infra: Infrastructure, endpoints: Endpoints, workers: Workers, tmp_path: Path
) -> None:
    """Ingress stays up through the broker's death: the submission is 202 at once, its relay
    gives up after the publish timeout, and the same process's sweeper sends it once the
    restarted broker answers."""
    broker = infra.broker
    if broker is None:
        pytest.skip("the broker is not embedded here, so this test cannot kill it")
    event = contact(at=datetime.now(UTC))
    event_id = uuid.UUID(event["event_id"])
    log_path = tmp_path / "ingress-up.log"

    async def issue_key() -> dict[str, str]:
        pool = await create_pool(endpoints.database_url, max_size=1)
        try:
            admin = CredentialAdmin(PostgresCredentialStore(pool), clock=lambda: datetime.now(UTC))
            return (await new_key(admin, Agency.EDUCATION))[1]
        finally:
            await pool.close()

    async def delivered() -> tuple[bool, int]:
        conn = await asyncpg.connect(endpoints.database_url)
        try:
            sent = await conn.fetchval(
                "SELECT relayed_at IS NOT NULL FROM outbox "
                "WHERE producer = 'ingress' AND event_id = $1",
                event_id,
            )
            n = await conn.fetchval("SELECT count(*) FROM events WHERE event_id = $1", event_id)
            return bool(sent), n
        finally:
            await conn.close()

    auth = asyncio.run(issue_key())
    with uvicorn_ingress(endpoints, log_path, FRONTDOOR_INGRESS_PUBLISH_TIMEOUT_SECONDS="1") as url:
        os.kill(broker.process.pid, signal.SIGKILL)
        response = httpx.post(f"{url}/v1/events", json=event, headers=auth, timeout=30)
        assert response.status_code == 202, response.text
        time.sleep(3)  # past the relay's timeout: only the sweeper can send it now
        assert asyncio.run(delivered()) == (False, 0)
        infra.restart_broker()

        async def sent() -> bool:
            return (await delivered())[0]

        # nothing else runs yet (every worker's sweeper relays any producer's rows)
        asyncio.run(wait_until(sent, timeout=90))
        workers.start("intake")

        async def reached_events() -> bool:
            return (await delivered())[1] == 1

        asyncio.run(wait_until(reached_events, timeout=90))
    lines = [orjson.loads(line) for line in log_path.read_bytes().splitlines() if line[:1] == b"{"]
    events = [line.get("event") for line in lines]
    assert "ingress_relay_deferred" in events
    assert "outbox_relayed_late" in events  # the sweeper of the very same process
    assert asyncio.run(delivered()) == (True, 1)


async def test_every_refusal_is_answered_as_documented_and_audited(
    endpoints: Endpoints, dsn: str
) -> None:
    async with serving(
        endpoints,
        rate_per_second=1,
        burst=5,
        max_batch=5,
        max_body_bytes=64 * 1024,
        max_event_bytes=32 * 1024,
    ) as (client, admin):
        credential_id, auth = await new_key(admin, Agency.EDUCATION)
        revoked_id, revoked_auth = await new_key(admin, Agency.EDUCATION)
        await admin.revoke(revoked_id)
        icpc = {**contact(), "event_type": "conference.icpc_held", "schema_version": 1}
        json_headers = {**auth, "Content-Type": "application/json"}
        cases: Sequence[tuple[int, str, httpx.Response]] = [
            (401, "missing_credentials", await client.post("/v1/events", json=contact())),
            (
                401,
                "credential_revoked",
                await client.post("/v1/events", json=contact(), headers=revoked_auth),
            ),
            (
                403,
                "agency_mismatch",
                await client.post("/v1/events", json=da_notification(), headers=auth),
            ),
            (
                403,
                "event_type_not_permitted",
                await client.post("/v1/events", json=icpc, headers=auth),
            ),
            (
                413,
                "body_too_large",
                await client.post("/v1/events", content=b" " * (65 * 1024), headers=json_headers),
            ),
            (
                400,
                "malformed_json",
                await client.post("/v1/events", content=b"{", headers=json_headers),
            ),
            (
                429,
                "rate_limited",
                await client.post("/v1/events", json={"events": [contact()] * 5}, headers=auth),
            ),
        ]
    for status, code, response in cases:
        assert response.status_code == status, (code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code
        row = await audit_row(dsn, response.headers["x-request-id"])
        assert (row["status"], row["code"]) == (status, code)
        assert row["events_accepted"] == 0
    assert cases[1][2].json()["code"] == "credential_revoked"
    assert (await audit_row(dsn, cases[1][2].headers["x-request-id"]))[
        "credential_id"
    ] == revoked_id
    assert (await audit_row(dsn, cases[2][2].headers["x-request-id"]))[
        "credential_id"
    ] == credential_id
    assert cases[6][2].headers["retry-after"]


def test_agencies_cli_issues_lists_rotates_and_revokes_keys(endpoints: Endpoints) -> None:
    runner = CliRunner()
    db = ["--database", endpoints.database_url]
    added = runner.invoke(agencies_app, ["add", "health", "--name", "gp-system", *db])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip()
    assert key.startswith("fd_")
    credential_id = key.split("_")[1]
    assert "shown once" in added.stderr

    listed = runner.invoke(agencies_app, ["list", "--json", *db])
    assert listed.exit_code == 0, listed.output
    rows = {r["credential_id"]: r for r in orjson.loads(listed.stdout)}
    assert rows[credential_id]["agency"] == "health"
    assert rows[credential_id]["status"] == "active"
    assert key.split("_", 2)[2] not in listed.stdout
    assert "argon2" not in listed.stdout

    rotated = runner.invoke(agencies_app, ["rotate", credential_id, "--grace", "1h", "--json", *db])
    assert rotated.exit_code == 0, rotated.output
    new = orjson.loads(rotated.stdout)
    assert new["agency"] == "health"
    assert new["key"].startswith(f"fd_{new['credential_id']}_")

    revoked = runner.invoke(agencies_app, ["revoke", credential_id, *db])
    assert revoked.exit_code == 0, revoked.output
    rows = {
        r["credential_id"]: r
        for r in orjson.loads(runner.invoke(agencies_app, ["list", "--json", *db]).stdout)
    }
    assert rows[credential_id]["status"] == "revoked"
    assert rows[credential_id]["replaced_by"] == new["credential_id"]
    assert rows[new["credential_id"]]["status"] == "active"

    async def submit(presented: str) -> int:
        async with serving(endpoints) as (client, _):
            event = contact()
            event["source"]["agency"] = "health"
            response = await client.post(
                "/v1/events", json=event, headers={"Authorization": f"Bearer {presented}"}
            )
            return response.status_code

    assert asyncio.run(submit(key)) == 401
    assert asyncio.run(submit(new["key"])) == 202

    unknown = runner.invoke(agencies_app, ["revoke", "0123456789abcdef", *db])
    assert unknown.exit_code == 1


# -- end to end: HTTP → partner.events → intake → events → SLA timer ----------------------------


@contextmanager
def uvicorn_ingress(endpoints: Endpoints, log_path: Path, **env: str) -> Iterator[str]:
    """``frontdoor worker ingress``'s code in a subprocess; its base URL."""
    port = free_port()
    code = (
        "from services.common.logging import configure_logging\n"
        "from services.common.settings import resolve_endpoints\n"
        "from services.ingress.bootstrap import run\n"
        "configure_logging()\n"
        f"run(resolve_endpoints(), port={port})\n"
    )
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            env={
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
                "DATABASE_URL": endpoints.database_url,
                "FRONTDOOR_LOG_FORMAT": "json",
                "FRONTDOOR_INGRESS_AUTH_CACHE_TTL_SECONDS": "0",
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture
def ingress_server(endpoints: Endpoints, tmp_path: Path) -> Iterator[str]:
    with uvicorn_ingress(endpoints, tmp_path / "ingress.log") as url:
        yield url


async def test_an_http_contact_reaches_the_events_table_and_starts_its_sla_timer(
    endpoints: Endpoints, dsn: str, workers: Workers, ingress_server: str
) -> None:
    workers.start("intake")
    workers.start("sla")
    pool = await create_pool(dsn, max_size=2)
    try:
        admin = CredentialAdmin(PostgresCredentialStore(pool), clock=lambda: datetime.now(UTC))
        _, auth = await new_key(admin, Agency.EDUCATION)
        event = contact(at=datetime.now(UTC))  # a current contact: its 1-working-day clock is open
        async with httpx.AsyncClient(base_url=ingress_server, timeout=30) as client:
            response = await client.post("/v1/events", json=event, headers=auth)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == [event["event_id"]]

        async def recorded() -> asyncpg.Record | None:
            return await pool.fetchrow(
                "SELECT source_agency, child_id FROM events WHERE event_id = $1",
                uuid.UUID(event["event_id"]),
            )

        row = await wait_until(recorded, timeout=90)
        assert tuple(row) == ("education", event["subject"]["child_id"])  # type: ignore[arg-type]

        async def timer() -> asyncpg.Record | None:
            return await pool.fetchrow(
                "SELECT kind, status, subject_ref, due_at FROM sla_timers WHERE child_id = $1",
                event["subject"]["child_id"],
            )

        started = await wait_until(timer, timeout=90)
        assert started["kind"] == "screening_decision"  # type: ignore[index]
        assert started["status"] == "open"  # type: ignore[index]
        assert started["due_at"] > datetime.now(UTC)  # type: ignore[index]
        assert event["payload"]["contact_id"] in started["subject_ref"]  # type: ignore[index]
    finally:
        await pool.close()
