"""Composition root of partner ingress: the only place that wires its adapters.

``build_api`` gives the FastAPI app whose lifespan applies the ingress migrations, opens the
PostgreSQL pool and an acks=all producer, and builds the handler; ``run`` serves it with uvicorn
until SIGTERM/SIGINT (``frontdoor worker ingress``). The uvicorn access log is off: the handler
writes one canonical line per request, without personal data, and the audit table keeps the rest.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from services.common.db import create_pool, migrate
from services.common.kafka import new_producer
from services.common.publishing import KafkaPublisher
from services.common.settings import Endpoints
from services.ingress.adapters.postgres import PostgresAuditLog, PostgresCredentialStore
from services.ingress.api import create_app
from services.ingress.auth import Authenticator
from services.ingress.config import IngressSettings
from services.ingress.domain.ratelimit import RateLimiter
from services.ingress.handlers import IngressHandler, Limits

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _now() -> datetime:
    return datetime.now(UTC)


def build_api(endpoints: Endpoints, settings: IngressSettings | None = None) -> FastAPI:
    settings = settings or IngressSettings()
    roles = settings.role_table()  # a broken role table stops the service here, not per request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(endpoints.database_url, [MIGRATIONS])
        pool = await create_pool(endpoints.database_url, max_size=settings.pool_size)
        producer = new_producer(
            endpoints.bootstrap_servers,
            request_timeout_ms=int(settings.publish_timeout_seconds * 1000),
        )
        try:
            await producer.start()
            credentials = PostgresCredentialStore(pool)
            app.state.handler = IngressHandler(
                authenticator=Authenticator(
                    credentials,
                    ttl_seconds=settings.auth_cache_ttl_seconds,
                    clock=_now,
                    monotonic=time.monotonic,
                ),
                publisher=KafkaPublisher(producer),
                audit=PostgresAuditLog(pool),
                limiter=RateLimiter(rate=settings.rate_per_second, burst=settings.burst),
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
            yield
        finally:
            app.state.handler = None
            await producer.stop()
            await pool.close()

    return create_app(settings, lifespan=lifespan)


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
