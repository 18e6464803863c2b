"""Per-agency rate limits: one token bucket per agency, counted in events.

Each agency may submit ``rate`` events per second on average and ``burst`` at once; a batch of N
events takes N tokens, a request whose body could not be read as events takes one. When the
bucket is short the request is refused whole (429) with the seconds until enough tokens will have
accumulated, so a partner's retry after ``Retry-After`` succeeds. This module is the arithmetic
and the in-memory bucket of one process (unit tests, ``adapters/memory.py``); the service keeps the
bucket in PostgreSQL (``adapters/postgres.PostgresRateLimit``: the same refill-and-take in one
atomic statement), so the limit holds for the agency however many replicas serve it. Pure: the
caller passes the monotonic time in. ``retry_after`` is the wait for ``n`` tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from schemas.envelope import Agency


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: int = 0


def refill(bucket: Bucket, now: float, *, rate: float, burst: float) -> Bucket:
    elapsed = max(0.0, now - bucket.at)
    return Bucket(min(burst, bucket.tokens + elapsed * rate), max(now, bucket.at))


def take(
    bucket: Bucket, n: int, now: float, *, rate: float, burst: float
) -> tuple[Bucket, Decision]:
    """Take ``n`` tokens if the bucket holds them, else say how long to wait (whole seconds)."""
    current = refill(bucket, now, rate=rate, burst=burst)
    if n <= current.tokens:
        return Bucket(current.tokens - n, current.at), Decision(allowed=True)
    if n > burst:
        # never satisfiable; the service's settings make max batch <= burst, so this is a guard
        return current, Decision(allowed=False, retry_after_seconds=math.ceil(burst / rate))
    return current, Decision(
        allowed=False, retry_after_seconds=retry_after(current.tokens, n, rate)
    )


def retry_after(tokens: float, n: int, rate: float) -> int:
    """Whole seconds (at least 1) until a bucket holding ``tokens`` holds ``n``."""
    return max(1, math.ceil((n - tokens) / rate))


class RateLimiter:
    """The buckets of every agency seen by this process. Starts each agency with a full bucket."""

    def __init__(self, *, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[Agency, Bucket] = {}

    def take(self, agency: Agency, n: int, now: float) -> Decision:
        bucket = self._buckets.get(agency) or Bucket(float(self.burst), now)
        bucket, decision = take(bucket, n, now, rate=self.rate, burst=self.burst)
        self._buckets[agency] = bucket
        return decision
