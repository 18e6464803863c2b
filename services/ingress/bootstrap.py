"""Composition root of partner ingress: the only place that wires its adapters.

``build_api`` gives the FastAPI app whose lifespan applies the migrations (the common pipeline's
ledger and outbox, then ingress's own), opens the PostgreSQL pool, the pipeline's ledger and an
acks=all producer behind the outbox relay, builds the handler and starts two background tasks:
the outbox sweeper (``Relay.sweep_forever``: whatever a relay after a commit did not send — the
broker away, this process killed — is sent again, and again, until the broker has it) and the
audit retention (``retention.py``). ``run`` serves it with uvicorn until SIGTERM/SIGINT
(``frontdoor worker ingress``). The uvicorn access log is off: the handler writes one canonical
line per request, without personal data, and the audit table keeps the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI

from services.common.db import create_pool, migrate
from services.common.kafka import new_producer
from services.common.ledger import PostgresLedger
from services.common.outbox import KafkaSender, Relay
from services.common.settings import Endpoints
from services.ingress.adapters.postgres import PostgresAuditLog, PostgresCredentialStore
from services.ingress.adapters.postgres_limits import PostgresAuthFailures, PostgresRateLimit
from services.ingress.api import create_app
from services.ingress.auth import Authenticator
from services.ingress.config import IngressSettings
from services.ingress.handlers import IngressHandler, Limits
from services.ingress.retention import AuditRetention

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PIPELINE_MIGRATIONS = Path(__file__).resolve().parents[1] / "common" / "migrations"
"""The outbox table ingress writes to (also applied by ``frontdoor init``; ids are shared)."""
SHUTDOWN_GRACE_SECONDS = 5.0
RESTART_DELAY_SECONDS = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


def build_api(endpoints: Endpoints, settings: IngressSettings | None = None) -> FastAPI:
    settings = settings or IngressSettings()
    roles = settings.role_table()  # a broken role table stops the service here, not per request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(endpoints.database_url, [PIPELINE_MIGRATIONS, MIGRATIONS])
        pool = await create_pool(endpoints.database_url, max_size=settings.pool_size)
        producer = new_producer(
            endpoints.bootstrap_servers,
            request_timeout_ms=int(settings.publish_timeout_seconds * 1000),
        )
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        handler: IngressHandler | None = None
        try:
            await producer.start()
            ledger = PostgresLedger(pool)
            relay = Relay(ledger, KafkaSender(producer))
            audit = PostgresAuditLog(pool, ledger)
            handler = IngressHandler(
                authenticator=Authenticator(
                    PostgresCredentialStore(pool),
                    ttl_seconds=settings.auth_cache_ttl_seconds,
                    clock=_now,
                    monotonic=time.monotonic,
                    failures=PostgresAuthFailures(
                        pool,
                        per_addr=settings.auth_failures_per_addr,
                        per_credential=settings.auth_failures_per_credential,
                        window_seconds=settings.auth_failure_window_seconds,
                    ),
                ),
                audit=audit,
                relay=relay,
                limiter=PostgresRateLimit(
                    pool, rate=settings.rate_per_second, burst=settings.burst
                ),
                roles=roles,
                limits=Limits(
                    max_body_bytes=settings.max_body_bytes,
                    max_batch=settings.max_batch,
                    max_event_bytes=settings.max_event_bytes,
                    publish_timeout_seconds=settings.publish_timeout_seconds,
                ),
                clock=_now,
                monotonic=time.monotonic,
            )
            retention = AuditRetention(
                audit,
                days=settings.audit_retention_days,
                clock=_now,
                interval=settings.audit_retention_interval_seconds,
                batch=settings.audit_retention_batch,
            )
            tasks = [
                asyncio.ensure_future(
                    _keep_running("ingress_outbox_sweeper", relay.sweep_forever, stop)
                ),
                asyncio.ensure_future(
                    _keep_running("ingress_audit_retention", retention.run, stop)
                ),
            ]
            app.state.handler = handler
            yield
        finally:
            app.state.handler = None
            stop.set()  # no new sweep or purge; what the relays leave, the next process sends
            if handler is not None:
                await handler.drain(SHUTDOWN_GRACE_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*tasks, return_exceptions=True), SHUTDOWN_GRACE_SECONDS
                )
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):  # the broker may be gone: the outbox has it all
                await asyncio.wait_for(producer.stop(), SHUTDOWN_GRACE_SECONDS)
            await pool.close()

    return create_app(settings, lifespan=lifespan)


async def _keep_running(
    name: str, task: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Run a background task until ``stop``; if it fails, log it and start it again."""
    while not stop.is_set():
        try:
            await task(stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(  # noqa: TRY400 - no traceback: driver messages can quote values
                "ingress_task_failed", task=name, error_class=type(exc).__name__
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RESTART_DELAY_SECONDS)


def run(endpoints: Endpoints, host: str | None = None, port: int | None = None) -> None:
    """Serve partner ingress until SIGTERM/SIGINT; host and port default to the settings."""
    settings = IngressSettings()
    uvicorn.run(
        build_api(endpoints, settings),
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=20,
    )
