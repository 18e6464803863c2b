"""The PostgreSQL credential store, one class for every audience's table.

A credential table has the same columns whatever it is for (``agency_credentials`` for partner
ingress, ``ops_credentials`` for the ops service): the id, the principal (an agency, an ops role),
a label, the argon2 hash, and the times of creation, revocation and last use. The table and the
principal column are fixed by the service that owns the table (code constants, never input), and
``principal`` turns the stored text back into the service's enum. Every operation is one small
statement on the shared pool; ``mark_used`` is called once per successful (uncached) verification.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic

import asyncpg

from services.common.credentials import P, StoredCredential

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class PostgresCredentialStore(Generic[P]):
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        table: str,
        principal_column: str,
        principal: Callable[[str], P],
    ) -> None:
        if not (_IDENTIFIER.fullmatch(table) and _IDENTIFIER.fullmatch(principal_column)):
            raise ValueError(f"not a table/column name: {table!r}, {principal_column!r}")
        self._pool = pool
        self._table = table
        self._principal_column = principal_column
        self._principal = principal
        self._columns = (
            f"credential_id, {principal_column}, label, secret_hash, created_at, revoked_at, "
            "replaced_by, last_used_at"
        )

    def _credential(self, row: Any) -> StoredCredential[P]:
        return StoredCredential(
            credential_id=row["credential_id"],
            principal=self._principal(row[self._principal_column]),
            label=row["label"],
            secret_hash=row["secret_hash"],
            created_at=row["created_at"],
            revoked_at=row["revoked_at"],
            replaced_by=row["replaced_by"],
            last_used_at=row["last_used_at"],
        )

    async def get(self, credential_id: str) -> StoredCredential[P] | None:
        row = await self._pool.fetchrow(
            f"SELECT {self._columns} FROM {self._table} WHERE credential_id = $1", credential_id
        )
        return self._credential(row) if row is not None else None

    async def insert(self, credential: StoredCredential[P]) -> None:
        c = credential
        await self._pool.execute(
            f"INSERT INTO {self._table} ({self._columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            c.credential_id,
            c.principal.value,
            c.label,
            c.secret_hash,
            c.created_at,
            c.revoked_at,
            c.replaced_by,
            c.last_used_at,
        )

    async def set_revoked(
        self, credential_id: str, revoked_at: datetime, replaced_by: str | None = None
    ) -> bool:
        status: str = await self._pool.execute(
            f"UPDATE {self._table} SET revoked_at = $2, replaced_by = $3 WHERE credential_id = $1",
            credential_id,
            revoked_at,
            replaced_by,
        )
        return status.endswith(" 1")

    async def mark_used(self, credential_id: str, at: datetime) -> None:
        await self._pool.execute(
            f"UPDATE {self._table} SET last_used_at = $2 WHERE credential_id = $1",
            credential_id,
            at,
        )

    async def all(self) -> Sequence[StoredCredential[P]]:
        rows = await self._pool.fetch(
            f"SELECT {self._columns} FROM {self._table} "
            f"ORDER BY {self._principal_column}, created_at"
        )
        return [self._credential(r) for r in rows]
