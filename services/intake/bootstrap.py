"""Composition root of the intake service: the only place that wires its adapters.

Two runtimes drive the same handler with the same at-least-once contract: a faust agent, and a
plain aiokafka batch consumer (``FRONTDOOR_INTAKE_RUNTIME``). Which is the default is decided by
``bench/intake_throughput.py``: see the README for the numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

import faust

from schemas.topics import PARTNER_EVENTS
from services.common.consuming import run_batch_consumer
from services.common.db import create_pool
from services.common.kafka import new_producer
from services.common.publishing import KafkaPublisher
from services.common.settings import Endpoints
from services.common.streaming import BatchHandler, make_app, run_worker
from services.intake import agents
from services.intake.adapters.postgres import PostgresEventStore
from services.intake.config import IntakeSettings
from services.intake.handlers import IntakeHandler


def handler_factory(
    endpoints: Endpoints, settings: IntakeSettings
) -> AbstractAsyncContextManager[BatchHandler]:
    @asynccontextmanager
    async def handler() -> AsyncIterator[BatchHandler]:
        pool = await create_pool(endpoints.database_url, max_size=settings.pool_size)
        producer = new_producer(endpoints.bootstrap_servers)
        await producer.start()
        try:
            intake = IntakeHandler(
                store=PostgresEventStore(pool),
                publisher=KafkaPublisher(producer),
                consumer_group=settings.consumer_group,
                max_bytes=settings.max_event_bytes,
                clock=lambda: datetime.now(UTC),
            )
            yield intake.handle_batch
        finally:
            await producer.stop()
            await pool.close()

    return handler()


def build_app(endpoints: Endpoints, settings: IntakeSettings | None = None) -> faust.App:
    settings = settings or IntakeSettings()
    app = make_app("intake", bootstrap=endpoints.bootstrap_servers, app_id=settings.consumer_group)
    agents.register(app, lambda: handler_factory(endpoints, settings), settings)
    return app


def run(endpoints: Endpoints, settings: IntakeSettings | None = None) -> None:
    settings = settings or IntakeSettings()
    if settings.runtime == "faust":
        run_worker(build_app(endpoints, settings))
        return
    asyncio.run(
        run_batch_consumer(
            bootstrap=endpoints.bootstrap_servers,
            topic=PARTNER_EVENTS.name,
            group_id=settings.consumer_group,
            factory=lambda: handler_factory(endpoints, settings),
            max_batch=settings.max_batch,
        )
    )
