"""Ingress's shared state on a real PostgreSQL, with TWO production app instances on one database.

What one replica decides, the other honours (issue 11 §2): an event id taken on one is refused
for other content on the other (409) and is an idempotent 202 for the same content; a race of
two different contents under one id ends with exactly one stored; the agency's token bucket is
one bucket; failed authentications counted on one throttle the other, before any argon2 work.
And an unknown credential id costs what a known one with a wrong secret costs (median timing).
"""

from __future__ import annotations

import asyncio
import copy
import statistics
import time
import uuid
from typing import Any

import asyncpg
import pytest

from schemas.envelope import Agency
from services.common import authentication as auth
from services.common.settings import Endpoints
from services.ingress.credentials import verify_secret
from tests.factories import contact
from tests.integration.test_ingress import new_key, serving

pytestmark = pytest.mark.integration

TIMING_SAMPLES = 7


def _address() -> str:
    """A client address of its own per test: the failure counters are per address."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


async def test_a_reused_event_id_is_409_on_the_other_replica_and_a_repeat_is_202(
    endpoints: Endpoints,
) -> None:
    addr = _address()
    async with (
        serving(endpoints, client_addr=addr) as (a, admin),
        serving(endpoints, client_addr=addr) as (b, _),
    ):
        _, headers = await new_key(admin, Agency.EDUCATION)
        event = contact()
        assert (await a.post("/v1/events", json=event, headers=headers)).status_code == 202
        repeat = await b.post("/v1/events", json=event, headers=headers)
        assert repeat.status_code == 202, repeat.text
        changed = copy.deepcopy(event)
        changed["payload"]["summary"] = "Another account under the same id."
        refused = await b.post("/v1/events", json=changed, headers=headers)
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "event_id_reused"
        assert "Another account" not in refused.text
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        rows = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE producer = 'ingress' AND event_id = $1",
            uuid.UUID(event["event_id"]),
        )
    finally:
        await conn.close()
    assert rows == 1  # the repeat was not stored again, the reuse not at all


async def test_two_contents_racing_under_one_id_store_exactly_one(endpoints: Endpoints) -> None:
    addr = _address()
    async with (
        serving(endpoints, client_addr=addr) as (a, admin),
        serving(endpoints, client_addr=addr) as (b, _),
    ):
        _, headers = await new_key(admin, Agency.EDUCATION)
        for _round in range(5):
            first = contact()
            second = copy.deepcopy(first)
            second["payload"]["summary"] = "A different account."
            answers = await asyncio.gather(
                a.post("/v1/events", json=first, headers=headers),
                b.post("/v1/events", json=second, headers=headers),
            )
            assert sorted(r.status_code for r in answers) == [202, 409], [r.text for r in answers]


async def test_the_agency_rate_limit_is_one_bucket_across_replicas(endpoints: Endpoints) -> None:
    limits: dict[str, Any] = {"rate_per_second": 0.01, "burst": 5, "max_batch": 5}
    addr = _address()
    async with (
        serving(endpoints, client_addr=addr, **limits) as (a, admin),
        serving(endpoints, client_addr=addr, **limits) as (b, _),
    ):
        _, headers = await new_key(admin, Agency.HEALTH)
        three = {"events": [contact() for _ in range(3)]}
        for e in three["events"]:
            e["source"]["agency"] = "health"
        assert (await a.post("/v1/events", json=three, headers=headers)).status_code == 202
        again = {"events": copy.deepcopy(three["events"])}
        for e in again["events"]:
            e["event_id"] = str(uuid.uuid4())
        limited = await b.post("/v1/events", json=again, headers=headers)
        assert limited.status_code == 429, limited.text  # 2 tokens left, on either replica
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1


async def test_failed_authentications_on_one_replica_throttle_the_other_before_argon2(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []

    def counting(secret_hash: str, secret: str) -> bool:
        verified.append(secret_hash)
        return verify_secret(secret_hash, secret)

    monkeypatch.setattr(auth, "verify_secret", counting)
    limits: dict[str, Any] = {"auth_failures_per_credential": 3, "auth_failures_per_addr": 50}
    addr = _address()
    async with (
        serving(endpoints, client_addr=addr, **limits) as (a, admin),
        serving(endpoints, client_addr=addr, **limits) as (b, _),
    ):
        _, headers = await new_key(admin, Agency.EDUCATION)
        wrong = {"Authorization": headers["Authorization"][:-4] + "AAAA"}
        for _ in range(3):
            assert (await a.post("/v1/events", json=contact(), headers=wrong)).status_code == 401
        assert len(verified) == 3
        throttled = await b.post("/v1/events", json=contact(), headers=wrong)
        assert throttled.status_code == 429, throttled.text
        assert throttled.json()["code"] == "authentication_throttled"
        assert int(throttled.headers["retry-after"]) >= 1
        # the right key for a throttled id waits too: the counter is per credential id
        assert (await b.post("/v1/events", json=contact(), headers=headers)).status_code == 429
    assert len(verified) == 3  # no argon2 verification for a throttled request


async def test_an_unknown_credential_id_costs_what_a_known_one_with_a_wrong_secret_costs(
    endpoints: Endpoints,
) -> None:
    limits: dict[str, Any] = {"auth_failures_per_credential": 100, "auth_failures_per_addr": 100}
    async with serving(endpoints, client_addr=_address(), **limits) as (client, admin):
        _, headers = await new_key(admin, Agency.EDUCATION)
        known_wrong = {"Authorization": headers["Authorization"][:-4] + "AAAA"}
        unknown = {"Authorization": f"Bearer fd_{uuid.uuid4().hex[:16]}_{'s' * 43}"}

        async def timed(h: dict[str, str]) -> float:
            started = time.perf_counter()
            response = await client.post("/v1/events", json=contact(), headers=h)
            assert response.status_code == 401
            return time.perf_counter() - started

        known_ms, unknown_ms = [], []
        for _ in range(TIMING_SAMPLES):  # interleaved, so load on the machine hits both alike
            known_ms.append(await timed(known_wrong) * 1000)
            unknown_ms.append(await timed(unknown) * 1000)
    k, u = statistics.median(known_ms), statistics.median(unknown_ms)
    print(f"median of {TIMING_SAMPLES}: known id {k:.1f} ms, unknown id {u:.1f} ms")
    assert 0.6 < u / k < 1.6


async def test_an_agency_sees_its_event_accepted_refused_or_unknown_never_anothers(
    endpoints: Endpoints,
) -> None:
    async with serving(endpoints, client_addr=_address()) as (client, admin):
        _, mine = await new_key(admin, Agency.EDUCATION)
        _, theirs = await new_key(admin, Agency.HEALTH)
        good, bad = contact(), contact()
        bad["occurred_at"] = "04/03/2025"
        assert (await client.post("/v1/events", json=good, headers=mine)).status_code == 202
        assert (await client.post("/v1/events", json=bad, headers=mine)).status_code == 422
        ok = await client.get(f"/v1/events/{good['event_id']}", headers=mine)
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] in {"accepted", "recorded"}
        refused = (await client.get(f"/v1/events/{bad['event_id']}", headers=mine)).json()
        assert (refused["status"], refused["code"]) == ("refused", "invalid_event")
        other = await client.get(f"/v1/events/{good['event_id']}", headers=theirs)
        assert (other.status_code, other.json()["code"]) == (404, "not_found")
