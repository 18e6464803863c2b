"""Ingress answers truthfully and cheaply (issue 11 §2), on the in-memory ports.

A reused ``event_id`` with other content is refused at submission (409) and a true repeat stays an
idempotent 202 stored once; failed authentications are throttled before any hash is verified, per
client address and per claimed credential id; an unknown credential id costs one verification,
as a known one does. The PostgreSQL adapters are proven in tests/integration/test_ingress_shared.py.
"""

from __future__ import annotations

import copy
import uuid

import httpx

from schemas.envelope import Agency
from services.ingress.adapters.memory import MemoryAuthFailures
from tests.factories import contact
from tests.unit.test_ingress_api import Harness, problem


async def test_a_reused_event_id_with_other_content_is_409_naming_the_rule() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    first = contact()
    assert (await h.post(key, first)).status_code == 202
    changed = copy.deepcopy(first)
    changed["payload"]["summary"] = "Different words, same id."
    body = problem(await h.post(key, changed), 409, "event_id_reused")
    assert "contact.received" in body["detail"]
    assert "Different words" not in body["detail"]
    assert body["errors"] == [
        {
            "loc": ["event_id"],
            "msg": "event_id already used for other content",
            "type": "event_id_reused",
        }
    ]
    assert len(h.outbox()) == 1  # the original only
    assert h.audit.entries[-1].status == 409


async def test_the_same_event_sent_again_is_an_idempotent_202_stored_once() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    first, again = await h.post(key, event), await h.post(key, event)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == {"accepted": [event["event_id"]], "rejected": []}
    assert len(h.outbox()) == 1


async def test_a_batch_with_one_reused_id_accepts_the_rest_with_207() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    old = contact()
    await h.post(key, old)
    reused = copy.deepcopy(old)
    reused["payload"]["summary"] = "Another summary."
    fresh = contact()
    response = await h.post(key, {"events": [reused, fresh]})
    assert response.status_code == 207
    assert response.json()["accepted"] == [fresh["event_id"]]
    (rejection,) = response.json()["rejected"]
    assert (rejection["index"], rejection["code"]) == (0, "event_id_reused")


async def test_an_id_first_stored_by_intake_counts_as_taken() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    h.audit.event_hashes[uuid.UUID(event["event_id"])] = b"\x00" * 32
    problem(await h.post(key, event), 409, "event_id_reused")


def throttling(*, per_addr: int, per_credential: int) -> Harness:
    h = Harness()
    h.failures = MemoryAuthFailures(
        per_addr=per_addr,
        per_credential=per_credential,
        window_seconds=60,
        monotonic=h.clock.monotonic,
    )
    h.__post_init__()  # rebuild the handler with the counter
    return h


async def test_failed_authentications_are_throttled_before_any_verification() -> None:
    h = throttling(per_addr=100, per_credential=3)
    credential_id, key = await h.key(Agency.EDUCATION)
    wrong = key[:-4] + "AAAA"
    for _ in range(3):
        problem(await h.post(wrong, contact()), 401, "invalid_credentials")
    assert h.verifications == 3
    throttled = await h.post(wrong, contact())
    problem(throttled, 429, "authentication_throttled")
    assert 1 <= int(throttled.headers["retry-after"]) <= 61
    problem(await h.post(key, contact()), 429, "authentication_throttled")  # the id is held
    assert h.verifications == 3  # no argon2 for a throttled id
    assert h.audit.entries[-1].credential_id == credential_id


async def test_the_throttle_is_per_client_address_too_and_ends_with_its_window() -> None:
    h = throttling(per_addr=2, per_credential=100)
    _, key = await h.key(Agency.EDUCATION)
    for n in range(2):
        problem(await h.post(f"fd_{n:016x}_{'s' * 43}", contact()), 401, "invalid_credentials")
    problem(await h.post(key, contact()), 429, "authentication_throttled")  # same address
    h.clock.advance(61)
    assert (await h.post(key, contact())).status_code == 202


async def test_an_unknown_credential_id_costs_one_verification_like_a_known_one() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    problem(await h.post(key[:-4] + "AAAA", contact()), 401, "invalid_credentials")
    known = h.verifications
    problem(await h.post(f"fd_{'f' * 16}_{'s' * 43}", contact()), 401, "invalid_credentials")
    assert (known, h.verifications) == (1, 2)


async def test_a_uk_date_is_told_the_expected_format_and_the_event_type_not_a_class() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    event["occurred_at"] = "04/03/2025"
    body = problem(await h.post(key, event), 422, "invalid_event")
    assert "contact.received v2" in body["detail"]
    assert "ContactReceived" not in body["detail"]
    (error,) = body["errors"]
    assert error["loc"] == ["occurred_at"]
    assert error["msg"].startswith("expected an ISO 8601 date-time with offset, e.g. ")
    assert "04/03/2025" not in str(body)


async def test_an_agency_can_ask_what_became_of_its_own_events_and_only_its_own() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    _, other = await h.key(Agency.HEALTH)
    accepted, refused = contact(), contact()
    refused["occurred_at"] = "04/03/2025"
    await h.post(key, accepted)
    await h.post(key, refused)
    async with h.client() as client:

        async def status(event_id: str, k: str) -> httpx.Response:
            return await client.get(
                f"/v1/events/{event_id}", headers={"Authorization": f"Bearer {k}"}
            )

        ok = await status(accepted["event_id"], key)
        assert ok.status_code == 200
        assert ok.json()["status"] == "accepted"
        no = (await status(refused["event_id"], key)).json()
        assert (no["status"], no["code"]) == ("refused", "invalid_event")
        problem(await status(accepted["event_id"], other), 404, "not_found")  # not health's
        problem(await status(str(uuid.uuid4()), key), 404, "not_found")
        problem(await client.get(f"/v1/events/{accepted['event_id']}"), 401, "missing_credentials")
