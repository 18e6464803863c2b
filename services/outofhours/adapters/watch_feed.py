"""The watch view's data side: the night's items from PostgreSQL, live; actions to partner.events.

On open it reads the whole night from the record (so whatever arrived while the view was closed is
there), then ``LISTEN``\\s on ``ooh_record``: the outofhours worker notifies when a batch of items
or actions commits, and the view re-reads. Reading the table, not the topic, is what keeps the
view free of duplicates (one row per crisis event id) and lets any number of watchers start at
once without each joining a consumer group. Acknowledging or recording an action publishes an
``ooh.action_recorded`` from the ``ooh`` agency to ``partner.events``; intake takes it from there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg
from aiokafka import AIOKafkaProducer

from schemas.events.outofhours import OohActionKind, OohActionRecorded
from schemas.topics import PARTNER_EVENTS, SPEAKER_HEADER
from services.common.db import create_pool
from services.common.kafka import new_producer
from services.common.settings import Endpoints
from services.outofhours.adapters.child_cards import child_cards
from services.outofhours.adapters.night import PostgresNightReader
from services.outofhours.adapters.postgres import NOTIFY_CHANNEL
from services.outofhours.domain.actions import acknowledgement_of, action_on
from services.outofhours.domain.cards import ChildCard
from services.outofhours.domain.record import CrisisItem
from services.outofhours.domain.shifts import Shift


class PostgresWatchFeed:
    """A night's items, change notifications and the duty worker's actions (``ports.WatchFeed``)."""

    def __init__(
        self,
        endpoints: Endpoints,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], UUID] = uuid4,
    ) -> None:
        self._endpoints = endpoints
        self._clock = clock
        self._new_id = new_id
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._producer: AIOKafkaProducer | None = None

    async def open(self, on_change: Callable[[], None]) -> None:
        self._pool = await create_pool(self._endpoints.database_url, max_size=2)
        self._listener = await asyncpg.connect(self._endpoints.database_url)
        await self._listener.add_listener(NOTIFY_CHANNEL, lambda *_: on_change())
        self._producer = new_producer(self._endpoints.bootstrap_servers, linger_ms=0)
        await self._producer.start()

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        if self._pool is not None:
            await self._pool.close()

    async def items(self, shift: Shift) -> list[CrisisItem]:
        if self._pool is None:
            raise RuntimeError("the watch feed is not open")
        return await PostgresNightReader(self._pool).items(shift)

    async def cards(self, child_ids: Sequence[str]) -> dict[str, ChildCard]:
        if self._pool is None:
            raise RuntimeError("the watch feed is not open")
        return await child_cards(self._pool, child_ids)

    async def acknowledge(self, item: CrisisItem, *, worker: str) -> OohActionRecorded:
        event = acknowledgement_of(
            item, worker=worker, at=self._clock(), event_id=self._new_id(), action_id=self._new_id()
        )
        await self._publish(event)
        return event

    async def record_action(
        self,
        item: CrisisItem,
        *,
        summary: str,
        decision_reason: str,
        worker: str,
        kind: OohActionKind | None = None,
    ) -> OohActionRecorded:
        event = action_on(
            item,
            summary=summary,
            decision_reason=decision_reason,
            worker=worker,
            at=self._clock(),
            event_id=self._new_id(),
            action_id=self._new_id(),
            kind=kind,
        )
        await self._publish(event)
        return event

    async def _publish(self, event: OohActionRecorded) -> None:
        if self._producer is None:
            raise RuntimeError("the watch feed is not open")
        # frontdoor's own front end for the night team: it stamps the agency it speaks for, as
        # ingress does for an API key (services/intake/domain/speakers.py)
        await self._producer.send_and_wait(
            PARTNER_EVENTS.name,
            event.model_dump_json().encode(),
            key=event.subject.child_id.encode(),
            headers=[(SPEAKER_HEADER, event.source.agency.value.encode())],
        )
