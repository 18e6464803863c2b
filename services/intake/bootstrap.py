"""Composition root of the intake service: the only place that wires its adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import faust

from services.common.db import create_pool
from services.common.kafka import new_producer
from services.common.publishing import KafkaPublisher
from services.common.settings import Endpoints
from services.common.streaming import BatchHandler, make_app
from services.intake import agents
from services.intake.adapters.postgres import PostgresEventStore
from services.intake.config import IntakeSettings
from services.intake.handlers import IntakeHandler

CONSUMER_GROUP = "frontdoor-intake"


def build_app(endpoints: Endpoints, settings: IntakeSettings | None = None) -> faust.App:
    settings = settings or IntakeSettings()
    app = make_app("intake", bootstrap=endpoints.bootstrap_servers)

    @asynccontextmanager
    async def handler() -> AsyncIterator[BatchHandler]:
        pool = await create_pool(endpoints.database_url, max_size=settings.pool_size)
        producer = new_producer(endpoints.bootstrap_servers)
        await producer.start()
        try:
            intake = IntakeHandler(
                store=PostgresEventStore(pool),
                publisher=KafkaPublisher(producer),
                consumer_group=CONSUMER_GROUP,
                max_bytes=settings.max_event_bytes,
                clock=lambda: datetime.now(UTC),
            )
            yield intake.handle_batch
        finally:
            await producer.stop()
            await pool.close()

    agents.register(app, handler, settings)
    return app
