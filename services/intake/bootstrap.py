"""Composition root of the intake service: its one subscription, declared once.

``partner.events`` → the intake handler, on the shared pipeline and the default runtime
(``FRONTDOOR_RUNTIME``, or ``FRONTDOOR_INTAKE_RUNTIME`` for this service alone).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from schemas.topics import PARTNER_EVENTS
from services.common import runtime
from services.common.pipeline import Handler, Subscription
from services.common.runtime import Resources, Service
from services.common.settings import Endpoints
from services.intake.adapters.postgres import PostgresEventStore
from services.intake.config import IntakeSettings
from services.intake.handlers import IntakeHandler

CONSUMER = "intake"
"""The ledger name (``processed_events.consumer``) of intake's subscription."""


@asynccontextmanager
async def _handler(_resources: Resources) -> AsyncIterator[Handler]:
    yield IntakeHandler(PostgresEventStore)


def service(settings: IntakeSettings | None = None) -> Service:
    settings = settings or IntakeSettings()
    return Service(
        name="intake",
        subscriptions=(
            Subscription(
                consumer=CONSUMER,
                topic=PARTNER_EVENTS.name,
                group=settings.consumer_group,
                handler=_handler,
                max_batch=settings.max_batch,
                within=settings.batch_within_seconds,
                max_bytes=settings.max_event_bytes,
            ),
        ),
        pool_size=settings.pool_size,
    )


def run(endpoints: Endpoints, settings: IntakeSettings | None = None) -> None:
    settings = settings or IntakeSettings()
    runtime.run(service(settings), endpoints, settings.runtime)
