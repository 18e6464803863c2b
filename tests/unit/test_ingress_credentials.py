"""Issuing, rotating and revoking agency API keys (in-memory store), and how secrets are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from schemas.envelope import Agency
from services.ingress.adapters.memory import MemoryCredentialStore
from services.ingress.credentials import (
    CredentialAdmin,
    CredentialRevokedError,
    UnknownCredentialError,
    hash_secret,
    random_key,
    verify_secret,
)
from services.ingress.domain.keys import parse_key

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
T0 = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def admin() -> tuple[CredentialAdmin, MemoryCredentialStore, Clock]:
    store, clock = MemoryCredentialStore(), Clock()
    return CredentialAdmin(store, clock=clock, hasher=CHEAP.hash), store, clock


def test_random_keys_parse_and_differ() -> None:
    a, b = random_key(), random_key()
    assert parse_key(a.text) == a
    assert a.credential_id != b.credential_id
    assert a.secret != b.secret


def test_only_an_argon2id_hash_of_the_secret_is_stored() -> None:
    key = random_key()
    stored = hash_secret(key.secret)
    assert stored.startswith("$argon2id$")
    assert key.secret not in stored
    assert verify_secret(stored, key.secret)
    assert not verify_secret(stored, random_key().secret)


def test_a_malformed_stored_hash_verifies_nothing() -> None:
    assert not verify_secret("not-a-hash", "anything")


async def test_add_stores_the_agency_label_and_hash_but_never_the_key() -> None:
    a, store, _ = admin()
    credential, key = await a.add(Agency.HEALTH, "gp-system")
    row = store.rows[key.credential_id]
    assert (row.principal, row.label, row.created_at) == (Agency.HEALTH, "gp-system", T0)
    assert key.secret not in repr(row)
    assert CHEAP.verify(row.secret_hash, key.secret)
    assert credential == row


async def test_rotate_issues_a_new_key_and_ends_the_old_after_the_grace_period() -> None:
    a, store, _ = admin()
    old, _ = await a.add(Agency.POLICE, "niche")
    new, key = await a.rotate(old.credential_id, grace=timedelta(hours=24))
    assert new.principal is Agency.POLICE
    assert new.label == "niche"
    assert key.credential_id == new.credential_id != old.credential_id
    rotated = store.rows[old.credential_id]
    assert rotated.revoked_at == T0 + timedelta(hours=24)
    assert rotated.replaced_by == new.credential_id
    assert rotated.status(T0) == "expiring"
    assert rotated.status(T0 + timedelta(hours=25)) == "revoked"


async def test_rotate_without_grace_ends_the_old_key_now() -> None:
    a, store, _ = admin()
    old, _ = await a.add(Agency.POLICE)
    await a.rotate(old.credential_id)
    assert not store.rows[old.credential_id].valid_at(T0)


async def test_a_second_rotation_never_extends_the_first_grace_period() -> None:
    a, store, clock = admin()
    old, _ = await a.add(Agency.POLICE)
    await a.rotate(old.credential_id, grace=timedelta(hours=1))
    await a.rotate(old.credential_id, grace=timedelta(days=7))
    assert store.rows[old.credential_id].revoked_at == T0 + timedelta(hours=1)
    clock.now += timedelta(hours=2)
    with pytest.raises(CredentialRevokedError):
        await a.rotate(old.credential_id)


async def test_revoke_is_immediate_and_idempotent() -> None:
    a, store, clock = admin()
    old, _ = await a.add(Agency.HOUSING)
    revoked = await a.revoke(old.credential_id)
    assert revoked.revoked_at == T0
    clock.now += timedelta(minutes=5)
    again = await a.revoke(old.credential_id)
    assert again.revoked_at == T0
    assert store.rows[old.credential_id].status(clock.now) == "revoked"


async def test_revoking_during_a_grace_period_ends_it_now() -> None:
    a, store, clock = admin()
    old, _ = await a.add(Agency.HOUSING)
    await a.rotate(old.credential_id, grace=timedelta(days=1))
    clock.now += timedelta(hours=1)
    await a.revoke(old.credential_id)
    assert store.rows[old.credential_id].revoked_at == clock.now


async def test_unknown_credentials_are_reported() -> None:
    a, _, _ = admin()
    with pytest.raises(UnknownCredentialError):
        await a.revoke("0123456789abcdef")
    with pytest.raises(UnknownCredentialError):
        await a.rotate("0123456789abcdef")


async def test_list_returns_every_credential_by_agency() -> None:
    a, _, _ = admin()
    await a.add(Agency.POLICE)
    await a.add(Agency.EDUCATION)
    assert [c.principal for c in await a.list()] == [Agency.EDUCATION, Agency.POLICE]
