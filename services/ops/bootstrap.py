"""Composition root of the ops service: the only place that wires its adapters.

``build_api`` gives the FastAPI app whose lifespan opens a small PostgreSQL pool and the Kafka lag
source, and runs three background loops for as long as the app lives: the lag poll (every
``poll_interval_seconds``), the board refresh (same interval) and the ``partner.events`` tail
that times event-to-view latency. ``run`` serves it with uvicorn until SIGTERM/SIGINT
(``frontdoor worker ops``). The ops service owns no tables: it only reads the other services'.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import structlog
import uvicorn
from fastapi import FastAPI

from services.common.db import create_pool
from services.common.settings import Endpoints
from services.ops.adapters.kafka_lag import KafkaLagSource
from services.ops.adapters.latency import PublishTail
from services.ops.adapters.postgres import PostgresOpsStore
from services.ops.api import OpsRuntime, create_app
from services.ops.config import OpsSettings
from services.ops.domain.lag import LagBoard
from services.ops.domain.latency import PublishLedger
from services.ops.handlers import BoardRefresher, LagPoller
from services.ops.metrics import OpsMetrics

log = structlog.get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _report_crash(task: asyncio.Task[None]) -> None:
    """A loop that died shows at once in the log (and in /healthz, which goes stale)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("ops_loop_crashed", loop=task.get_name(), error=repr(exc))


def build_api(endpoints: Endpoints, settings: OpsSettings | None = None) -> FastAPI:
    settings = settings or OpsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(endpoints.database_url, max_size=settings.pool_size)
        source = KafkaLagSource(endpoints.bootstrap_servers, clock=_now)
        poller = LagPoller(
            source,
            board=LagBoard(
                window_size=settings.burrow_window,
                timeline_points=settings.timeline_points,
                throughput_window=timedelta(seconds=settings.throughput_window_seconds),
            ),
            interval=settings.poll_interval_seconds,
        )
        ledger = PublishLedger()
        metrics = OpsMetrics(lag=lambda: poller.report, boards=lambda: refresher.boards)
        refresher = BoardRefresher(
            PostgresOpsStore(pool),
            ledger=ledger,
            on_latency=metrics.observe_latency,
            clock=_now,
            newest_deadletters=settings.newest_deadletters,
        )
        runtime = OpsRuntime(
            poller=poller,
            refresher=refresher,
            metrics=metrics,
            bootstrap_servers=endpoints.bootstrap_servers,
            clock=_now,
        )
        app.state.ops = runtime
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            await source.start()
            tasks.append(asyncio.create_task(poller.run(stop), name="ops-lag-poll"))
            tasks.append(
                asyncio.create_task(
                    refresher.run(stop, interval=settings.poll_interval_seconds),
                    name="ops-boards",
                )
            )
            if settings.track_latency:
                tail = PublishTail(endpoints.bootstrap_servers, ledger)
                tasks.append(asyncio.create_task(tail.run(stop), name="ops-publish-tail"))
            for task in tasks:
                task.add_done_callback(_report_crash)
            log.info(
                "ops_started",
                host=settings.host,
                port=settings.port,
                interval=settings.poll_interval_seconds,
            )
            yield
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=10)  # a crash was logged already
            await source.stop()
            await pool.close()
            log.info("ops_stopped")

    return create_app(lifespan)


def run(endpoints: Endpoints, host: str | None = None, port: int | None = None) -> None:
    """Serve the dashboard, its API and /metrics until SIGTERM/SIGINT."""
    settings = OpsSettings()
    uvicorn.run(
        build_api(endpoints, settings),
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
