"""Composition root of the SLA service: the only place that wires its adapters.

`build_app` loads the policy (``FRONTDOOR_POLICY`` + ``FRONTDOOR_POLICY_OVERRIDES``) and the
working-day calendar once, refusing to start on a bad policy, and subscribes one batch agent to
every lifecycle topic whose events the policy (or the team tracking) reads. The agents share one
PostgreSQL pool and one producer, opened with the first agent and closed with the last. The
scanner task owns its own pool, producer and lease connection.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import faust
from aiokafka import AIOKafkaProducer

from schemas.topics import CASEWORK, CONFERENCES, CONTACTS, CRISIS, Topic
from services.common.calendar import WorkingCalendar
from services.common.db import create_pool
from services.common.kafka import new_producer
from services.common.publishing import KafkaPublisher
from services.common.settings import Endpoints
from services.common.streaming import BatchHandler, make_app
from services.sla import agents
from services.sla.adapters.kafka import BatchPublisher
from services.sla.adapters.leadership import PostgresLeadership
from services.sla.adapters.postgres import PostgresTimerStore
from services.sla.adapters.scanning import PostgresScanStore
from services.sla.announcements import check_policy_kinds
from services.sla.clocks import TEAM_EVENT_TYPES
from services.sla.config import SlaSettings
from services.sla.domain.policies import Policy
from services.sla.handlers import TimerHandler
from services.sla.policies import load_policy
from services.sla.scanner import Scanner

CONSUMER_GROUP = "frontdoor-sla"
LIFECYCLE_TOPICS = (CONTACTS, CASEWORK, CONFERENCES, CRISIS)


def offset_clock(offset_seconds: float) -> Callable[[], datetime]:
    """The wall clock, shifted by `offset_seconds` (0 in production; tests move time with it)."""
    offset = timedelta(seconds=offset_seconds)
    return lambda: datetime.now(UTC) + offset


def lifecycle_topics(policy: Policy) -> tuple[Topic, ...]:
    """The frontdoor topics carrying an event that starts, ends or names a clock's team."""
    wanted = policy.event_types | TEAM_EVENT_TYPES
    return tuple(t for t in LIFECYCLE_TOPICS if wanted & set(t.event_types))


class _SharedPorts:
    """One pool and one producer for every agent: opened by the first, closed by the last."""

    def __init__(self, endpoints: Endpoints, pool_size: int) -> None:
        self._endpoints = endpoints
        self._pool_size = pool_size
        self._users = 0
        self._lock = asyncio.Lock()
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None

    @asynccontextmanager
    async def use(self) -> AsyncIterator[tuple[asyncpg.Pool, KafkaPublisher]]:
        async with self._lock:
            if self._pool is None or self._producer is None:
                pool = await create_pool(self._endpoints.database_url, max_size=self._pool_size)
                producer = new_producer(self._endpoints.bootstrap_servers)
                await producer.start()
                self._pool, self._producer = pool, producer
            self._users += 1
            pool, producer = self._pool, self._producer
        try:
            yield pool, KafkaPublisher(producer)
        finally:
            async with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._pool = self._producer = None
                    await producer.stop()
                    await pool.close()


def build_app(endpoints: Endpoints, settings: SlaSettings | None = None) -> faust.App:
    settings = settings or SlaSettings()
    policy = load_policy(settings.policy, settings.policy_overrides)
    check_policy_kinds(policy)
    calendar = WorkingCalendar.england_and_wales()
    clock = offset_clock(settings.clock_offset_seconds)
    app = make_app("sla", bootstrap=endpoints.bootstrap_servers)
    shared = _SharedPorts(endpoints, settings.pool_size)

    @asynccontextmanager
    async def timers() -> AsyncIterator[BatchHandler]:
        async with shared.use() as (pool, publisher):
            yield TimerHandler(
                store=PostgresTimerStore(pool),
                publisher=publisher,
                policy=policy,
                calendar=calendar,
                consumer_group=CONSUMER_GROUP,
                clock=clock,
            ).handle_batch

    async def scanner() -> None:
        pool = await create_pool(endpoints.database_url, max_size=3)
        producer = new_producer(endpoints.bootstrap_servers)
        try:
            await producer.start()
            await Scanner(
                store=PostgresScanStore(pool),
                leadership=PostgresLeadership(
                    endpoints.database_url, name=f"frontdoor-sla-scanner:{os.getpid()}"
                ),
                publisher=BatchPublisher(producer),
                clock=clock,
                batch=settings.scan_batch,
                max_sleep=settings.scan_max_sleep_seconds,
                leader_poll=settings.leader_poll_seconds,
                grace=timedelta(seconds=settings.breach_grace_seconds),
            ).run()
        finally:
            await producer.stop()
            await pool.close()

    agents.register(app, lifecycle_topics(policy), timers, scanner, settings)
    return app
