"""Composition root of the workforce service: its two subscriptions, declared once.

``frontdoor.workforce`` (teams, workers, allocations, supervision, ASYE, audits; not its own
alerts) and, from ``frontdoor.casework``, the events that name a team or worker (resolved against
the directory; a referral also starts the referral → allocation clock) → the workforce handler,
on the shared pipeline and the default runtime. The profiles (dated rules) and the working-day
calendar are loaded once, refusing to start on a bad profiles file. One task per subscription
feeds its parked events (named an id before the directory caught up) through the pipeline again.
``VIEWS`` is what ``frontdoor rebuild --view workforce`` recomputes from ``events``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events.workforce import DIRECTORY_KEY
from schemas.topics import CASEWORK, WORKFORCE
from services.common import runtime
from services.common.calendar import WorkingCalendar
from services.common.deadletter import Origin
from services.common.periodic import every
from services.common.pipeline import Handler, HandlerFactory, Pipeline, Subscription
from services.common.rebuild import Views
from services.common.runtime import Resources, Service
from services.common.settings import Endpoints
from services.workforce.adapters.postgres import PostgresWorkforceStore
from services.workforce.config import WorkforceSettings
from services.workforce.domain.profiles import ProfileBook
from services.workforce.handlers import WorkforceHandler
from services.workforce.policies import load_profiles

CONSUMER = "workforce"
CASEWORK_CONSUMER = "workforce.casework"
DIRECTORY_TYPES = frozenset(t for t in WORKFORCE.event_types if t != "workforce.alert_raised")
CASEWORK_TYPES = frozenset(
    {"referral.accepted", "screening.decision_recorded", "assessment.started", "ooh.alert_raised"}
)
"""Casework events that name a team (and maybe a worker) the directory must know. Not
``ooh.action_recorded``: its ``worker`` is the night worker signed in to the out-of-hours watch
(an account name), not yet a directory id."""

_EVER = datetime.min.replace(tzinfo=UTC)


async def settle(conn: Any, consumer: str) -> Sequence[Origin]:
    """The rebuild's ``refeed``: parked events the directory has now caught up with (never the
    processing-time expiry — a rebuild does not wait, so it decides nothing by waiting)."""
    return await PostgresWorkforceStore(conn).ready(consumer, expired_before=_EVER, limit=500)


_PARKED = "{shadow}.workforce_parked s"
_LIVE_TWIN = "l.consumer = s.consumer AND l.event_id = s.event_id"

VIEWS = Views(
    tables=(
        "workforce_teams",
        "workforce_workers",
        "workforce_worker_terms",
        "workforce_leave",
        "workforce_asye_pauses",
        "workforce_asye_reviews",
        "workforce_sessions",
        "workforce_case_entries",
        "workforce_allocations",
        "workforce_referrals",
        "workforce_audits",
        "workforce_clocks",
        "workforce_alerts",
        "workforce_directory_through",
        "workforce_parked",
    ),
    processing_time={"workforce_parked": ("parked_at",)},
    # the directory before the children: an allocation or a referral finds its team and worker
    # (read per child, the directory's key sorts last and everything would wait for it)
    read_first=(DIRECTORY_KEY,),
    settle=settle,
    keep_from_live=(
        # still parked once the whole history is in: the id is unknown and the directory has
        # not reached the event's time. Unclaimed (as ``Unit.defer`` leaves it), so the live
        # worker decides it when the directory moves on or the park runs out ...
        f"DELETE FROM public.processed_events e USING {_PARKED} "
        "WHERE e.consumer = s.consumer AND e.event_id = s.event_id",
        # ... counted from when the live worker parked it, not from the rebuild ...
        f"UPDATE {_PARKED} SET parked_at = l.parked_at FROM public.workforce_parked l "
        f"WHERE {_LIVE_TWIN}",
        # ... and kept only if the live worker holds it too: one it refused already stays
        # refused (no second dead letter), one it has not read yet it parks itself
        f"DELETE FROM {_PARKED} WHERE NOT EXISTS "
        f"(SELECT 1 FROM public.workforce_parked l WHERE {_LIVE_TWIN})",
    ),
)
"""The workforce's views (migrations/): the directory, its facts, the workforce clocks (its own
``workforce_clocks``, which the SLA board reads beside ``sla_timers``: this service writes no
row of the SLA service's tables, so the two rebuilds share nothing), the allocation alerts and
the directory's progress. Every column is event time but ``workforce_parked.parked_at`` (the
park's processing-time bound). The alerts a rebuild recomputes are not emitted again (the feed
sends nothing to Kafka)."""


def handler_factory(
    book: ProfileBook, calendar: WorkingCalendar, *, park_seconds: float
) -> HandlerFactory:
    def opened(_resources: Resources) -> AbstractAsyncContextManager[Handler]:
        @asynccontextmanager
        async def handler() -> AsyncIterator[Handler]:
            yield WorkforceHandler(
                PostgresWorkforceStore, book, calendar, park_seconds=park_seconds
            )

        return handler()

    return opened


async def refeed(
    sub: Subscription, resources: Resources, stop: asyncio.Event, settings: WorkforceSettings
) -> None:
    """Feed ``sub``'s parked events that are worth another look through the pipeline again."""
    async with sub.handler(resources) as handler:
        pipeline = Pipeline(sub, handler, resources.ledger, resources.relay)

        async def once() -> None:
            expired = datetime.now(UTC) - timedelta(seconds=settings.park_seconds)
            async with resources.pool.acquire() as conn:
                origins = await PostgresWorkforceStore(conn).ready(
                    sub.consumer, expired_before=expired, limit=sub.max_batch
                )
            if origins:
                await pipeline.process(origins)

        await every(settings.refeed_interval_seconds, stop, once, name=f"refeed-{sub.consumer}")


def service(settings: WorkforceSettings | None = None) -> Service:
    settings = settings or WorkforceSettings()
    factory = handler_factory(
        load_profiles(settings.profiles_file),
        WorkingCalendar.england_and_wales(),
        park_seconds=settings.park_seconds,
    )
    chosen = settings

    def tasks(resources: Resources, stop: asyncio.Event) -> Sequence[Awaitable[None]]:
        return [refeed(sub, resources, stop, chosen) for sub in subscriptions]

    subscriptions = (
        Subscription(
            consumer=CONSUMER,
            topic=WORKFORCE.name,
            group=settings.consumer_group,
            handler=factory,
            event_types=DIRECTORY_TYPES,
            max_batch=settings.max_batch,
            within=settings.batch_within_seconds,
        ),
        Subscription(
            consumer=CASEWORK_CONSUMER,
            topic=CASEWORK.name,
            group=settings.casework_group,
            handler=factory,
            event_types=CASEWORK_TYPES,
            max_batch=settings.max_batch,
            within=settings.batch_within_seconds,
        ),
    )
    return Service(
        name="workforce", subscriptions=subscriptions, tasks=tasks, pool_size=settings.pool_size
    )


def run(endpoints: Endpoints, settings: WorkforceSettings | None = None) -> None:
    settings = settings or WorkforceSettings()
    runtime.run(service(settings), endpoints, settings.runtime)
