"""Composition root of the intake service: its subscriptions, declared once.

``partner.events`` and every agency's lane ``partner.events.<agency>`` → the intake handler, in
one consumer group (one consumer reads them all), on the shared pipeline and the default runtime
(``FRONTDOOR_RUNTIME``, or ``FRONTDOOR_INTAKE_RUNTIME`` for this service alone). All share the
ledger name ``intake``, so an event that arrives by two paths is recorded once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from schemas.roles import load_role_table
from schemas.topics import INTAKE_TOPICS
from services.common import runtime
from services.common.pipeline import Handler, Subscription
from services.common.runtime import Resources, Service
from services.common.settings import Endpoints
from services.intake.adapters.postgres import PostgresEventStore
from services.intake.config import IntakeSettings
from services.intake.handlers import IntakeHandler

CONSUMER = "intake"
"""The ledger name (``processed_events.consumer``) of intake's subscription."""


def service(settings: IntakeSettings | None = None) -> Service:
    settings = settings or IntakeSettings()
    roles = load_role_table(settings.roles_file)  # a broken table stops the service here

    @asynccontextmanager
    async def handler(_resources: Resources) -> AsyncIterator[Handler]:
        yield IntakeHandler(PostgresEventStore, roles=roles, mode=settings.speakers)

    return Service(
        name="intake",
        subscriptions=tuple(
            Subscription(
                consumer=CONSUMER,
                topic=topic.name,
                group=settings.consumer_group,
                handler=handler,
                max_batch=settings.max_batch,
                within=settings.batch_within_seconds,
                max_bytes=settings.max_event_bytes,
            )
            for topic in INTAKE_TOPICS
        ),
        pool_size=settings.pool_size,
    )


def run(endpoints: Endpoints, settings: IntakeSettings | None = None) -> None:
    settings = settings or IntakeSettings()
    runtime.run(service(settings), endpoints, settings.runtime)
