"""Failed authentications per client address and per claimed credential id, in PostgreSQL.

The counter behind the shared authenticator's limit BEFORE argon2 (``services.common.
authentication``): ``blocked`` is one indexed read, made before any hash is verified; ``failed``
counts a failure against both the address and the credential id in ONE atomic statement, in a
fixed window timed by the database's clock, so every replica of a service sees the same counts.
Each service keeps its own table (``ingress_auth_failures``, ``ops_auth_failures``: columns
``scope`` 'addr' | 'credential', ``subject``, ``window_start``, ``failures``); the table name is a
code constant of the service that owns it.
"""

from __future__ import annotations

import re

import asyncpg

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

BLOCKED_SQL = """
SELECT COALESCE(MAX(CEIL(EXTRACT(EPOCH FROM window_start + make_interval(secs => $5)
                                   - clock_timestamp()))), 0)::int
FROM {table}
WHERE window_start > clock_timestamp() - make_interval(secs => $5)
  AND ((scope = 'addr' AND subject = $1 AND failures >= $3)
    OR (scope = 'credential' AND subject = $2 AND failures >= $4))
"""

FAILED_SQL = """
INSERT INTO {table} AS f (scope, subject, window_start, failures)
SELECT scope, subject, clock_timestamp(), 1
FROM unnest($1::text[], $2::text[]) AS t(scope, subject)
ON CONFLICT (scope, subject) DO UPDATE
SET failures = CASE WHEN f.window_start <= clock_timestamp() - make_interval(secs => $3)
                    THEN 1 ELSE f.failures + 1 END,
    window_start = CASE WHEN f.window_start <= clock_timestamp() - make_interval(secs => $3)
                        THEN clock_timestamp() ELSE f.window_start END
"""


class PostgresAuthFailures:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        table: str,
        per_addr: int,
        per_credential: int,
        window_seconds: float,
    ) -> None:
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"not a table name: {table!r}")
        self._pool = pool
        self._blocked_sql = BLOCKED_SQL.format(table=table)
        self._failed_sql = FAILED_SQL.format(table=table)
        self._per_addr = per_addr
        self._per_credential = per_credential
        self._window = window_seconds

    async def blocked(self, client_addr: str | None, credential_id: str | None) -> int | None:
        wait: int = await self._pool.fetchval(
            self._blocked_sql,
            client_addr,
            credential_id,
            self._per_addr,
            self._per_credential,
            self._window,
        )
        return max(1, wait) if wait > 0 else None

    async def failed(self, client_addr: str | None, credential_id: str | None) -> None:
        scopes = [("addr", client_addr), ("credential", credential_id)]
        present = [(s, v) for s, v in scopes if v]
        if present:
            await self._pool.execute(
                self._failed_sql, [s for s, _ in present], [v for _, v in present], self._window
            )
