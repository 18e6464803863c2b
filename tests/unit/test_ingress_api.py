"""Partner ingress over HTTP with in-memory ports: every documented answer, audited and logged.

A 202 stands on the store alone: the audit row and the events' outbox rows commit together (the
pipeline's ``MemoryLedger`` here), the answer goes, and only then the rows are relayed; a broker
that is away or slow leaves them to the outbox sweeper, never to the partner.

``Harness`` (the app wired to fakes, a manual clock and cheap argon2) is shared with
``test_ingress_auth``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import orjson
from argon2 import PasswordHasher
from structlog.testing import capture_logs

from schemas.envelope import Agency
from schemas.topics import PARTNER_EVENTS
from services.common.ledger import MemoryLedger
from services.common.outbox import OutboxRow, RecordingSender, Relay, partition_for
from services.common.publishing import OutRecord
from services.ingress.adapters.memory import (
    MemoryAuditLog,
    MemoryCredentialStore,
    MemoryRateLimit,
)
from services.ingress.api import create_app
from services.ingress.audit import AuditEntry
from services.ingress.auth import Authenticator
from services.ingress.config import IngressSettings
from services.ingress.credentials import CredentialAdmin, verify_secret
from services.ingress.handlers import IncomingRequest, IngressHandler, Limits
from services.ingress.ports import AuthFailures
from services.ingress.responses import Problem
from tests.factories import contact, da_notification

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PROBLEM = "application/problem+json"


class FakeClock:
    def __init__(self) -> None:
        self.wall = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
        self.mono = 1_000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


class FailingSender(RecordingSender):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
        raise self.error


class GatedSender(RecordingSender):
    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
        await self.gate.wait()
        await super().send(rows, timestamp_ms=timestamp_ms)


class BrokenStore(MemoryCredentialStore):
    async def get(self, credential_id: str) -> None:
        raise OSError("database gone")


class FailingAudit(MemoryAuditLog):
    async def record(self, entry: AuditEntry) -> None:
        raise OSError("database gone")


class GatedAudit(MemoryAuditLog):
    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def accept(self, entry: AuditEntry, rows: Sequence[OutboxRow]) -> Sequence[OutboxRow]:
        await self.gate.wait()
        return await super().accept(entry, rows)


@dataclass
class Harness:
    ttl: float = 0.0
    rate: float = 10_000.0
    burst: int = 10_000
    max_body_bytes: int = 1024 * 1024
    max_event_bytes: int = 256 * 1024
    max_batch: int = 500
    publish_timeout: float = 5.0
    sender: RecordingSender = field(default_factory=RecordingSender)
    audit: MemoryAuditLog = field(default_factory=MemoryAuditLog)
    store: MemoryCredentialStore = field(default_factory=MemoryCredentialStore)
    clock: FakeClock = field(default_factory=FakeClock)
    verifications: int = 0
    failures: AuthFailures | None = None

    def __post_init__(self) -> None:
        self.ledger: MemoryLedger = self.audit.ledger
        self.relay = Relay(self.ledger, self.sender, sweep_after_seconds=0)
        self.admin = CredentialAdmin(self.store, clock=self.clock.now, hasher=CHEAP.hash)
        settings = IngressSettings.model_construct(max_batch=self.max_batch)
        self.handler = IngressHandler(
            authenticator=Authenticator(
                self.store,
                ttl_seconds=self.ttl,
                clock=self.clock.now,
                monotonic=self.clock.monotonic,
                verify=self._verify,
                failures=self.failures,
            ),
            audit=self.audit,
            relay=self.relay,
            limiter=MemoryRateLimit(
                rate=self.rate, burst=self.burst, monotonic=self.clock.monotonic
            ),
            roles=settings.role_table(),
            limits=Limits(
                max_body_bytes=self.max_body_bytes,
                max_batch=self.max_batch,
                max_event_bytes=self.max_event_bytes,
                publish_timeout_seconds=self.publish_timeout,
            ),
            clock=self.clock.now,
            monotonic=self.clock.monotonic,
        )
        self.app = create_app(settings, handler=self.handler)

    async def _verify(self, secret_hash: str, secret: str) -> bool:
        self.verifications += 1
        return verify_secret(secret_hash, secret)

    async def key(self, agency: Agency) -> tuple[str, str]:
        credential, key = await self.admin.add(agency, "test")
        return credential.credential_id, key.text

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("203.0.113.7", 4711)),
            base_url="http://ingress.test",
        )

    async def post(
        self, key: str | None, body: Any, *, relayed: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """POST ``body``; with ``relayed``, also wait for the relay that follows the answer."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        headers.update(kwargs.pop("headers", {}))
        async with self.client() as client:
            if not isinstance(body, dict):
                headers.setdefault("Content-Type", "application/json")
                response = await client.post("/v1/events", content=body, headers=headers, **kwargs)
            else:
                response = await client.post("/v1/events", json=body, headers=headers, **kwargs)
        if relayed:
            await self.handler.drain()
        return response

    @property
    def published(self) -> list[OutRecord]:
        """What reached the broker (the relay's sender)."""
        return self.sender.records

    def outbox(self, *, relayed: bool | None = None) -> list[OutboxRow]:
        """Committed outbox rows; ``relayed`` picks the sent (True) or unsent (False) ones."""
        return [
            s.row
            for s in self.ledger.outbox
            if relayed is None or (s.relayed_at is not None) == relayed
        ]


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code)
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == f"urn:uuid:{response.headers['x-request-id']}"
    return body


