"""Composition root of the screening service: the only place that wires its adapters.

Two use cases, each with its own PostgreSQL pool and producer: triage (``frontdoor.contacts`` →
``screening.triaged`` / ``crisis.raised``) and decisions (``screening.decision_recorded`` on
``frontdoor.casework`` → ``screening_results``). Two runtimes drive the same handlers with the
same at-least-once contract (``FRONTDOOR_SCREENING_RUNTIME``): plain aiokafka batch consumers
(the default — ``bench/screening_latency.py`` measured the faust agents far slower to react on a
lightly loaded topic) or the faust agents of ``agents.py``. The rule set and the working-day
calendar are loaded once, before anything is consumed, so a bad rules file stops the worker at
start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import faust

from schemas.topics import CASEWORK, CONTACTS
from services.common.calendar import OfficeHours, WorkingCalendar
from services.common.consuming import run_batch_consumer
from services.common.db import create_pool
from services.common.kafka import new_producer
from services.common.publishing import KafkaPublisher
from services.common.settings import Endpoints
from services.common.streaming import BatchHandler, make_app, run_worker
from services.screening import agents
from services.screening.adapters.postgres import PostgresScreeningStore
from services.screening.adapters.rules_file import load_rules
from services.screening.config import ScreeningSettings
from services.screening.domain.rules import RuleSet
from services.screening.handlers import (
    DecisionHandler,
    TriageHandler,
    office_hours_test,
    working_hours_deadline,
)

CONSUMER_GROUP = "frontdoor-screening"
"""The faust runtime's group (its app id), for both topics."""
TRIAGE_GROUP = "frontdoor-screening-triage"
DECISIONS_GROUP = "frontdoor-screening-decisions"
"""The aiokafka runtime's groups: one per topic, so neither topic's rebalances stall the other,
and never the faust group (a group cannot mix faust's assignor with aiokafka's)."""


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


@dataclass(frozen=True)
class Wiring:
    """Everything the handlers need that is loaded once per process."""

    endpoints: Endpoints
    settings: ScreeningSettings
    rules: RuleSet
    calendar: WorkingCalendar
    office: OfficeHours

    @classmethod
    def load(cls, endpoints: Endpoints, settings: ScreeningSettings | None = None) -> Wiring:
        settings = settings or ScreeningSettings()
        return cls(
            endpoints=endpoints,
            settings=settings,
            rules=load_rules(settings.rules_path),
            calendar=WorkingCalendar.england_and_wales(),
            office=settings.office_hours(),
        )

    def triage(self, consumer_group: str) -> AbstractAsyncContextManager[BatchHandler]:
        @asynccontextmanager
        async def opened() -> AsyncIterator[BatchHandler]:
            async with _ports(self.endpoints, self.settings.pool_size) as (store, publisher):
                yield TriageHandler(
                    store=store,
                    publisher=publisher,
                    rules=self.rules,
                    deadline=working_hours_deadline(
                        self.calendar, self.office, self.settings.triage_windows()
                    ),
                    in_office_hours=office_hours_test(self.calendar, self.office),
                    consumer_group=consumer_group,
                    clock=now,
                ).handle_batch

        return opened()

    def decisions(self, consumer_group: str) -> AbstractAsyncContextManager[BatchHandler]:
        @asynccontextmanager
        async def opened() -> AsyncIterator[BatchHandler]:
            async with _ports(self.endpoints, 2) as (store, publisher):
                yield DecisionHandler(
                    store=store, publisher=publisher, consumer_group=consumer_group, clock=now
                ).handle_batch

        return opened()


def build_app(endpoints: Endpoints, settings: ScreeningSettings | None = None) -> faust.App:
    """The faust runtime: both agents on one app in ``CONSUMER_GROUP``."""
    wiring = Wiring.load(endpoints, settings)
    app = make_app("screening", bootstrap=endpoints.bootstrap_servers)
    agents.register(
        app,
        lambda: wiring.triage(CONSUMER_GROUP),
        lambda: wiring.decisions(CONSUMER_GROUP),
        wiring.settings,
    )
    return app


async def run_consumers(wiring: Wiring, stop: asyncio.Event | None = None) -> None:
    """The aiokafka runtime: one batch consumer per topic until ``stop`` (or SIGTERM/SIGINT)."""
    stop = stop or asyncio.Event()
    bootstrap, settings = wiring.endpoints.bootstrap_servers, wiring.settings
    await asyncio.gather(
        run_batch_consumer(
            bootstrap=bootstrap,
            topic=CONTACTS.name,
            group_id=TRIAGE_GROUP,
            factory=lambda: wiring.triage(TRIAGE_GROUP),
            max_batch=settings.max_batch,
            stop=stop,
        ),
        run_batch_consumer(
            bootstrap=bootstrap,
            topic=CASEWORK.name,
            group_id=DECISIONS_GROUP,
            factory=lambda: wiring.decisions(DECISIONS_GROUP),
            max_batch=settings.decisions_max_batch,
            stop=stop,
        ),
    )


def run(endpoints: Endpoints, settings: ScreeningSettings | None = None) -> None:
    """Run the screening worker in this process with the configured runtime."""
    settings = settings or ScreeningSettings()
    if settings.runtime == "faust":
        run_worker(build_app(endpoints, settings))
        return
    asyncio.run(run_consumers(Wiring.load(endpoints, settings)))
