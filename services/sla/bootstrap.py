"""Composition root of the SLA service: its subscriptions and its scanner task, declared once.

`service` loads the policy (``FRONTDOOR_POLICY`` + ``FRONTDOOR_POLICY_OVERRIDES``) and the
working-day calendar once, refusing to start on a bad policy or an early-event retention shorter
than the outbox's, and declares one subscription per lifecycle topic whose events the policy (or
the team tracking) reads — each in its own consumer group ``frontdoor-sla-<topic>``, all with the
one ledger name ``sla.timers`` (an event id is on one topic only, so one ledger serves them all
and keeps every claim made before the groups were split). The breach scanner is a task of every
worker; its lease decides which one scans. Runs on the default runtime (``FRONTDOOR_RUNTIME``, or
``FRONTDOOR_SLA_RUNTIME`` for this service alone).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from schemas.topics import CASEWORK, CONFERENCES, CONTACTS, CRISIS, Topic
from services.common import runtime
from services.common.calendar import WorkingCalendar
from services.common.outbox import Relay
from services.common.pipeline import Handler, Subscription
from services.common.rebuild import Views
from services.common.retention import Retention
from services.common.runtime import Resources, Service
from services.common.settings import Endpoints
from services.sla.adapters.kafka import BatchSender
from services.sla.adapters.leadership import PostgresLeadership
from services.sla.adapters.postgres import PostgresTimerStore
from services.sla.adapters.scanning import PostgresScanStore
from services.sla.config import SlaSettings
from services.sla.domain.announcements import check_policy_kinds
from services.sla.domain.clocks import wanted_event_types
from services.sla.domain.policies import Policies
from services.sla.handlers import TIMERS_CONSUMER, Scanner, TimerHandler
from services.sla.policies import load_book

LIFECYCLE_TOPICS = (CONTACTS, CASEWORK, CONFERENCES, CRISIS)

VIEWS = Views(
    tables=("sla_children", "sla_child_teams", "sla_timers"),
    scratch=("sla_outbox", "sla_early_events"),
    processing_time={"sla_timers": ("recorded_at", "updated_at", "warned_at", "breached_at")},
    # what the scanner announced stays announced: a rebuilt clock it already warned or breached
    # (same id, same deadline) takes that state over, so the scanner does not announce it again
    keep_from_live=(
        "UPDATE {shadow}.sla_timers s SET status = l.status, breached_at = l.breached_at "
        "FROM public.sla_timers l WHERE s.timer_id = l.timer_id AND s.status = 'open' "
        "AND l.status = 'breached' AND l.due_at = s.due_at",
        "UPDATE {shadow}.sla_timers s SET warned_at = l.warned_at "
        "FROM public.sla_timers l WHERE s.timer_id = l.timer_id AND s.warned_at IS NULL "
        "AND l.warned_at IS NOT NULL AND s.warn_at IS NOT DISTINCT FROM l.warn_at",
    ),
    # a batch locks, loads and writes only its children's rows (sla_children, their timers,
    # team marks and early events): the rebuild may share the children between lanes
    by_child=True,
    readers_indexes=(
        "sla_timers_breached",
        "sla_timers_due",
        "sla_timers_due_all",
        "sla_timers_live",
        "sla_timers_live_kind",
        "sla_timers_overdue_when_recorded",
        "sla_timers_warn",
        "sla_early_events_age",
    ),
)
"""What ``frontdoor rebuild sla`` recomputes from ``events``; ``sla_outbox`` (scheduled
announcements) and ``sla_early_events`` (the buffer of events that arrived before their clock's
start: what is in it depends on the order the topics were read) are written in the shadow and
dropped: a rebuild announces nothing and leaves the live buffer as it is."""


def offset_clock(offset_seconds: float) -> Callable[[], datetime]:
    """The wall clock, shifted by `offset_seconds` (0 in production; tests move time with it)."""
    offset = timedelta(seconds=offset_seconds)
    return lambda: datetime.now(UTC) + offset


def lifecycle_topics(policy: Policies) -> tuple[Topic, ...]:
    """The frontdoor topics carrying an event that starts, ends or names a clock's team."""
    wanted = wanted_event_types(policy)
    return tuple(t for t in LIFECYCLE_TOPICS if wanted & set(t.event_types))


def group_for(topic: Topic, prefix: str) -> str:
    """``frontdoor.casework`` → ``frontdoor-sla-casework``."""
    return f"{prefix}-{topic.name.rsplit('.', 1)[-1]}"


def check_early_event_retention(settings: SlaSettings, kept: Retention) -> None:
    """Refuse an early-event retention shorter than the outbox's (see ``config.py``)."""
    if settings.early_event_retention_days < kept.outbox_days:
        raise ValueError(
            f"FRONTDOOR_SLA_EARLY_EVENT_RETENTION_DAYS={settings.early_event_retention_days:g} "
            f"is shorter than the outbox's {kept.outbox_days:g} days: a start caught up from "
            "PostgreSQL could miss the early event that closes its clock"
        )


def service(settings: SlaSettings | None = None) -> Service:
    settings = settings or SlaSettings()
    policy = load_book(settings.policy_overrides)
    check_policy_kinds(policy)
    check_early_event_retention(settings, Retention.from_env())
    calendar = WorkingCalendar.england_and_wales()
    clock = offset_clock(settings.clock_offset_seconds)

    @asynccontextmanager
    async def timers(_resources: Resources) -> AsyncIterator[Handler]:
        yield TimerHandler(PostgresTimerStore, policy, calendar, clock)

    wanted = wanted_event_types(policy)
    subscriptions = tuple(
        Subscription(
            consumer=TIMERS_CONSUMER,
            topic=topic.name,
            group=group_for(topic, settings.consumer_group_prefix),
            handler=timers,
            event_types=wanted,
            max_batch=settings.max_batch,
            within=settings.batch_within_seconds,
        )
        for topic in lifecycle_topics(policy)
    )

    def tasks(resources: Resources, stop: asyncio.Event) -> Sequence[Awaitable[None]]:
        return (scanner(resources, settings, clock).run(stop),)

    return Service(
        name="sla", subscriptions=subscriptions, tasks=tasks, pool_size=settings.pool_size
    )


def scanner(resources: Resources, settings: SlaSettings, clock: Callable[[], datetime]) -> Scanner:
    """The breach scanner on the worker's pool, lease connection and producer."""
    return Scanner(
        store=PostgresScanStore(resources.ledger),
        leadership=PostgresLeadership(
            resources.endpoints.database_url, name=f"frontdoor-sla-scanner:{os.getpid()}"
        ),
        relay=Relay(resources.ledger, BatchSender(resources.producer)),
        clock=clock,
        batch=settings.scan_batch,
        max_sleep=settings.scan_max_sleep_seconds,
        leader_poll=settings.leader_poll_seconds,
        grace=timedelta(seconds=settings.breach_grace_seconds),
        early_events_kept=timedelta(days=settings.early_event_retention_days),
        forget_every=timedelta(seconds=settings.early_event_sweep_seconds),
    )


def run(endpoints: Endpoints, settings: SlaSettings | None = None) -> None:
    settings = settings or SlaSettings()
    runtime.run(service(settings), endpoints, settings.runtime)
