"""Composition root of the dead-letter service: its one subscription, declared once.

``frontdoor.deadletter`` → the keeping handler, as a *raw* subscription (records are not events:
the pipeline identifies each letter by its ``dlq.id`` and does not decode or check headers), on
the shared pipeline and the default runtime (``FRONTDOOR_RUNTIME``, or
``FRONTDOOR_DEADLETTER_RUNTIME`` for this service alone). ``frontdoor dlq``
(``services/cli/dlq.py``) opens the replay side's adapters itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from schemas.topics import DEADLETTER
from services.common import runtime
from services.common.pipeline import Handler, Subscription
from services.common.runtime import Resources, Service
from services.common.settings import Endpoints
from services.deadletter.adapters.postgres import PostgresLetterStore
from services.deadletter.config import CONSUMER, DeadletterSettings
from services.deadletter.handlers import DeadLetterHandler


@asynccontextmanager
async def _handler(_resources: Resources) -> AsyncIterator[Handler]:
    yield DeadLetterHandler(PostgresLetterStore)


def service(settings: DeadletterSettings | None = None) -> Service:
    settings = settings or DeadletterSettings()
    return Service(
        name="deadletter",
        subscriptions=(
            Subscription(
                consumer=CONSUMER,
                topic=DEADLETTER.name,
                group=settings.consumer_group,
                handler=_handler,
                raw=True,
                max_batch=settings.max_batch,
                within=settings.batch_within_seconds,
            ),
        ),
        pool_size=settings.pool_size,
    )


def run(endpoints: Endpoints, settings: DeadletterSettings | None = None) -> None:
    settings = settings or DeadletterSettings()
    runtime.run(service(settings), endpoints, settings.runtime)