# -- accepted --------------------------------------------------------------------------------


async def test_an_accepted_event_is_published_to_partner_events_keyed_by_child() -> None:
    h = Harness()
    credential_id, key = await h.key(Agency.EDUCATION)
    event = contact()
    response = await h.post(key, event)
    assert response.status_code == 202
    assert response.json() == {"accepted": [event["event_id"]], "rejected": []}
    (record,) = h.published
    assert record.topic == PARTNER_EVENTS.name
    assert record.key == event["subject"]["child_id"].encode()
    assert orjson.loads(record.value or b"")["event_id"] == event["event_id"]
    headers = dict(record.headers)
    assert headers["event_type"] == b"contact.received"
    assert headers["ingress.agency"] == b"education"
    assert headers["ingress.credential_id"] == credential_id.encode()
    assert headers["ingress.request_id"] == response.headers["x-request-id"].encode()


async def test_an_accepted_event_is_an_outbox_row_with_its_id_type_and_partition() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    await h.post(key, event)
    (row,) = h.outbox(relayed=True)
    assert (str(row.event_id), row.event_type) == (event["event_id"], "contact.received")
    assert row.topic == PARTNER_EVENTS.name
    child = event["subject"]["child_id"].encode()
    assert row.partition == partition_for(PARTNER_EVENTS.name, child)  # Kafka's default
    assert h.published[0].value == row.value


async def test_202_is_sent_only_after_the_events_and_their_audit_row_committed() -> None:
    audit = GatedAudit()
    h = Harness(audit=audit)
    _, key = await h.key(Agency.EDUCATION)
    pending = asyncio.ensure_future(h.post(key, contact()))
    await asyncio.sleep(0.1)
    assert not pending.done()
    assert h.outbox() == []
    assert h.audit.entries == []
    audit.gate.set()
    response = await pending
    assert response.status_code == 202
    assert len(h.outbox()) == 1
    assert len(h.audit.entries) == 1


async def test_202_does_not_wait_for_the_broker() -> None:
    sender = GatedSender()
    h = Harness(sender=sender)
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    response = await asyncio.wait_for(h.post(key, event, relayed=False), timeout=5)
    assert response.status_code == 202
    assert h.published == []
    (row,) = h.outbox(relayed=False)  # committed, not yet relayed
    assert str(row.event_id) == event["event_id"]
    sender.gate.set()
    await h.handler.drain()
    assert len(h.published) == 1
    assert h.outbox(relayed=False) == []


async def test_every_request_leaves_one_audit_row_with_who_what_and_where() -> None:
    h = Harness()
    credential_id, key = await h.key(Agency.EDUCATION)
    event = contact()
    response = await h.post(key, event)
    (entry,) = h.audit.entries
    assert str(entry.request_id) == response.headers["x-request-id"]
    assert entry.agency == "education"
    assert entry.credential_id == credential_id
    assert entry.client_addr == "203.0.113.7"
    assert entry.status == 202
    assert entry.outcome == "accepted"
    assert [str(i) for i in entry.accepted_ids] == [event["event_id"]]
    assert entry.received_at == h.clock.wall


