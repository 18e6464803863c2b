"""Composition root of the screening service: its two subscriptions, declared once.

``frontdoor.contacts`` → triage (``screening.triaged`` / ``crisis.raised``), and
``screening.decision_recorded`` on ``frontdoor.casework`` → the decisions, both on the shared
pipeline and the configured runtime (``FRONTDOOR_SCREENING_RUNTIME``, else the stack default).
Every edition of the rules (the book, each edition dated) and the working-day calendar are
loaded once, in ``service``, before anything is consumed, so a bad rules file or a gap between
editions stops the worker at start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from schemas.topics import CASEWORK, CONTACTS
from services.common import runtime
from services.common.calendar import WorkingCalendar
from services.common.pipeline import Handler, HandlerFactory, Subscription
from services.common.rebuild import Views
from services.common.runtime import Resources, Service
from services.common.settings import Endpoints
from services.screening.adapters.horizon import IntakeHorizon
from services.screening.adapters.postgres import PostgresScreeningStore
from services.screening.adapters.rules_file import load_rule_book
from services.screening.config import ScreeningSettings
from services.screening.domain.deadlines import office_hours_test, triage_window_deadline
from services.screening.handlers import DecisionHandler, TriageHandler

TRIAGE_CONSUMER = "screening.triage"
DECISIONS_CONSUMER = "screening.decisions"
"""The ledger names (``processed_events.consumer``) of the two subscriptions."""
DECISION_TYPE = "screening.decision_recorded"

VIEWS = Views(
    tables=("screening_decisions", "screening_results"),
    processing_time={
        "screening_results": ("recorded_at",),
        "screening_decisions": ("recorded_at",),
    },
)
"""What ``frontdoor rebuild screening`` recomputes from ``events`` (services/common/rebuild.py)."""


def _opened(handler: Handler) -> HandlerFactory:
    @asynccontextmanager
    async def factory(_resources: Resources) -> AsyncIterator[Handler]:
        yield handler

    return factory


def service(settings: ScreeningSettings | None = None) -> Service:
    settings = settings or ScreeningSettings()
    rules = load_rule_book(settings.rules_path)
    calendar = WorkingCalendar.england_and_wales()
    office = settings.office_hours()
    followed: list[IntakeHorizon] = []

    def horizon() -> datetime | None:
        return followed[0].value if followed else None

    triage = TriageHandler(
        PostgresScreeningStore,
        rules,
        deadline=triage_window_deadline,
        in_office_hours=office_hours_test(calendar, office),
        horizon=horizon,
        history_wait_seconds=settings.history_wait_seconds,
    )

    def tasks(resources: Resources, stop: asyncio.Event) -> Sequence[Awaitable[None]]:
        if settings.history_wait_seconds <= 0:
            return ()
        follower = IntakeHorizon(
            resources.endpoints.bootstrap_servers, resources.pool, settings.intake_groups
        )
        followed.append(follower)
        return (follower.follow(stop),)

    return Service(
        name="screening",
        subscriptions=(
            # every type: an event that does not belong on the contacts topic is dead-lettered
            Subscription(
                consumer=TRIAGE_CONSUMER,
                topic=CONTACTS.name,
                group=settings.triage_group,
                handler=_opened(triage),
                max_batch=settings.max_batch,
                within=settings.batch_within_seconds,
            ),
            Subscription(
                consumer=DECISIONS_CONSUMER,
                topic=CASEWORK.name,
                group=settings.decisions_group,
                handler=_opened(DecisionHandler(PostgresScreeningStore)),
                event_types=frozenset({DECISION_TYPE}),
                max_batch=settings.decisions_max_batch,
                within=settings.decisions_within_seconds,
            ),
        ),
        tasks=tasks,
        pool_size=settings.pool_size,
    )


def run(endpoints: Endpoints, settings: ScreeningSettings | None = None) -> None:
    settings = settings or ScreeningSettings()
    runtime.run(service(settings), endpoints, settings.runtime)
