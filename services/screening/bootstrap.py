"""Composition root of the screening service: the only place that wires its adapters.

One faust app with two agents — triage (contacts → ``screening.triaged`` / ``crisis.raised``) and
decisions (``screening.decision_recorded`` → ``screening_results``) — each with its own
PostgreSQL pool and producer, opened when its agent starts. The rule set and the working-day
calendar are loaded once in ``build_app``, so a bad rules file stops the worker before it reads
anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import faust

from services.common.calendar import WorkingCalendar
from services.common.db import create_pool
from services.common.kafka import new_producer
from services.common.publishing import KafkaPublisher
from services.common.settings import Endpoints
from services.common.streaming import BatchHandler, make_app
from services.screening import agents
from services.screening.adapters.postgres import PostgresScreeningStore
from services.screening.adapters.rules_file import load_rules
from services.screening.config import ScreeningSettings
from services.screening.handlers import (
    DecisionHandler,
    TriageHandler,
    office_hours_test,
    working_hours_deadline,
)

CONSUMER_GROUP = "frontdoor-screening"


def now() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def _ports(
    endpoints: Endpoints, pool_size: int
) -> AsyncIterator[tuple[PostgresScreeningStore, KafkaPublisher]]:
    pool = await create_pool(endpoints.database_url, max_size=pool_size)
    producer = new_producer(endpoints.bootstrap_servers)
    try:
        await producer.start()
        yield PostgresScreeningStore(pool), KafkaPublisher(producer)
    finally:
        await producer.stop()
        await pool.close()


def build_app(endpoints: Endpoints, settings: ScreeningSettings | None = None) -> faust.App:
    settings = settings or ScreeningSettings()
    rules = load_rules(settings.rules_path)
    calendar = WorkingCalendar.england_and_wales()
    office = settings.office_hours()
    app = make_app("screening", bootstrap=endpoints.bootstrap_servers)

    @asynccontextmanager
    async def triage() -> AsyncIterator[BatchHandler]:
        async with _ports(endpoints, settings.pool_size) as (store, publisher):
            yield TriageHandler(
                store=store,
                publisher=publisher,
                rules=rules,
                deadline=working_hours_deadline(calendar, office, settings.triage_windows()),
                in_office_hours=office_hours_test(calendar, office),
                consumer_group=CONSUMER_GROUP,
                clock=now,
            ).handle_batch

    @asynccontextmanager
    async def decisions() -> AsyncIterator[BatchHandler]:
        async with _ports(endpoints, 2) as (store, publisher):
            yield DecisionHandler(
                store=store, publisher=publisher, consumer_group=CONSUMER_GROUP, clock=now
            ).handle_batch

    agents.register(app, triage, decisions, settings)
    return app
