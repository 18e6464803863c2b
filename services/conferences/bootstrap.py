"""Composition root of the conferences service: the only place that wires its adapters.

`build_app` loads the conference rules for ``FRONTDOOR_POLICY`` (with a council's file from
``FRONTDOOR_CONFERENCES_RULES_FILE`` laid over them) and the working-day calendar once, refusing
to start on bad rules, and subscribes one batch agent to ``frontdoor.casework``. The handler gets
its own PostgreSQL pool and producer for as long as the agent runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

import faust

from services.common.calendar import WorkingCalendar
from services.common.db import create_pool
from services.common.kafka import new_producer
from services.common.publishing import KafkaPublisher
from services.common.settings import Endpoints
from services.common.streaming import BatchHandler, make_app
from services.conferences import agents
from services.conferences.adapters.postgres import PostgresConferenceStore
from services.conferences.config import ConferencesSettings
from services.conferences.domain.rules import ConferenceRules
from services.conferences.handlers import ConferenceHandler
from services.conferences.rules import load_rules


def handler_factory(
    endpoints: Endpoints,
    settings: ConferencesSettings,
    rules: ConferenceRules,
    calendar: WorkingCalendar,
) -> AbstractAsyncContextManager[BatchHandler]:
    @asynccontextmanager
    async def handler() -> AsyncIterator[BatchHandler]:
        pool = await create_pool(endpoints.database_url, max_size=settings.pool_size)
        producer = new_producer(endpoints.bootstrap_servers)
        await producer.start()
        try:
            yield ConferenceHandler(
                store=PostgresConferenceStore(pool),
                publisher=KafkaPublisher(producer),
                rules=rules,
                calendar=calendar,
                consumer_group=settings.consumer_group,
                clock=lambda: datetime.now(UTC),
            ).handle_batch
        finally:
            await producer.stop()
            await pool.close()

    return handler()


def build_app(endpoints: Endpoints, settings: ConferencesSettings | None = None) -> faust.App:
    settings = settings or ConferencesSettings()
    rules = load_rules(settings.policy, settings.rules_file)
    calendar = WorkingCalendar.england_and_wales()
    app = make_app(
        "conferences", bootstrap=endpoints.bootstrap_servers, app_id=settings.consumer_group
    )
    agents.register(app, lambda: handler_factory(endpoints, settings, rules, calendar), settings)
    return app
