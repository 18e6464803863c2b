"""Composition root of the ops service: the only place that wires its adapters.

``build_api`` gives the FastAPI app whose lifespan opens a small PostgreSQL pool and the Kafka lag
source, and runs four background loops for as long as the app lives: the lag poll (every
``poll_interval_seconds``, each round also written to the lag history), the board refresh (same
interval), the history's retention (every ``history_prune_seconds``, on
``services.common.periodic``) and the ``partner.events`` tail that times event-to-view latency.
``run`` serves it with uvicorn until SIGTERM/SIGINT (``frontdoor worker ops``). The ops service
owns three tables, its staff credentials, their failed sign-ins and the lag history
(``migrations/``, applied here and by ``frontdoor init``); otherwise it only reads the other
services'. The door (``guard.py``) is wired here: the shared authenticator over
``ops_credentials``, the session secret, the ``/metrics`` token; and the dead-letter console
(``adapters/deadletters.py``: the dead-letter service's own replay over this pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import structlog
import uvicorn
from fastapi import FastAPI

from services.common.auth_failures import PostgresAuthFailures
from services.common.authentication import Authenticator
from services.common.calendar import WorkingCalendar
from services.common.db import create_pool, migrate
from services.common.periodic import every
from services.common.settings import Endpoints
from services.ops.adapters.credentials import OpsCredentialStore
from services.ops.adapters.deadletters import PostgresDeadLetterConsole
from services.ops.adapters.history import PostgresLagHistory
from services.ops.adapters.kafka_lag import KafkaLagSource
from services.ops.adapters.latency import PublishTail
from services.ops.adapters.postgres import PostgresOpsStore
from services.ops.api import OpsRuntime, create_app
from services.ops.config import OpsSettings
from services.ops.domain.history import HistoryWindow
from services.ops.domain.lag import LagBoard
from services.ops.domain.latency import PublishLedger
from services.ops.guard import OpsAccess
from services.ops.handlers import BoardRefresher, LagHistory, LagPoller
from services.ops.metrics import OpsMetrics

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
AUTH_FAILURES_TABLE = "ops_auth_failures"


def _now() -> datetime:
    return datetime.now(UTC)


def _report_crash(task: asyncio.Task[None]) -> None:
    """A loop that died shows at once in the log (and in /healthz, which goes stale)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("ops_loop_crashed", loop=task.get_name(), error=repr(exc))


FIRST_RESULTS_SECONDS = 10.0


async def _first_results(poller: LagPoller, refresher: BoardRefresher, *, within: float) -> None:
    """Serve once the first lag poll and board refresh are in (or ``within`` seconds have
    passed: a broker or database still down is then what /healthz and the panels report), so
    the first request after start-up is not answered from nothing."""
    step = 0.05
    for _ in range(int(within / step)):
        if poller.polled_at is not None and refresher.refreshed_at is not None:
            return
        await asyncio.sleep(step)


def build_access(pool: asyncpg.Pool, settings: OpsSettings) -> OpsAccess:
    """The door: staff keys from ``ops_credentials``, sessions, the ``/metrics`` token."""
    store = OpsCredentialStore(pool)
    secret = settings.session_secret
    if secret is None:
        log.warning("ops_session_secret_unset", effect="sessions end when this process restarts")
    token = settings.metrics_token
    if token is None and not settings.metrics_open:
        log.info("ops_metrics_needs_credential", hint="set FRONTDOOR_METRICS_TOKEN for scrapers")
    return OpsAccess(
        authenticator=Authenticator(
            store,
            ttl_seconds=settings.auth_cache_ttl_seconds,
            clock=_now,
            monotonic=time.monotonic,
            failures=PostgresAuthFailures(
                pool,
                table=AUTH_FAILURES_TABLE,
                per_addr=settings.auth_failures_per_addr,
                per_credential=settings.auth_failures_per_credential,
                window_seconds=settings.auth_failure_window_seconds,
            ),
        ),
        store=store,
        session_secret=(secret.get_secret_value().encode() if secret else secrets.token_bytes(32)),
        session_lifetime=timedelta(minutes=settings.session_minutes),
        clock=_now,
        metrics_token=token.get_secret_value() if token else None,
        metrics_open=settings.metrics_open,
    )


def build_api(endpoints: Endpoints, settings: OpsSettings | None = None) -> FastAPI:
    settings = settings or OpsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(endpoints.database_url, [MIGRATIONS])
        pool = await create_pool(endpoints.database_url, max_size=settings.pool_size)
        source = KafkaLagSource(endpoints.bootstrap_servers, clock=_now)
        history_store = PostgresLagHistory(pool)
        history = LagHistory(
            history_store,
            window=HistoryWindow(keep_hours=settings.history_hours),
            clock=_now,
            poll_interval=settings.poll_interval_seconds,
            chunk=settings.history_prune_chunk,
        )
        poller = LagPoller(
            source,
            board=LagBoard(
                window_size=settings.burrow_window,
                timeline_points=settings.timeline_points,
                throughput_window=timedelta(seconds=settings.throughput_window_seconds),
            ),
            interval=settings.poll_interval_seconds,
            history=history_store,
        )
        ledger = PublishLedger()
        metrics = OpsMetrics(lag=lambda: poller.report, boards=lambda: refresher.boards)
        refresher = BoardRefresher(
            PostgresOpsStore(pool),
            ledger=ledger,
            on_latency=metrics.observe_latency,
            clock=_now,
            calendar=WorkingCalendar.england_and_wales(),
            newest_deadletters=settings.newest_deadletters,
            newest_refusals=settings.newest_deadletters,
            workforce_alerts=settings.workforce_alerts,
        )
        runtime = OpsRuntime(
            poller=poller,
            refresher=refresher,
            metrics=metrics,
            bootstrap_servers=endpoints.bootstrap_servers,
            clock=_now,
            access=build_access(pool, settings),
            history=history,
            console=PostgresDeadLetterConsole(pool, endpoints.bootstrap_servers),
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
            tasks.append(
                asyncio.create_task(
                    every(
                        settings.history_prune_seconds,
                        stop,
                        history.prune_once,
                        name="ops-history-prune",
                    ),
                    name="ops-history-prune",
                )
            )
            if settings.track_latency:
                tail = PublishTail(endpoints.bootstrap_servers, ledger)
                tasks.append(asyncio.create_task(tail.run(stop), name="ops-publish-tail"))
            for task in tasks:
                task.add_done_callback(_report_crash)
            await _first_results(poller, refresher, within=FIRST_RESULTS_SECONDS)
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
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
