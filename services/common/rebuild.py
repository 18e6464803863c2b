"""Rebuilding materialised views from ``events`` on the one pipeline, swapped in atomically.

Invariant: a rebuild either replaces a service's views with exactly what its own declared
subscriptions and handlers make of the accepted history, in one commit, or changes nothing.

How (a writer connection and a reader):

1. a shadow schema (``frontdoor_rebuild``) gets an empty copy of every table the rebuilt
   services write (``Views.tables`` and ``Views.scratch``, ``LIKE … INCLUDING ALL``) and the
   connection's ``search_path`` puts it first, so the services' own adapters and SQL functions,
   unchanged, write the shadow tables while reading ``events`` (and any service not rebuilt)
   from ``public``;
2. ``events`` is read, in one snapshot, through a cursor in a deterministic order — per child,
   in the order intake accepted them (``recorded_at``, then the partner offset), the keys a
   service reads first (``Views.read_first``) before the others — and each event
   is given to every subscription whose topic intake routes it to, through the real ``Pipeline``
   (decoding, the error policy, the handlers). What a handler emits is not written to the outbox
   and never reaches Kafka: ``FeedSender`` hands it to the subscriptions further down the data
   flow (``Rebuildable`` order), in memory, placed right after the event that caused it. Each
   batch commits on its own, as a worker's would, but only into the shadow, which nothing else
   reads;
3. the swap, the one transaction that touches live tables: the live view tables are locked
   against writers (readers go on reading the old rows), events intake accepted since the cursor
   opened are fed too, each service's ``keep_from_live`` statements carry over what its
   background tasks announced (the SLA scanner's warnings and breaches, so nothing is announced
   twice), the rebuilt consumers' ledger gets a claim (``processed_events``) for every recent
   record the rebuild fed, so a live worker that has not yet seen one treats it as a repeat, and
   every live table is replaced by its shadow (``TRUNCATE`` + ``INSERT … SELECT``; indexes,
   views and functions on it stay).

A handler may set a record aside until the world catches up (``Unit.defer``: the workforce
service parks an event naming a team its directory has not reached yet — rare once the
directory is read first, but the feed is not in event time). After the history, and again after
the late events, each service's ``settle`` hands such records back and they are fed again, until
a round takes none of them up; what is still set aside then is the service's
``keep_from_live`` to reconcile with the live worker's own (services/workforce/bootstrap.py).

Nothing in the outbox is touched: what the live services emitted stays emitted; what the
rebuild emits is only the in-memory feed. A failure before or in the swap leaves the live tables
as they were (the shadow schema is dropped either way).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import structlog

from services.common.deadletter import Origin
from services.common.outbox import OutboxRow, Relay
from services.common.pipeline import Handler, Pipeline, Subscription
from services.common.runtime import Service

log = structlog.get_logger(__name__)

SHADOW = "frontdoor_rebuild"
CHUNK = 5000

Settle = Callable[[Any, str], Awaitable[Sequence[Origin]]]
"""``settle(connection, consumer)``: the records ``consumer`` set aside that are worth another
look now, oldest first (read in the shadow, through the connection's ``search_path``)."""


@dataclass(frozen=True)
class Views:
    """A service's declaration of what it materialises (its ``bootstrap.py``).

    ``tables`` are rebuilt and swapped in; ``scratch`` tables are written by its handlers but are
    not views (scheduled announcements): shadowed, then dropped. ``processing_time`` names, per
    table, the columns that hold processing time by design (latency), the only ones a comparison
    of views may leave out. ``keep_from_live`` are statements run at the swap, with ``{shadow}``
    naming the shadow schema, that carry over from the live tables what background tasks
    recorded. ``settle`` hands back what a subscription deferred (``Settle``). ``read_first``
    names subject keys whose events are read before every child's (each key's own order kept,
    an order the partitions allow): the workforce directory, so that what names a team or a
    worker finds it instead of waiting for it.
    """

    tables: tuple[str, ...]
    processing_time: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scratch: tuple[str, ...] = ()
    keep_from_live: tuple[str, ...] = ()
    settle: Settle | None = None
    read_first: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rebuildable:
    """A service in the chain. ``reads``: the services of the chain whose records it reads
    (``None``: every one before it), so rebuilding it runs only those besides."""

    name: str
    service: Service
    views: Views
    reads: tuple[str, ...] | None = None


@dataclass
class Report:
    events: int = 0
    delta_events: int = 0
    fed: dict[str, int] = field(default_factory=dict)
    derived: int = 0
    dead_letters: int = 0
    claims: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------ the in-memory ledger


class _Unit:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def claim(self, items: Sequence[tuple[UUID, bytes]]) -> dict[UUID, Any]:
        from services.common.ledger import Claim

        # every id is fresh: event ids are unique in ``events`` and derived ids are unique per
        # cause; the pipeline has already dropped repeats inside the batch
        return {i: Claim.FRESH for i, _ in items}

    async def release(self, event_ids: Sequence[UUID]) -> None:
        return None

    async def enqueue(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        return list(rows)  # not the outbox: the relay hands them to the downstream feed


class RebuildLedger:
    """Each batch in its own transaction (a savepoint inside the swap); no claims, no outbox."""

    def __init__(self, connection: Any) -> None:
        self._conn = connection

    def unit(self, consumer: str) -> Any:
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def opened() -> Any:
            async with self._conn.transaction():  # a failed batch undoes itself
                yield _Unit(self._conn)

        return opened()

    async def pending(self, *, older_than_seconds: float, limit: int) -> Sequence[OutboxRow]:
        return ()

    async def mark_relayed(self, ids: Sequence[int], *, relay_ts: datetime) -> None:
        return None

    async def lost(self, consumer: str, **_: Any) -> Sequence[OutboxRow]:
        return ()


class FeedSender:
    """Where a rebuilt handler's records go: the list of the batch being processed."""

    def __init__(self) -> None:
        self.rows: list[OutboxRow] = []

    async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
        self.rows.extend(rows)


# ------------------------------------------------------------------------------- the feed


Position = tuple[int, ...]


@dataclass
class _Stage:
    service: str
    subscription: Subscription
    pipeline: Pipeline
    sender: FeedSender
    rebuilt: bool
    settle: Settle | None = None


def _origin(topic: str, row: Any) -> Origin:
    return Origin(
        topic=topic,
        partition=0,
        offset=-1,
        key=row["child_id"].encode(),
        value=row["body"].encode() if isinstance(row["body"], str) else row["body"],
        headers=(("event_type", row["event_type"].encode()),),
    )


def _wants(sub: Subscription, topic: str, event_type: str | None) -> bool:
    if sub.topic != topic:
        return False
    return sub.event_types is None or event_type is None or event_type in sub.event_types


class Feed:
    """Feeds chunks of events through the stages in data-flow order."""

    def __init__(self, stages: Sequence[_Stage], route: Callable[[str], str]) -> None:
        self.stages = stages
        self.route = route
        self.report = Report()
        self.claims: list[tuple[str, UUID]] = []
        self._count = 0

    async def chunk(self, rows: Sequence[Any], *, recent_since: datetime | None) -> None:
        inbox: list[list[tuple[Position, Origin, bool]]] = [[] for _ in self.stages]
        for row in rows:
            self._count += 1
            topic = self.route(row["event_type"])
            recent = recent_since is None or row["recorded_at"] >= recent_since
            for i, stage in enumerate(self.stages):
                if _wants(stage.subscription, topic, row["event_type"]):
                    inbox[i].append(((self._count,), _origin(topic, row), recent))
                    if recent and stage.rebuilt:
                        self.claims.append((stage.subscription.consumer, row["event_id"]))
        await self._run(inbox)

    async def settle(self, conn: Any) -> None:
        """What the stages set aside, fed again (and what it emits on down the flow) until a
        round takes none of it up (the claims were made when it was first fed)."""
        for i, stage in enumerate(self.stages):
            if stage.settle is None:
                continue
            before: set[UUID | None] = set()
            while origins := await stage.settle(conn, stage.subscription.consumer):
                inbox: list[list[tuple[Position, Origin, bool]]] = [[] for _ in self.stages]
                inbox[i] = [((self._count, n), o, True) for n, o in enumerate(origins)]
                ids = {_event_id(o) for o in origins}
                if (await self._run(inbox))[i] == 0 and ids == before:
                    break  # the same records, none taken up: they stay set aside
                before = ids

    async def _run(self, inbox: list[list[tuple[Position, Origin, bool]]]) -> list[int]:
        """Each stage's inbox through its pipeline, in data-flow order; per stage, how many
        records it handled or refused (not deferred)."""
        taken = [0] * len(self.stages)
        for i, stage in enumerate(self.stages):
            items = sorted(inbox[i], key=lambda t: t[0])
            name = stage.subscription.consumer
            self.report.fed[name] = self.report.fed.get(name, 0) + len(items)
            position_of = {_event_id(o): (p, r) for p, o, r in items}
            for start in range(0, len(items), stage.subscription.max_batch):
                batch = items[start : start + stage.subscription.max_batch]
                stage.sender.rows.clear()
                outcome = await stage.pipeline.process([o for _, o, _ in batch])
                self.report.dead_letters += outcome.dead_lettered
                taken[i] += outcome.handled + outcome.dead_lettered
                self._forward(i, stage.sender.rows, position_of, batch[-1][0], inbox)
        return taken

    def _forward(
        self,
        at: int,
        rows: Sequence[OutboxRow],
        position_of: Mapping[UUID | None, tuple[Position, bool]],
        last: Position,
        inbox: list[list[tuple[Position, Origin, bool]]],
    ) -> None:
        for n, row in enumerate(rows):
            if row.event_type is None:  # a dead letter: counted, kept nowhere
                continue
            cause = _causation(row.value)
            position, recent = position_of.get(cause, (last, True))
            origin = Origin(row.topic, row.partition, -1, row.key, row.value, row.headers)
            for j, stage in enumerate(self.stages):
                if not _wants(stage.subscription, row.topic, row.event_type):
                    continue
                if j <= at:
                    raise RuntimeError(
                        f"{row.event_type} on {row.topic} flows back to "
                        f"{stage.subscription.consumer}: the stage order is not the data flow"
                    )
                self.report.derived += 1
                inbox[j].append(((*position, n + 1), origin, recent))
                if recent and stage.rebuilt:
                    self.claims.append((stage.subscription.consumer, row.event_id))


def _event_id(origin: Origin) -> UUID | None:
    try:
        return UUID(str(orjson.loads(origin.value or b"{}")["event_id"]))
    except (KeyError, ValueError, orjson.JSONDecodeError):
        return None


def _causation(value: bytes | None) -> UUID | None:
    try:
        cause = orjson.loads(value or b"{}").get("causation_id")
        return UUID(str(cause)) if cause else None
    except (ValueError, orjson.JSONDecodeError):
        return None


# ------------------------------------------------------------------------------- the run

_ORDER = "ORDER BY child_id, recorded_at, source_offset, occurred_at, event_id"
_COLUMNS = "event_id, event_type, child_id, recorded_at, body::text AS body"
_KEY = re.compile(r"[A-Za-z0-9_.:-]+")


def _order(first: Sequence[str]) -> str:
    """``_ORDER`` with the events of the ``first`` keys before every other key's."""
    if not first:
        return _ORDER
    if bad := [k for k in first if not _KEY.fullmatch(k)]:
        raise ValueError(f"read_first keys must be plain ids: {bad!r}")
    keys = ", ".join(f"'{k}'" for k in first)
    return _ORDER.replace("ORDER BY ", f"ORDER BY child_id NOT IN ({keys}), ", 1)


async def _shadow(conn: Any, tables: Sequence[str]) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE")
    await conn.execute(f"CREATE SCHEMA {SHADOW}")
    for table in tables:
        await conn.execute(f"CREATE TABLE {SHADOW}.{table} (LIKE public.{table} INCLUDING ALL)")
    await conn.execute(f"CREATE TABLE {SHADOW}.rebuild_claims (consumer text, event_id uuid)")
    await conn.execute(f"SET search_path = {SHADOW}, public")


async def rebuild(
    conn: Any,
    reader: Any,
    chain: Sequence[Rebuildable],
    targets: Sequence[str],
    *,
    route: Callable[[str], str],
    ledger_days: float,
    on_progress: Callable[[int], None] = lambda _n: None,
    on_total: Callable[[int], None] = lambda _n: None,
    chunk: int = CHUNK,
) -> Report:
    """Rebuild ``targets`` (service names) on ``conn``, reading ``events`` on ``reader``; every
    service of ``chain`` whose records feed a target (``Rebuildable.reads``) runs too, into
    shadow tables that are dropped.

    The shadow is built in ordinary short transactions (as a worker's batches: nobody else reads
    the shadow schema, and one transaction for millions of rows would hold every row lock the
    handlers take until the end); only the swap touches the live tables, in one transaction.
    """
    import time

    timings: dict[str, float] = {}
    started = time.monotonic()
    used = _needed(chain, targets)
    swapped = [r for r in used if r.name in targets]
    order = _order(sorted({k for r in used for k in r.views.read_first}))
    tables = [t for r in used for t in (*r.views.tables, *r.views.scratch)]
    ledger = RebuildLedger(conn)
    stages: list[_Stage] = []
    for r in used:
        for sub in r.service.subscriptions:
            sender = FeedSender()
            handler: Handler = await _open(sub)
            pipeline = Pipeline(sub, handler, ledger, Relay(ledger, sender), backoff=(0.0, 0.0))
            rebuilt = r.name in targets
            stages.append(_Stage(r.name, sub, pipeline, sender, rebuilt, r.views.settle))
    feed = Feed(stages, route)
    await _shadow(conn, tables)
    try:
        window, seen_late = await _feed_history(
            conn,
            reader,
            feed,
            chunk=chunk,
            ledger_days=ledger_days,
            on_total=on_total,
            on_progress=on_progress,
            order=order,
        )
        await feed.settle(conn)
        timings["feed"] = time.monotonic() - started
        async with conn.transaction():
            await _swap(
                conn,
                feed,
                swapped=swapped,
                window=window,
                seen_late=seen_late,
                on_progress=on_progress,
                order=order,
            )
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE")
        await conn.execute("RESET search_path")
    timings["total"] = time.monotonic() - started
    feed.report.seconds = {k: round(v, 2) for k, v in timings.items()}
    return feed.report


def _needed(chain: Sequence[Rebuildable], targets: Sequence[str]) -> list[Rebuildable]:
    """The targets and, transitively, the services whose records they read, in chain order."""
    wanted = set(targets)
    for i in range(len(chain) - 1, -1, -1):
        r = chain[i]
        if r.name in wanted:
            wanted.update(p.name for p in chain[:i] if r.reads is None or p.name in r.reads)
    return [r for r in chain if r.name in wanted]


async def _feed_history(
    conn: Any,
    reader: Any,
    feed: Feed,
    *,
    chunk: int,
    ledger_days: float,
    on_total: Callable[[int], None],
    on_progress: Callable[[int], None],
    order: str = _ORDER,
) -> tuple[datetime, set[UUID]]:
    """Every event of one snapshot of ``events`` through the stages; returns the window of
    late commits to look at again at the swap and the ids already fed in it."""
    async with reader.transaction(isolation="repeatable_read", readonly=True):
        snapshot_at: datetime = await reader.fetchval("SELECT now()")
        recent_since = snapshot_at - timedelta(days=ledger_days)
        on_total(await reader.fetchval("SELECT count(*) FROM events"))
        await reader.execute(
            f"DECLARE rebuild_events NO SCROLL CURSOR FOR SELECT {_COLUMNS} FROM events {order}"
        )
        window = snapshot_at - timedelta(minutes=10)
        seen_late: set[UUID] = set()
        while rows := await reader.fetch(f"FETCH {chunk} FROM rebuild_events"):
            seen_late.update(r["event_id"] for r in rows if r["recorded_at"] >= window)
            await feed.chunk(rows, recent_since=recent_since)
            await _keep_claims(conn, feed)
            on_progress(len(rows))
    feed.report.events = feed._count
    return window, seen_late


async def _swap(
    conn: Any,
    feed: Feed,
    *,
    swapped: Sequence[Rebuildable],
    window: datetime,
    seen_late: set[UUID],
    on_progress: Callable[[int], None],
    order: str = _ORDER,
) -> None:
    """Claims first (a live batch holding one is waited for), then the live views locked against
    writers, the late events fed, the live tables replaced."""
    await _claim(conn)
    live = [t for r in swapped for t in r.views.tables]
    await conn.execute(f"LOCK TABLE {', '.join('public.' + t for t in live)} IN EXCLUSIVE MODE")
    delta = [
        r
        for r in await conn.fetch(
            f"SELECT {_COLUMNS} FROM public.events WHERE recorded_at >= $1 {order}", window
        )
        if r["event_id"] not in seen_late
    ]
    if delta:
        await feed.chunk(delta, recent_since=None)
        await feed.settle(conn)
        await _keep_claims(conn, feed)
        await _claim(conn)
        on_progress(len(delta))
    feed.report.delta_events = len(delta)
    for r in swapped:
        for statement in r.views.keep_from_live:
            await conn.execute(statement.format(shadow=SHADOW))
    await conn.execute(f"TRUNCATE {', '.join('public.' + t for t in live)}")
    for table in live:
        await conn.execute(f"INSERT INTO public.{table} SELECT * FROM {SHADOW}.{table}")
        feed.report.rows[table] = await conn.fetchval(f"SELECT count(*) FROM public.{table}")


async def _keep_claims(conn: Any, feed: Feed) -> None:
    if feed.claims:
        await conn.copy_records_to_table("rebuild_claims", schema_name=SHADOW, records=feed.claims)
        feed.report.claims += len(feed.claims)
        feed.claims.clear()


async def _claim(conn: Any) -> None:
    await conn.execute(
        "INSERT INTO public.processed_events (consumer, event_id) "
        f"SELECT DISTINCT consumer, event_id FROM {SHADOW}.rebuild_claims ON CONFLICT DO NOTHING"
    )
    await conn.execute(f"TRUNCATE {SHADOW}.rebuild_claims")


async def _open(sub: Subscription) -> Handler:
    """The subscription's handler, opened as the worker opens it (without a pool or producer)."""
    manager = sub.handler(None)
    handler: Handler = await manager.__aenter__()
    return handler
