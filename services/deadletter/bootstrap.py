"""Composition root of the dead-letter service: its one subscription, declared once.

``frontdoor.deadletter`` → the keeping handler, as a *raw* subscription (records are not events:
the pipeline identifies each letter by its ``dlq.id`` and does not decode or check headers), on
the shared pipeline and the default runtime (``FRONTDOOR_RUNTIME``, or
``FRONTDOOR_DEADLETTER_RUNTIME`` for this service alone).

The replay side is wired here too, once, for both of its callers — ``frontdoor dlq replay``
(``services/cli/dlq.py``) and the ops dead-letter console (``services/ops/adapters/
deadletters.py``): ``preview`` (what a replay would re-send) and ``replay`` (re-send, audited),
over the caller's pool, the ``deadletters`` book and a Kafka resender.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from schemas.topics import DEADLETTER
from services.common import runtime
from services.common.ledger import PostgresLedger
from services.common.pipeline import Handler, Subscription
from services.common.runtime import Resources, Service
from services.common.settings import Endpoints
from services.deadletter.adapters.kafka import KafkaResender
from services.deadletter.adapters.postgres import PostgresLetterStore, PostgresReplayBook
from services.deadletter.config import CONSUMER, DeadletterSettings
from services.deadletter.domain.replay import (
    ReplayChoice,
    ReplayCountChangedError,
    ReplayRefusedError,
    StoredLetter,
)
from services.deadletter.handlers import DeadLetterHandler, preview_letters, replay_letters

__all__ = [
    "ReplayChoice",
    "ReplayCountChangedError",
    "ReplayRefusedError",
    "StoredLetter",
    "preview",
    "replay",
    "run",
    "service",
]


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


def _book(pool: asyncpg.Pool) -> PostgresReplayBook:
    return PostgresReplayBook(PostgresLedger(pool), consumer=CONSUMER)


async def preview(pool: asyncpg.Pool, choice: ReplayChoice) -> list[StoredLetter]:
    """The letters a replay with ``choice`` would re-send now; nothing is taken or sent."""
    return await preview_letters(_book(pool), choice)


async def replay(
    pool: asyncpg.Pool,
    bootstrap_servers: str,
    choice: ReplayChoice,
    *,
    actor: str,
    expected: int | None = None,
) -> int:
    """Re-send the letters ``choice`` names, audited as ``actor``; how many were re-sent.
    ``expected``: the count the caller confirmed (see ``handlers.replay_letters``)."""
    return await replay_letters(
        _book(pool),
        KafkaResender(bootstrap_servers),
        ids=choice.ids,
        reason=choice.reason,
        event_type=choice.event_type,
        agency=choice.agency,
        json_only=not choice.raw,
        expected=expected,
        actor=actor,
    )
