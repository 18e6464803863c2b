"""Authenticating partners: missing, malformed, forged, revoked and rotated keys; the cache."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from schemas.envelope import Agency
from tests.factories import contact, da_notification
from tests.unit.test_ingress_api import Harness, problem

# -- authentication --------------------------------------------------------------------------


async def test_no_key_is_401_with_a_bearer_challenge() -> None:
    h = Harness()
    response = await h.post(None, contact())
    problem(response, 401, "missing_credentials")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert h.audit.entries[0].status == 401


@pytest.mark.parametrize(
    "presented",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-key",
        "Bearer fd_0123456789abcdef_" + "x" * 43,
    ],
)
async def test_an_unknown_or_malformed_key_is_401(presented: str) -> None:
    h = Harness()
    response = await h.post(None, contact(), headers={"Authorization": presented})
    problem(response, 401, "invalid_credentials")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert h.published == []


async def test_a_wrong_secret_for_a_real_credential_is_401_and_audited_with_the_claimed_id() -> (
    None
):
    h = Harness()
    credential_id, key = await h.key(Agency.POLICE)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    response = await h.post(forged, da_notification())
    problem(response, 401, "invalid_credentials")
    (entry,) = h.audit.entries
    assert entry.credential_id == credential_id
    assert entry.agency is None


async def test_a_revoked_key_is_401() -> None:
    h = Harness()
    credential_id, key = await h.key(Agency.POLICE)
    await h.admin.revoke(credential_id)
    response = await h.post(key, da_notification())
    problem(response, 401, "credential_revoked")
    assert h.published == []


async def test_a_verified_key_is_not_verified_again_within_the_ttl() -> None:
    h = Harness(ttl=30)
    _, key = await h.key(Agency.POLICE)
    for _ in range(3):
        assert (await h.post(key, da_notification())).status_code == 202
    assert h.verifications == 1


async def test_concurrent_first_requests_verify_a_key_once() -> None:
    h = Harness(ttl=30)
    _, key = await h.key(Agency.POLICE)
    responses = await asyncio.gather(*(h.post(key, da_notification()) for _ in range(5)))
    assert [r.status_code for r in responses] == [202] * 5
    assert h.verifications == 1


async def test_revocation_takes_effect_once_the_cache_ttl_has_passed() -> None:
    h = Harness(ttl=30)
    credential_id, key = await h.key(Agency.POLICE)
    assert (await h.post(key, da_notification())).status_code == 202
    await h.admin.revoke(credential_id)
    assert (await h.post(key, da_notification())).status_code == 202  # cached, within the TTL
    h.clock.advance(31)
    problem(await h.post(key, da_notification()), 401, "credential_revoked")


async def test_with_no_cache_revocation_takes_effect_on_the_next_request() -> None:
    h = Harness(ttl=0)
    credential_id, key = await h.key(Agency.POLICE)
    assert (await h.post(key, da_notification())).status_code == 202
    await h.admin.revoke(credential_id)
    problem(await h.post(key, da_notification()), 401, "credential_revoked")


async def test_a_rotated_key_works_until_its_grace_period_ends() -> None:
    h = Harness(ttl=0)
    credential_id, old = await h.key(Agency.POLICE)
    _, new_key = await h.admin.rotate(credential_id, grace=timedelta(seconds=10))
    assert (await h.post(old, da_notification())).status_code == 202
    assert (await h.post(new_key.text, da_notification())).status_code == 202
    h.clock.advance(11)
    problem(await h.post(old, da_notification()), 401, "credential_revoked")
    assert (await h.post(new_key.text, da_notification())).status_code == 202


async def test_a_key_verified_during_its_grace_period_is_not_cached_past_its_end() -> None:
    h = Harness(ttl=30)
    credential_id, old = await h.key(Agency.POLICE)
    await h.admin.rotate(credential_id, grace=timedelta(seconds=10))
    assert (await h.post(old, da_notification())).status_code == 202  # cached for 10 s, not 30
    h.clock.advance(11)
    problem(await h.post(old, da_notification()), 401, "credential_revoked")
