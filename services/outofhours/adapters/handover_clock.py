"""The clock that drives the automatic handover: one tick every ``interval`` seconds until stop.

A background task of the outofhours worker (``Service.tasks``). Each tick asks the handover use
case whether a handover is owed now and publishes it (``HandoverScheduler.tick``); that use case
holds no transaction across a Kafka round trip. A tick that fails is logged and the next one
tries again — the handover's own 09:00 clock in the SLA service is the net if every tick fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from services.common.failures import is_infrastructure

log = structlog.get_logger(__name__)


async def tick_every(
    interval: float, tick: Callable[[], Awaitable[object]], stop: asyncio.Event
) -> None:
    """Run ``tick`` now and then every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next tick tries again; the handover clock is the net
            log.warning(
                "ooh_handover_tick_failed",
                error_class=type(exc).__name__,
                infrastructure=is_infrastructure(exc),
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
