"""Composition root of the conferences service: its one subscription, declared once.

``frontdoor.casework`` (the types `HANDLED_EVENT_TYPES` names) → the conferences handler, on the
shared pipeline and the default runtime (``FRONTDOOR_RUNTIME``, or
``FRONTDOOR_CONFERENCES_RUNTIME`` for this service alone). `service` loads the conference rules
for ``FRONTDOOR_POLICY`` (with a council's file from ``FRONTDOOR_CONFERENCES_RULES_FILE`` laid
over them) and the working-day calendar once, refusing to start on bad rules. The handler's store
is bound to each batch's connection; the outbox relays what it emits after the commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from schemas.topics import CASEWORK
from services.common import runtime
from services.common.calendar import WorkingCalendar
from services.common.pipeline import Handler, HandlerFactory, Subscription
from services.common.rebuild import Views
from services.common.runtime import Resources, Service
from services.common.settings import Endpoints
from services.conferences.adapters.postgres import PostgresConferenceStore
from services.conferences.adapters.rules import load_rules
from services.conferences.config import ConferencesSettings
from services.conferences.domain.processing import HANDLED_EVENT_TYPES
from services.conferences.domain.rules import ConferenceRules
from services.conferences.handlers import ConferenceHandler

CONSUMER = "conferences"
"""The ledger name (``processed_events.consumer``) of the conferences subscription."""

VIEWS = Views(
    tables=(
        "conference_children",
        "conference_referrals",
        "conference_enquiries",
        "conferences",
        "conference_invitations",
        "conference_reports",
        "cp_plans",
    ),
    processing_time=dict.fromkeys(
        (
            "conference_children",
            "conference_referrals",
            "conference_enquiries",
            "conferences",
            "cp_plans",
        ),
        ("updated_at",),
    ),
)
"""What ``frontdoor rebuild conferences`` recomputes from ``events`` (parents first)."""


def handler_factory(rules: ConferenceRules, calendar: WorkingCalendar) -> HandlerFactory:
    def opened(_resources: Resources) -> AbstractAsyncContextManager[Handler]:
        @asynccontextmanager
        async def handler() -> AsyncIterator[Handler]:
            yield ConferenceHandler(PostgresConferenceStore, rules, calendar)

        return handler()

    return opened


def service(settings: ConferencesSettings | None = None) -> Service:
    settings = settings or ConferencesSettings()
    rules = load_rules(settings.policy, settings.rules_file)
    calendar = WorkingCalendar.england_and_wales()
    return Service(
        name="conferences",
        subscriptions=(
            Subscription(
                consumer=CONSUMER,
                topic=CASEWORK.name,
                group=settings.consumer_group,
                handler=handler_factory(rules, calendar),
                event_types=HANDLED_EVENT_TYPES,
                max_batch=settings.max_batch,
                within=settings.batch_within_seconds,
            ),
        ),
        pool_size=settings.pool_size,
    )


def run(endpoints: Endpoints, settings: ConferencesSettings | None = None) -> None:
    settings = settings or ConferencesSettings()
    runtime.run(service(settings), endpoints, settings.runtime)
