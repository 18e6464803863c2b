"""Composition root of the out-of-hours service: the only place that wires its adapters.

Two stream use cases, each with its own PostgreSQL pool and producer — ``frontdoor.casework`` →
``crisis.raised`` on ``frontdoor.crisis`` (and actions into the night's record), and
``frontdoor.crisis`` → the night's record — plus the automatic handover. Two runtimes drive the
same handlers with the same at-least-once contract (``FRONTDOOR_OOH_RUNTIME``): plain aiokafka
batch consumers (the default, for the crisis stream's latency) or the faust agents of
``agents.py``. The working-day calendar and office hours are loaded once, before anything is
consumed. The CLI opens the same ports through ``open_ports``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import faust

from schemas.topics import CASEWORK, CRISIS
from services.common.calendar import OfficeHours, WorkingCalendar
from services.common.consuming import run_batch_consumer
from services.common.db import create_pool
from services.common.kafka import new_producer
from services.common.publishing import KafkaPublisher
from services.common.settings import Endpoints
from services.common.streaming import BatchHandler, make_app, run_worker
from services.outofhours import agents
from services.outofhours.adapters.night import PostgresNightReader
from services.outofhours.adapters.postgres import PostgresRecordStore
from services.outofhours.config import OohSettings
from services.outofhours.domain.shifts import Shift, shift_for, shift_to_publish
from services.outofhours.handlers import CaseworkHandler, CrisisRecordHandler
from services.outofhours.handover import HandoverScheduler

CASEWORK_GROUP = "frontdoor-outofhours-casework"
RECORD_GROUP = "frontdoor-outofhours-record"
FAUST_GROUP = "frontdoor-outofhours"


def now() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def open_ports(
    endpoints: Endpoints, pool_size: int = 2
) -> AsyncIterator[tuple[asyncpg.Pool, KafkaPublisher]]:
    """A PostgreSQL pool and a started producer, closed on exit."""
    pool = await create_pool(endpoints.database_url, max_size=pool_size)
    producer = new_producer(endpoints.bootstrap_servers)
    try:
        await producer.start()
        yield pool, KafkaPublisher(producer)
    finally:
        await producer.stop()
        await pool.close()


@dataclass(frozen=True)
class Wiring:
    """Everything the handlers need that is loaded once per process."""

    endpoints: Endpoints
    settings: OohSettings
    calendar: WorkingCalendar
    office: OfficeHours

    @classmethod
    def load(cls, endpoints: Endpoints, settings: OohSettings | None = None) -> Wiring:
        settings = settings or OohSettings()
        calendar = WorkingCalendar.england_and_wales()
        return cls(endpoints, settings, calendar, settings.office_hours())

    def shift_of(self, moment: datetime) -> Shift:
        return shift_for(moment, self.calendar, self.office)

    def out_of_hours(self, moment: datetime) -> bool:
        return not self.calendar.is_office_hours(moment, self.office)

    def casework(self, consumer_group: str) -> AbstractAsyncContextManager[BatchHandler]:
        @asynccontextmanager
        async def opened() -> AsyncIterator[BatchHandler]:
            async with open_ports(self.endpoints, self.settings.pool_size) as (pool, publisher):
                yield CaseworkHandler(
                    store=PostgresRecordStore(pool),
                    publisher=publisher,
                    out_of_hours=self.out_of_hours,
                    shift_of=self.shift_of,
                    consumer_group=consumer_group,
                    clock=now,
                ).handle_batch

        return opened()

    def record(self, consumer_group: str) -> AbstractAsyncContextManager[BatchHandler]:
        @asynccontextmanager
        async def opened() -> AsyncIterator[BatchHandler]:
            async with open_ports(self.endpoints, self.settings.pool_size) as (pool, publisher):
                yield CrisisRecordHandler(
                    store=PostgresRecordStore(pool),
                    publisher=publisher,
                    shift_of=self.shift_of,
                    consumer_group=consumer_group,
                    clock=now,
                ).handle_batch

        return opened()

    def scheduler(self, stop: asyncio.Event) -> Callable[[], Awaitable[None]] | None:
        if not self.settings.auto_handover:
            return None
        settings = self.settings

        async def run() -> None:
            async with open_ports(self.endpoints) as (pool, publisher):
                await HandoverScheduler(
                    reader=PostgresNightReader(pool),
                    publisher=publisher,
                    shift_to_publish=lambda moment: shift_to_publish(
                        moment, self.calendar, self.office, settings.handover_publish_at
                    ),
                    team=settings.day_team,
                    clock=now,
                    interval=settings.handover_check_seconds,
                ).run(stop)

        return run


def build_app(endpoints: Endpoints, settings: OohSettings | None = None) -> faust.App:
    """The faust runtime: both agents and the automatic handover on one app."""
    wiring = Wiring.load(endpoints, settings)
    app = make_app("outofhours", bootstrap=endpoints.bootstrap_servers, app_id=FAUST_GROUP)
    agents.register(
        app,
        lambda: wiring.casework(FAUST_GROUP),
        lambda: wiring.record(FAUST_GROUP),
        wiring.scheduler(asyncio.Event()),
        wiring.settings,
    )
    return app


async def run_consumers(wiring: Wiring, stop: asyncio.Event | None = None) -> None:
    """The aiokafka runtime: one batch consumer per topic, and the automatic handover."""
    stop = stop or asyncio.Event()
    bootstrap, settings = wiring.endpoints.bootstrap_servers, wiring.settings
    tasks: list[Awaitable[None]] = [
        run_batch_consumer(
            bootstrap=bootstrap,
            topic=CASEWORK.name,
            group_id=CASEWORK_GROUP,
            factory=lambda: wiring.casework(CASEWORK_GROUP),
            max_batch=settings.max_batch,
            stop=stop,
        ),
        run_batch_consumer(
            bootstrap=bootstrap,
            topic=CRISIS.name,
            group_id=RECORD_GROUP,
            factory=lambda: wiring.record(RECORD_GROUP),
            max_batch=settings.max_batch,
            stop=stop,
        ),
    ]
    scheduler = wiring.scheduler(stop)
    if scheduler is not None:
        tasks.append(scheduler())
    await asyncio.gather(*tasks)


def run(endpoints: Endpoints, settings: OohSettings | None = None) -> None:
    """Run the out-of-hours worker in this process with the configured runtime."""
    settings = settings or OohSettings()
    if settings.runtime == "faust":
        run_worker(build_app(endpoints, settings))
        return
    asyncio.run(run_consumers(Wiring.load(endpoints, settings)))
