"""Background loops: do one round every ``interval`` seconds until ``stop``.

The relay sweeper, the retention sweep and screening's history horizon all have the same shape:
a round that may meet an unreachable database or broker (logged, tried again next round) and
must end promptly when the worker stops. Any other exception is a bug and ends the loop (and so
the worker, whose supervisor restarts it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from services.common.failures import is_infrastructure

log = structlog.get_logger(__name__)


async def every(
    interval: float, stop: asyncio.Event, round_: Callable[[], Awaitable[object]], *, name: str
) -> None:
    while not stop.is_set():
        try:
            await round_()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_infrastructure(exc):
                raise
            log.warning("background_round_waiting", loop=name, error_class=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
