"""Composition root of the deadletter service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import faust

from services.common.db import create_pool
from services.common.settings import Endpoints
from services.common.streaming import BatchHandler, make_app
from services.deadletter import agents
from services.deadletter.adapters.postgres import PostgresDeadLetterStore
from services.deadletter.handlers import DeadLetterHandler


def build_app(endpoints: Endpoints) -> faust.App:
    app = make_app("deadletter", bootstrap=endpoints.bootstrap_servers)

    @asynccontextmanager
    async def handler() -> AsyncIterator[BatchHandler]:
        pool = await create_pool(endpoints.database_url, max_size=2)
        try:
            yield DeadLetterHandler(PostgresDeadLetterStore(pool)).handle_batch
        finally:
            await pool.close()

    agents.register(app, handler)
    return app
