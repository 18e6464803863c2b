"""Reading the event history for a return from the ``events`` table (read-only).

Returns are rebuilt from ``events`` alone: the ``body`` column holds every accepted event as
validated and upcast by intake. ``PostgresEventSource`` streams the bodies of the event types a
return needs, child by child in ``occurred_at`` order, through a server-side cursor, and parses
each with the contract's registry (``schemas.registry``): a body already at its type's latest
version is validated straight from its JSON text, anything else goes through ``parse_event``
and its upcasters. Statutory visits are the only visits a return reads, so the others are left in
the database. ``InMemoryEventSource`` is the same port over a list, for tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from itertools import groupby
from typing import Protocol

import asyncpg
import orjson
import pydantic

from schemas.envelope import EventBase
from schemas.registry import latest_model, latest_version, parse_event

RETURN_EVENT_TYPES: tuple[str, ...] = (
    "contact.received",
    "police.da_notification",
    "referral.accepted",
    "assessment.started",
    "assessment.authorised",
    "strategy_discussion.held",
    "s47.started",
    "s47.completed",
    "conference.icpc_held",
    "conference.rcpc_held",
    "cp_plan.ended",
    "visit.recorded",
    "case.closed",
    "police.protection_started",
)
"""Everything a return reads; screening decisions, SLA clocks and the like are not needed."""

ChildEvents = tuple[str, list[EventBase]]

_WHERE = """
    occurred_at < $1 AND event_type = ANY($2::text[])
    AND (event_type <> 'visit.recorded' OR body->'payload'->>'kind' = 'cp_statutory')
"""
_REFERRED = """
    AND child_id IN (SELECT child_id FROM events
                     WHERE event_type = 'referral.accepted' AND occurred_at < $1)
"""
COUNT_SQL = f"SELECT count(*) FROM events WHERE {_WHERE}"
STREAM_SQL = f"""
SELECT child_id, event_type, schema_version, body::text AS body
FROM events WHERE {_WHERE}
ORDER BY child_id, occurred_at, event_id
"""
REFERRED_COUNT_SQL = f"SELECT count(*) FROM events WHERE {_WHERE} {_REFERRED}"
REFERRED_STREAM_SQL = f"""
SELECT child_id, event_type, schema_version, body::text AS body
FROM events WHERE {_WHERE} {_REFERRED}
ORDER BY child_id, occurred_at, event_id
"""


class EventSource(Protocol):
    """The history a return is built from: events before ``until``, grouped by child.

    ``referred_only`` keeps only children with a referral before ``until`` (the CIN census
    needs no one else; their contacts still come, for the personal details they carry).
    """

    async def count(self, until: datetime, *, referred_only: bool = False) -> int: ...

    def children(
        self, until: datetime, *, referred_only: bool = False
    ) -> AsyncIterator[ChildEvents]: ...


def parse_body(event_type: str, schema_version: int, body: str) -> EventBase:
    """One stored body as its contract model (latest version; older ones upcast)."""
    if schema_version == latest_version(event_type):
        try:
            return latest_model(event_type).model_validate_json(body)
        except pydantic.ValidationError:
            pass  # the column and the body disagree: let the registry decide and explain
    return parse_event(orjson.loads(body))


class PostgresEventSource:
    def __init__(self, dsn: str, *, batch: int = 5000) -> None:
        self._dsn = dsn
        self._batch = batch

    async def count(self, until: datetime, *, referred_only: bool = False) -> int:
        sql = REFERRED_COUNT_SQL if referred_only else COUNT_SQL
        conn = await asyncpg.connect(self._dsn)
        try:
            value = await conn.fetchval(sql, until, list(RETURN_EVENT_TYPES))
        finally:
            await conn.close()
        return int(value)

    async def children(
        self, until: datetime, *, referred_only: bool = False
    ) -> AsyncIterator[ChildEvents]:
        sql = REFERRED_STREAM_SQL if referred_only else STREAM_SQL
        conn = await asyncpg.connect(self._dsn)
        try:
            async with conn.transaction(readonly=True):
                child: str | None = None
                events: list[EventBase] = []
                cursor = conn.cursor(sql, until, list(RETURN_EVENT_TYPES), prefetch=self._batch)
                async for row in cursor:
                    if row["child_id"] != child:
                        if child is not None:
                            yield child, events
                        child, events = row["child_id"], []
                    events.append(parse_body(row["event_type"], row["schema_version"], row["body"]))
                if child is not None:
                    yield child, events
        finally:
            await conn.close()


class InMemoryEventSource:
    """The port over events held in memory (tests); the same filter as the SQL."""

    def __init__(self, events: Iterable[EventBase]) -> None:
        self._events: Sequence[EventBase] = sorted(
            events, key=lambda e: (e.subject.child_id, e.occurred_at, str(e.event_id))
        )

    def _wanted(self, until: datetime, referred_only: bool) -> list[EventBase]:
        referred = {
            e.subject.child_id
            for e in self._events
            if e.event_type == "referral.accepted" and e.occurred_at < until
        }
        return [
            e
            for e in self._events
            if e.occurred_at < until
            and e.event_type in RETURN_EVENT_TYPES
            and (e.event_type != "visit.recorded" or _statutory(e))
            and (not referred_only or e.subject.child_id in referred)
        ]

    async def count(self, until: datetime, *, referred_only: bool = False) -> int:
        return len(self._wanted(until, referred_only))

    async def children(
        self, until: datetime, *, referred_only: bool = False
    ) -> AsyncIterator[ChildEvents]:
        wanted = self._wanted(until, referred_only)
        for child, group in groupby(wanted, key=lambda e: e.subject.child_id):
            yield child, list(group)


def _statutory(event: EventBase) -> bool:
    return getattr(event.payload, "kind", None) == "cp_statutory"