# -- batches ---------------------------------------------------------------------------------


async def test_a_batch_with_one_bad_event_accepts_the_good_ones_with_207() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    good1, bad, good2 = contact(), contact(), contact()
    bad["payload"]["referral_source"] = "ZZ"
    response = await h.post(key, {"events": [good1, bad, good2]})
    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == [good1["event_id"], good2["event_id"]]
    (rejected,) = body["rejected"]
    assert rejected["index"] == 1
    assert rejected["event_id"] == bad["event_id"]
    assert rejected["status"] == 422
    assert rejected["code"] == "invalid_event"
    assert ["payload", "referral_source"] in [e["loc"] for e in rejected["errors"]]
    published = [orjson.loads(r.value or b"")["event_id"] for r in h.published]
    assert published == [good1["event_id"], good2["event_id"]]
    assert [str(r.event_id) for r in h.outbox()] == [good1["event_id"], good2["event_id"]]
    (entry,) = h.audit.entries
    assert entry.outcome == "partially_accepted"
    assert [str(i) for i in entry.rejected_ids] == [bad["event_id"]]


async def test_a_batch_with_every_event_rejected_is_a_problem_listing_each() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    spoof, invalid = da_notification(), contact()
    del invalid["payload"]["contact_at"]
    response = await h.post(key, {"events": [spoof, invalid]})
    body = problem(response, 422, "events_rejected")
    assert body["accepted"] == []
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (0, "agency_mismatch"),
        (1, "invalid_event"),
    ]
    assert ["events", 1, "payload", "contact_at"] in [e["loc"] for e in body["errors"]]
    assert h.published == []


async def test_a_batch_of_only_spoofed_events_is_forbidden() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    response = await h.post(key, {"events": [da_notification(), da_notification()]})
    problem(response, 403, "agency_mismatch")


async def test_a_batch_over_the_event_limit_is_413() -> None:
    h = Harness(max_batch=3)
    _, key = await h.key(Agency.EDUCATION)
    response = await h.post(key, {"events": [contact() for _ in range(4)]})
    problem(response, 413, "too_many_events")
    assert h.published == []


# -- forbidden -------------------------------------------------------------------------------


async def test_a_spoofed_agency_is_403_and_audited() -> None:
    h = Harness()
    credential_id, key = await h.key(Agency.EDUCATION)
    event = da_notification()  # source.agency = police
    response = await h.post(key, event)
    body = problem(response, 403, "agency_mismatch")
    assert body["rejected"][0]["event_id"] == event["event_id"]
    assert h.published == []
    (entry,) = h.audit.entries
    assert (entry.status, entry.code, entry.credential_id) == (
        403,
        "agency_mismatch",
        credential_id,
    )
    assert [str(i) for i in entry.rejected_ids] == [event["event_id"]]


async def test_a_school_submitting_an_icpc_is_403() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    event.update(event_type="conference.icpc_held", schema_version=1)
    response = await h.post(key, event)
    body = problem(response, 403, "event_type_not_permitted")
    assert body["errors"][0]["loc"] == ["event_type"]
    assert h.published == []


async def test_the_police_may_send_a_da_notification() -> None:
    h = Harness()
    _, key = await h.key(Agency.POLICE)
    response = await h.post(key, da_notification())
    assert response.status_code == 202


# -- limits ----------------------------------------------------------------------------------


async def test_an_oversized_body_is_413_before_it_is_parsed() -> None:
    h = Harness(max_body_bytes=2048)
    _, key = await h.key(Agency.EDUCATION)
    response = await h.post(key, b"{" * 4096)  # not JSON either: size is judged first
    problem(response, 413, "body_too_large")
    assert h.audit.entries[0].status == 413


async def test_an_oversized_streamed_body_without_length_is_413() -> None:
    h = Harness(max_body_bytes=2048)
    _, key = await h.key(Agency.EDUCATION)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    response = await h.post(key, chunks(), headers={"Content-Type": "application/json"})
    problem(response, 413, "body_too_large")


