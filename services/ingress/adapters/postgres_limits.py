"""The limits every ingress replica shares, kept in PostgreSQL: the agency's token bucket and the
failed-authentication counters. Each decision is ONE atomic statement on one row (or two), timed by
the database's clock, so two replicas never both spend the same token and never disagree on when
a window started; no new server is needed.

``PostgresRateLimit.take`` refills and takes in a single ``INSERT … ON CONFLICT DO UPDATE … WHERE``
(the row lock serialises concurrent takes for one agency); no row returned means the bucket was
short, and the bucket is read once more to say how long to wait. ``PostgresAuthFailures`` counts
failures per client address and per claimed credential id in a fixed window; ``blocked`` is one
indexed read, made before any argon2 verification (the shared counter of
``services.common.auth_failures``, which the ops service uses too, over ingress's own table).
"""

from __future__ import annotations

import asyncpg

from schemas.envelope import Agency
from services.common.auth_failures import PostgresAuthFailures as SharedAuthFailures
from services.ingress.domain.ratelimit import Decision, retry_after

TAKE_SQL = """
INSERT INTO ingress_rate_buckets AS b (agency, tokens, updated_at)
VALUES ($1, $3::double precision - $2, clock_timestamp())
ON CONFLICT (agency) DO UPDATE
SET tokens = LEAST($3, b.tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at) * $4) - $2,
    updated_at = clock_timestamp()
WHERE LEAST($3, b.tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at) * $4) >= $2
RETURNING tokens
"""

TOKENS_SQL = """
SELECT LEAST($2, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated_at) * $3)
FROM ingress_rate_buckets WHERE agency = $1
"""


class PostgresRateLimit:
    def __init__(self, pool: asyncpg.Pool, *, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._pool = pool
        self.rate = rate
        self.burst = burst

    async def take(self, agency: Agency, n: int) -> Decision:
        if n > self.burst:  # never satisfiable; settings keep max batch <= burst
            return Decision(
                allowed=False, retry_after_seconds=retry_after(0, self.burst, self.rate)
            )
        args = (agency.value, float(n), float(self.burst), self.rate)
        if await self._pool.fetchval(TAKE_SQL, *args) is not None:
            return Decision(allowed=True)
        tokens = await self._pool.fetchval(TOKENS_SQL, agency.value, float(self.burst), self.rate)
        return Decision(
            allowed=False, retry_after_seconds=retry_after(float(tokens or 0.0), n, self.rate)
        )


class PostgresAuthFailures(SharedAuthFailures):
    """The shared failure counter over ``ingress_auth_failures``."""

    def __init__(
        self, pool: asyncpg.Pool, *, per_addr: int, per_credential: int, window_seconds: float
    ) -> None:
        super().__init__(
            pool,
            table="ingress_auth_failures",
            per_addr=per_addr,
            per_credential=per_credential,
            window_seconds=window_seconds,
        )
