"""Composition root of the out-of-hours service: its two subscriptions and the automatic handover.

- ``frontdoor.casework`` → ``CaseworkHandler`` (ledger ``outofhours.casework``, group
  ``frontdoor-outofhours-casework``): the crisis triggers and ``ooh.action_recorded``; every
  other type is skipped unread.
- ``frontdoor.crisis`` → ``CrisisRecordHandler`` (ledger ``outofhours.record``, group
  ``frontdoor-outofhours-record``): every record, since a type that does not belong on the crisis
  stream is a dead letter, not a skip.
- the automatic handover, a background task (``Service.tasks``) that checks every
  ``handover_check_seconds`` and announces through the outbox, outside any batch's transaction.

Both run on the shared pipeline and the stack's default runtime (``FRONTDOOR_RUNTIME``, or
``FRONTDOOR_OOH_RUNTIME`` for this service alone). The working-day calendar and office hours are
loaded once, when the service is declared. The CLI's handover commands open the same ports
through ``open_ports``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.topics import CASEWORK, CRISIS
from services.common import runtime
from services.common.calendar import WorkingCalendar
from services.common.pipeline import Handler, Subscription
from services.common.rebuild import Views
from services.common.runtime import Resources, Service
from services.common.settings import Endpoints
from services.outofhours.adapters.handover_clock import tick_every
from services.outofhours.adapters.night import PostgresNightReader
from services.outofhours.adapters.outbox import OutboxAnnouncements
from services.outofhours.adapters.postgres import PostgresRecordStore
from services.outofhours.config import OohSettings
from services.outofhours.domain.shifts import Shift, shift_for, shift_to_publish
from services.outofhours.handlers import (
    CASEWORK_TYPES,
    CaseworkHandler,
    CrisisRecordHandler,
    HandoverScheduler,
)
from services.outofhours.ports import Announcements, NightReader

CASEWORK_CONSUMER = "outofhours.casework"
RECORD_CONSUMER = "outofhours.record"
"""The ledger names (``processed_events.consumer``) of the two subscriptions."""

VIEWS = Views(
    tables=("ooh_crisis_items", "ooh_actions"),
    processing_time={
        "ooh_crisis_items": ("seq", "recorded_at"),
        "ooh_actions": ("seq", "recorded_at"),
    },
)
"""What ``frontdoor rebuild outofhours`` recomputes from ``events``. The handovers and their
acknowledgements are announcements of the 09:00 task, not in ``events``: never rebuilt. ``seq``
is a serial, numbered in the order rows were written."""


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Ports:
    """What the handover use cases need: the night's record to read, the outbox to announce to."""

    reader: NightReader
    announcements: Announcements


def handover_ports(resources: Resources) -> Ports:
    return Ports(
        reader=PostgresNightReader(resources.pool),
        announcements=OutboxAnnouncements(resources.ledger, resources.relay),
    )


@asynccontextmanager
async def open_ports(endpoints: Endpoints, pool_size: int = 2) -> AsyncIterator[Ports]:
    """The handover's ports on a PostgreSQL pool and a started producer, closed on exit."""
    async with runtime.open_resources(endpoints, pool_size=pool_size, patience=5.0) as resources:
        yield handover_ports(resources)


def service(settings: OohSettings | None = None) -> Service:
    settings = settings or OohSettings()
    calendar = WorkingCalendar.england_and_wales()
    office = settings.office_hours()

    def shift_of(moment: datetime) -> Shift:
        return shift_for(moment, calendar, office)

    def out_of_hours(moment: datetime) -> bool:
        return not calendar.is_office_hours(moment, office)

    def owed(moment: datetime) -> Shift | None:
        return shift_to_publish(moment, calendar, office, settings.handover_publish_at)

    @asynccontextmanager
    async def casework(_resources: Resources) -> AsyncIterator[Handler]:
        yield CaseworkHandler(PostgresRecordStore, out_of_hours, shift_of)

    @asynccontextmanager
    async def record(_resources: Resources) -> AsyncIterator[Handler]:
        yield CrisisRecordHandler(PostgresRecordStore, shift_of)

    def tasks(resources: Resources, stop: asyncio.Event) -> Sequence[Awaitable[None]]:
        if not settings.auto_handover:
            return ()
        ports = handover_ports(resources)
        scheduler = HandoverScheduler(
            reader=ports.reader,
            announcements=ports.announcements,
            shift_to_publish=owed,
            team=settings.day_team,
            clock=now,
        )
        return (tick_every(settings.handover_check_seconds, scheduler.tick, stop),)

    return Service(
        name="outofhours",
        subscriptions=(
            Subscription(
                consumer=CASEWORK_CONSUMER,
                topic=CASEWORK.name,
                group=settings.casework_group,
                handler=casework,
                event_types=CASEWORK_TYPES,
                max_batch=settings.max_batch,
                within=settings.batch_within_seconds,
            ),
            Subscription(
                consumer=RECORD_CONSUMER,
                topic=CRISIS.name,
                group=settings.record_group,
                handler=record,
                max_batch=settings.max_batch,
                within=settings.batch_within_seconds,
            ),
        ),
        tasks=tasks,
        pool_size=settings.pool_size,
    )


def run(endpoints: Endpoints, settings: OohSettings | None = None) -> None:
    """Run the out-of-hours worker in this process on the configured runtime."""
    settings = settings or OohSettings()
    runtime.run(service(settings), endpoints, settings.runtime)