async def test_an_event_over_the_per_event_limit_is_413() -> None:
    h = Harness(max_event_bytes=1024)
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    event["payload"]["summary"] = "x" * 2000
    response = await h.post(key, event)
    problem(response, 413, "event_too_large")


async def test_malformed_json_is_400() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    problem(await h.post(key, b'{"event_id": '), 400, "malformed_json")


async def test_a_body_that_is_not_json_is_415() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    response = await h.post(key, b"event_id=1", headers={"Content-Type": "text/plain"})
    problem(response, 415, "unsupported_media_type")


async def test_over_the_rate_limit_is_429_with_retry_after_and_nothing_published() -> None:
    h = Harness(rate=10, burst=10)
    _, key = await h.key(Agency.EDUCATION)
    _, other = await h.key(Agency.HEALTH)
    assert (await h.post(key, {"events": [contact() for _ in range(8)]})).status_code == 202
    response = await h.post(key, {"events": [contact() for _ in range(5)]})
    problem(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "1"  # 3 tokens short at 10/s
    assert len(h.published) == 8
    health_contact = contact()
    health_contact["source"]["agency"] = "health"
    assert (await h.post(other, health_contact)).status_code == 202
    h.clock.advance(1)
    assert (await h.post(key, {"events": [contact() for _ in range(5)]})).status_code == 202


# -- failures --------------------------------------------------------------------------------


async def test_a_broker_failure_after_the_commit_is_still_202_and_the_sweeper_sends_it() -> None:
    h = Harness(sender=FailingSender(ConnectionError("broker gone")))
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    with capture_logs() as logs:
        response = await h.post(key, event)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == [event["event_id"]]
    (entry,) = h.audit.entries
    assert (entry.outcome, [str(i) for i in entry.accepted_ids]) == (
        "accepted",
        [event["event_id"]],
    )
    (deferred,) = [e for e in logs if e["event"] == "ingress_relay_deferred"]
    assert (deferred["rows"], deferred["error_class"]) == (1, "ConnectionError")
    (row,) = h.outbox(relayed=False)
    # the broker is back: the sweeper (Relay.sweep_forever in the ingress process) sends it
    back = RecordingSender()
    assert await Relay(h.ledger, back, sweep_after_seconds=0).sweep_once() == 1
    assert [r.event_id for r in back.rows] == [row.event_id]
    assert h.outbox(relayed=False) == []


async def test_a_broker_that_does_not_answer_in_time_leaves_the_events_to_the_sweeper() -> None:
    h = Harness(sender=GatedSender(), publish_timeout=0.05)
    _, key = await h.key(Agency.EDUCATION)
    with capture_logs() as logs:
        response = await h.post(key, contact())
    assert response.status_code == 202
    assert [e["error_class"] for e in logs if e["event"] == "ingress_relay_deferred"] == [
        "TimeoutError"
    ]
    assert len(h.outbox(relayed=False)) == 1


async def test_accepted_events_that_cannot_be_stored_are_not_confirmed_nor_sent() -> None:
    h = Harness(audit=FailingAudit())
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    with capture_logs() as logs:
        response = await h.post(key, event)
    body = problem(response, 503, "store_unavailable")
    assert "accepted" not in body
    assert response.headers["retry-after"]
    assert h.outbox() == []  # the audit row failed, so the transaction kept no outbox row
    assert h.published == []
    (failed,) = [e for e in logs if e["event"] == "ingress_store_failed"]
    assert (failed["events"], failed["error_class"]) == (1, "OSError")


async def test_a_submission_that_cannot_be_stored_is_audited_as_failed_and_unconfirmed() -> None:
    class AcceptFails(MemoryAuditLog):
        async def accept(self, entry: AuditEntry, rows: Sequence[OutboxRow]) -> Sequence[OutboxRow]:
            raise OSError("connection lost")

    h = Harness(audit=AcceptFails())
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    problem(await h.post(key, event), 503, "store_unavailable")
    (entry,) = h.audit.entries
    assert (entry.status, entry.outcome, entry.code) == (503, "failed", "store_unavailable")
    assert entry.accepted_ids == ()
    assert [str(i) for i in entry.unconfirmed_ids] == [event["event_id"]]


async def test_an_unreachable_credential_store_is_503_and_still_audited() -> None:
    h = Harness(store=BrokenStore())
    response = await h.post("fd_0123456789abcdef_" + "x" * 43, contact())
    problem(response, 503, "auth_unavailable")
    assert response.headers["retry-after"]
    assert h.audit.entries[0].status == 503


async def test_a_relay_error_of_any_kind_is_logged_and_not_the_partners_problem() -> None:
    h = Harness(sender=FailingSender(RuntimeError("bug")))
    _, key = await h.key(Agency.EDUCATION)
    with capture_logs() as logs:
        response = await h.post(key, contact())
    assert response.status_code == 202
    assert h.audit.entries[-1].outcome == "accepted"
    assert [e["error_class"] for e in logs if e["event"] == "ingress_relay_deferred"] == [
        "RuntimeError"
    ]
    assert len(h.outbox(relayed=False)) == 1


async def test_an_unexpected_error_is_a_500_problem_and_still_audited() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)

    async def broken_body(limit: int) -> bytes | None:
        raise RuntimeError("bug")

    request = IncomingRequest(f"Bearer {key}", "application/json", broken_body, None, uuid4())
    with capture_logs() as logs:
        reply = await h.handler.handle(request)
    (error,) = [entry for entry in logs if entry["event"] == "ingress_internal_error"]
    assert error["error_class"] == "RuntimeError"
    assert "exc_info" not in error
    assert reply.answer.status == 500
    assert isinstance(reply.answer.body, Problem)
    assert reply.answer.body.code == "internal_error"
    assert h.audit.entries[-1].status == 500
    assert h.audit.entries[-1].agency == "education"


async def test_an_audit_failure_is_logged_and_counted_with_the_status_sent() -> None:
    h = Harness(audit=FailingAudit())
    _, key = await h.key(Agency.EDUCATION)
    with capture_logs() as logs:
        await h.post(key, contact())
    (line,) = [entry for entry in logs if entry["event"] == "ingress_request"]
    assert (line["status"], line["code"], line["accepted"]) == (503, "store_unavailable", 0)


async def test_an_audit_failure_does_not_change_a_refusal() -> None:
    h = Harness(audit=FailingAudit())
    problem(await h.post(None, contact()), 401, "missing_credentials")


# -- logs, health, other routes ----------------------------------------------------------------


async def test_one_canonical_log_line_per_request_without_personal_data() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    with capture_logs() as logs:
        await h.post(key, {"events": [event, da_notification()]})
    lines = [entry for entry in logs if entry["event"] == "ingress_request"]
    assert len(lines) == 1
    line = lines[0]
    assert (line["status"], line["accepted"], line["rejected"]) == (207, 1, 1)
    rendered = repr(logs)
    for personal in ("Alex", "Example", "hungry", "2017-05-01", event["subject"]["child_id"]):
        assert personal not in rendered


async def test_healthz_is_ok_when_ready_and_503_when_not() -> None:
    h = Harness()
    async with h.client() as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
    not_ready = create_app(IngressSettings.model_construct())
    transport = httpx.ASGITransport(app=not_ready)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        problem(await client.get("/healthz"), 503, "not_ready")
        problem(await client.post("/v1/events", json=contact()), 503, "not_ready")


async def test_unknown_paths_and_methods_answer_with_problems() -> None:
    h = Harness()
    async with h.client() as client:
        problem(await client.get("/v2/events"), 404, "not_found")
        response = await client.get("/v1/events")
        problem(response, 405, "method_not_allowed")
        assert "POST" in response.headers["allow"]


async def test_metrics_count_requests_and_events_by_agency() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    await h.post(key, {"events": [contact(), da_notification()]})
    async with h.client() as client:
        text = (await client.get("/metrics")).text
    assert 'frontdoor_ingress_events_total{agency="education",result="accepted"} 1.0' in text
    assert 'frontdoor_ingress_events_total{agency="education",result="rejected"} 1.0' in text
    assert 'frontdoor_ingress_requests_total{agency="education",code="",status="207"} 1.0' in text
