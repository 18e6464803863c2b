"""Rebuilding materialised views from ``events`` on the one pipeline, swapped in atomically.

Invariant: a rebuild either replaces a service's views with exactly what its own declared
subscriptions and handlers make of the accepted history, in one commit, or changes nothing.

How (a writer connection and a reader, and each lane's own connection):

1. a shadow schema (``frontdoor_rebuild``) gets an empty copy of every table the rebuilt
   services write (``Views.tables`` and ``Views.scratch``, ``LIKE …``, with the live indexes but
   those only the views' readers use, ``Views.readers_indexes``) and the connection's
   ``search_path`` puts it first, so the services' own adapters and SQL functions, unchanged,
   write the shadow tables while reading ``events`` (and any service not rebuilt) from
   ``public``;
2. ``events`` is read in one snapshot, numbered in a deterministic order into the shadow
   (``rebuild_history``, sorted once) — per child, in the order intake accepted them
   (``recorded_at``, then the partner offset), the keys a service reads first
   (``Views.read_first``) before the others — and read back a page at a time; each event is
   given to every subscription whose topic intake routes it to, through the real ``Pipeline``
   (decoding, the error policy, the handlers). What a handler emits is not written to the outbox
   and never reaches Kafka: ``FeedSender`` hands it to the subscriptions further down the data
   flow (``Rebuildable`` order), placed right after the event that caused it. Each batch commits
   on its own, as a worker's would, but only into the shadow, which nothing else reads; each
   lane analyses its shadow tables as they double (empty and unanalysed, the handlers' prepared
   lookups were planned as sequential scans that grew with the tables);
3. the swap, the one transaction that touches live tables: the live view tables are locked
   against writers (readers go on reading the old rows), events intake accepted since the
   snapshot are fed too, each service's ``keep_from_live`` statements carry over what its
   background tasks announced (the SLA scanner's warnings and breaches, so nothing is announced
   twice), the rebuilt consumers' ledger gets a claim (``processed_events``) for every recent
   record the rebuild fed, so a live worker that has not yet seen one treats it as a repeat, and
   every live table is replaced by its shadow (``TRUNCATE`` + ``INSERT … SELECT``; indexes,
   views and functions on it stay).

Lanes (``lanes``, given ``Apart``: ``frontdoor rebuild``'s default). Every service is a lane, in
a process of its own (spawned; the first lane is fed here), on its own connection, reading the
same numbered history; a service whose views are ``by_child`` (SLA) is ``Apart.shares`` lanes,
each a share of the children. What a lane emits that a later lane reads is kept in the shadow
(``rebuild_records``, with its position in the feed); a lane takes, with each page, what the
lanes it reads (``Rebuildable.reads``) kept for it, once their marks (shared counters: how many
events each is past) have passed the page — so every stage sees the same records in the same
positions as in one process. A lane that fails sets the shared abort flag and fails the
rebuild; the progress reported is the slowest lane's. ``Apart.jobs`` groups consecutive
services into that many lanes instead. The processes run their collector tuned for a batch job
(``_for_a_batch_job``).

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

import asyncio
import gc
import logging
import multiprocessing
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import structlog

from services.common.deadletter import Origin
from services.common.ledger import encode_headers, outbox_row
from services.common.outbox import OutboxRow, Relay
from services.common.pipeline import Handler, Pipeline, Subscription
from services.common.runtime import Service

log = structlog.get_logger(__name__)

SHADOW = "frontdoor_rebuild"
CHUNK = 2000

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
    worker finds it instead of waiting for it. ``by_child``: everything its handlers read and
    write is one child's (no row, lock or lookup spans two children), so a rebuild may feed it in
    several lanes, each a share of the children (``Apart.shares``). ``readers_indexes``: indexes
    of its tables that only the views' readers use (boards, the breach scanner), never its
    handlers: the shadow tables go without them, so the rebuild's writes maintain fewer (the live
    tables keep theirs, and the swap fills them).
    """

    tables: tuple[str, ...]
    processing_time: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scratch: tuple[str, ...] = ()
    keep_from_live: tuple[str, ...] = ()
    settle: Settle | None = None
    read_first: tuple[str, ...] = ()
    by_child: bool = False
    readers_indexes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rebuildable:
    """A service in the chain. ``reads``: the services of the chain whose records it reads
    (``None``: every one before it), so rebuilding it runs only those besides."""

    name: str
    service: Service
    views: Views
    reads: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Apart:
    """What lanes fed in processes of their own need: the database and the chain (the processes
    are spawned, so ``chain`` is a module-level function returning the same chain)."""

    dsn: str
    chain: Callable[[], Sequence[Rebuildable]]
    jobs: int | None = None
    """Lanes (processes, this one included) at most; None: a lane per service, and ``shares``
    lanes for a service whose views are ``by_child``."""
    shares: int = 2


@dataclass(frozen=True)
class Lane:
    """Services fed together in one process, and the earlier lanes whose records they read."""

    names: tuple[str, ...]
    upstream: tuple[int, ...]
    tables: tuple[str, ...] = ()
    """The shadow tables its services write (analysed as they grow: ``_Lane.read``)."""
    share: tuple[int, int] | None = None
    """(k, n): only the children whose ``share_of`` is k of n; None: every child."""

    @property
    def label(self) -> str:
        name = "+".join(self.names)
        return name if self.share is None else f"{name}[{self.share[0] + 1}/{self.share[1]}]"


def share_of(child_id: str | bytes | None, shares: int) -> int:
    """Which of ``shares`` lanes feeds a child (stable across processes: CRC-32 of its id)."""
    if child_id is None:
        return 0
    raw = child_id.encode() if isinstance(child_id, str) else child_id
    return zlib.crc32(raw) % shares


def lanes(used: Sequence[Rebuildable], jobs: int | None, shares: int = 1) -> list[Lane]:
    """``used`` (chain order) in at most ``jobs`` lanes of consecutive services (None: a lane
    each, and ``shares`` lanes each for a ``by_child`` service), each with the lanes holding a
    service one of its services reads (``Rebuildable.reads``; None: every one before it)."""
    groups: list[tuple[list[Rebuildable], tuple[int, int] | None]] = []
    if jobs is None:
        for r in used:
            if r.views.by_child and shares > 1:
                groups.extend(([r], (k, shares)) for k in range(shares))
            else:
                groups.append(([r], None))
    else:
        count = max(1, min(jobs, len(used)))
        size, extra = divmod(len(used), count)
        start = 0
        for k in range(count):
            end = start + size + (1 if k < extra else 0)
            groups.append((list(used[start:end]), None))
            start = end
    lanes_of: dict[str, list[int]] = {}
    for k, (group, _) in enumerate(groups):
        for r in group:
            lanes_of.setdefault(r.name, []).append(k)
    out: list[Lane] = []
    for k, (group, share) in enumerate(groups):
        upstream: set[int] = set()
        for r in group:
            before = used[: used.index(r)]
            for e in before:
                if r.reads is None or e.name in r.reads:
                    upstream.update(lanes_of[e.name])
        upstream.discard(k)
        tables = tuple(t for r in group for t in (*r.views.tables, *r.views.scratch))
        out.append(Lane(tuple(r.name for r in group), tuple(sorted(upstream)), tables, share))
    return out


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
    lanes: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per lane (its services, joined by '+'): seconds reading the history, of those seconds
    waiting for the lanes it reads, and its process's CPU seconds meanwhile."""

    def add(self, lane: Report) -> None:
        """Count in what another lane fed (it read the same events: ``events`` is not added)."""
        self.lanes.update(lane.lanes)
        for consumer, n in lane.fed.items():
            self.fed[consumer] = self.fed.get(consumer, 0) + n
        self.derived += lane.derived
        self.dead_letters += lane.dead_letters
        self.claims += lane.claims


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
_Item = tuple[Position, Origin, bool, UUID | None]
"""A record for a stage: where it stands in the feed, it, whether it is recent (claimed), its id."""


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
    """Feeds chunks of events through the stages in data-flow order.

    A lane's feed (``_Lane``) holds only its own services' stages: ``later`` are the
    subscriptions of the lanes after it — what they want of its records is ``exported`` (with
    its position) instead of fed here — and ``earlier`` those of the lanes before it, which must
    want nothing it emits (the data flow runs one way). ``chunk`` takes, beside the events, the
    records earlier lanes exported for them (``imported``)."""

    def __init__(
        self,
        stages: Sequence[_Stage],
        route: Callable[[str], str],
        *,
        later: Sequence[Subscription] = (),
        earlier: Sequence[Subscription] = (),
        share: tuple[int, int] | None = None,
    ) -> None:
        self.stages = stages
        self.share = share
        self.route = route
        self.report = Report()
        self.claims: list[tuple[str, UUID]] = []
        self.exported: list[tuple[Position, OutboxRow, bool]] = []
        self._later, self._earlier = later, earlier
        self._count = 0

    async def chunk(
        self,
        rows: Sequence[Any],
        *,
        recent_since: datetime | None,
        imported: Sequence[tuple[Position, OutboxRow, bool]] = (),
    ) -> None:
        inbox: list[list[_Item]] = [[] for _ in self.stages]
        share = self.share
        for row in rows:
            self._count += 1
            if share is not None and share_of(row["child_id"], share[1]) != share[0]:
                continue
            topic = self.route(row["event_type"])
            recent = recent_since is None or row["recorded_at"] >= recent_since
            origin: Origin | None = None
            for i, stage in enumerate(self.stages):
                if _wants(stage.subscription, topic, row["event_type"]):
                    origin = origin or _origin(topic, row)
                    inbox[i].append(((self._count,), origin, recent, row["event_id"]))
                    if recent and stage.rebuilt:
                        self.claims.append((stage.subscription.consumer, row["event_id"]))
        for position, record, recent in imported:
            if share is not None and share_of(record.key, share[1]) != share[0]:
                continue
            origin = Origin(record.topic, record.partition, -1, record.key, record.value,
                            record.headers)  # fmt: skip
            for i, stage in enumerate(self.stages):
                if _wants(stage.subscription, record.topic, record.event_type):
                    self.report.derived += 1
                    inbox[i].append((position, origin, recent, record.event_id))
                    if recent and stage.rebuilt:
                        self.claims.append((stage.subscription.consumer, record.event_id))
        await self._run(inbox)

    async def settle(self, conn: Any) -> None:
        """What the stages set aside, fed again (and what it emits on down the flow) until a
        round takes none of it up (the claims were made when it was first fed)."""
        for i, stage in enumerate(self.stages):
            if stage.settle is None:
                continue
            before: set[UUID | None] = set()
            while origins := await stage.settle(conn, stage.subscription.consumer):
                inbox: list[list[_Item]] = [[] for _ in self.stages]
                inbox[i] = [
                    ((self._count, n), o, True, _event_id(o)) for n, o in enumerate(origins)
                ]
                ids = {_event_id(o) for o in origins}
                if (await self._run(inbox))[i] == 0 and ids == before:
                    break  # the same records, none taken up: they stay set aside
                before = ids

    async def _run(self, inbox: list[list[_Item]]) -> list[int]:
        """Each stage's inbox through its pipeline, in data-flow order; per stage, how many
        records it handled or refused (not deferred)."""
        taken = [0] * len(self.stages)
        for i, stage in enumerate(self.stages):
            items = sorted(inbox[i], key=lambda t: t[0])
            name = stage.subscription.consumer
            self.report.fed[name] = self.report.fed.get(name, 0) + len(items)
            position_of = {event_id: (p, r) for p, _, r, event_id in items}
            for start in range(0, len(items), stage.subscription.max_batch):
                batch = items[start : start + stage.subscription.max_batch]
                stage.sender.rows.clear()
                outcome = await stage.pipeline.process([o for _, o, _, _ in batch])
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
        inbox: list[list[_Item]],
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
                inbox[j].append(((*position, n + 1), origin, recent, row.event_id))
                if recent and stage.rebuilt:
                    self.claims.append((stage.subscription.consumer, row.event_id))
            if any(_wants(sub, row.topic, row.event_type) for sub in self._earlier):
                raise RuntimeError(
                    f"{row.event_type} on {row.topic} flows back to an earlier lane: the lane "
                    "order is not the data flow"
                )
            if any(_wants(sub, row.topic, row.event_type) for sub in self._later):
                self.exported.append(((*position, n + 1), row, recent))


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


async def _shadow(conn: Any, tables: Sequence[str], skipped: frozenset[str]) -> None:
    """The shadow schema: each table as the live one, with the live one's indexes but the
    ``skipped`` ones (``Views.readers_indexes``) — a unique index stands for a primary key."""
    await conn.execute(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE")
    await conn.execute(f"CREATE SCHEMA {SHADOW}")
    for table in tables:
        await conn.execute(
            f"CREATE UNLOGGED TABLE {SHADOW}.{table} "
            f"(LIKE public.{table} INCLUDING ALL EXCLUDING INDEXES)"
        )
        for index in await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename = $1 ORDER BY indexname",
            table,
        ):
            if index["indexname"] not in skipped:
                await conn.execute(
                    index["indexdef"].replace(f" ON public.{table} ", f" ON {SHADOW}.{table} ", 1)
                )
    await conn.execute(
        f"CREATE UNLOGGED TABLE {SHADOW}.rebuild_claims (consumer text, event_id uuid)"
    )
    await conn.execute(
        f"CREATE UNLOGGED TABLE {SHADOW}.rebuild_records (seq bigserial, lane int, at bigint, "
        "position int[], topic text, partition int, key bytea, value bytea, headers text, "
        "event_type text, event_id uuid, recent bool)"
    )
    await conn.execute(f"CREATE INDEX ON {SHADOW}.rebuild_records (at)")
    await _for_the_shadow(conn)


async def _for_the_shadow(conn: Any) -> None:
    """A connection that writes the shadow: its tables first on the search path, and commits
    that do not wait for the WAL to reach the disk (the shadow is unlogged scratch: a crash
    loses it whatever happens, and the rebuild with it); the swap waits (``_swap``)."""
    await conn.execute(f"SET search_path = {SHADOW}, public")
    await conn.execute("SET synchronous_commit = off")


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
    apart: Apart | None = None,
) -> Report:
    """Rebuild ``targets`` (service names) on ``conn``, reading ``events`` on ``reader``; every
    service of ``chain`` whose records feed a target (``Rebuildable.reads``) runs too, into
    shadow tables that are dropped. With ``apart``, the services are fed in lanes, each but the
    first in a process of its own (the module docstring); without, all here, in one lane.

    The shadow is built in ordinary short transactions (as a worker's batches: nobody else reads
    the shadow schema, and one transaction for millions of rows would hold every row lock the
    handlers take until the end); only the swap touches the live tables, in one transaction.
    """
    with _for_a_batch_job():
        return await _rebuild(
            conn,
            reader,
            chain,
            targets,
            route=route,
            ledger_days=ledger_days,
            on_progress=on_progress,
            on_total=on_total,
            chunk=chunk,
            apart=apart,
        )


@contextmanager
def _for_a_batch_job() -> Iterator[None]:
    """The cyclic garbage collector tuned for a rebuild, restored after.

    A rebuild makes millions of short-lived objects (records, models, rows) beside a few
    long-lived ones (modules, policies, caches): with the default thresholds the collector ran
    thousands of times, scanning the long-lived ones each time — a sixth of a rebuild's time.
    What is alive at the start is frozen out of its scans and the youngest generation collected
    every 50,000 allocations instead of 700 (cycles are still collected; memory stays bounded)."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


async def _rebuild(
    conn: Any,
    reader: Any,
    chain: Sequence[Rebuildable],
    targets: Sequence[str],
    *,
    route: Callable[[str], str],
    ledger_days: float,
    on_progress: Callable[[int], None],
    on_total: Callable[[int], None],
    chunk: int,
    apart: Apart | None,
) -> Report:
    timings: dict[str, float] = {}
    started = time.monotonic()
    used = _needed(chain, targets)
    swapped = [r for r in used if r.name in targets]
    order = _order(sorted({k for r in used for k in r.views.read_first}))
    tables = [t for r in used for t in (*r.views.tables, *r.views.scratch)]
    plan = lanes(used, apart.jobs, apart.shares) if apart is not None else lanes(used, 1)
    feed = Feed(await _stages(conn, used, targets), route)
    await _shadow(conn, tables, frozenset(i for r in used for i in r.views.readers_indexes))
    try:
        history = History(order, chunk, route=route, targets=tuple(targets))
        window = await _feed_history(
            conn,
            reader,
            feed,
            history,
            plan=plan,
            apart=apart,
            ledger_days=ledger_days,
            on_total=on_total,
            on_progress=on_progress,
        )
        await feed.settle(conn)
        timings["feed"] = time.monotonic() - started
        async with conn.transaction():
            await _swap(
                conn,
                feed,
                swapped=swapped,
                window=window,
                on_progress=on_progress,
                order=order,
            )
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE")
        await conn.execute("RESET search_path")
        await conn.execute("RESET synchronous_commit")
    timings["total"] = time.monotonic() - started
    feed.report.seconds.update({k: round(v, 2) for k, v in timings.items()})
    return feed.report


async def _stages(
    conn: Any,
    used: Sequence[Rebuildable],
    targets: Sequence[str],
    only: Sequence[str] | None = None,
) -> list[_Stage]:
    """A stage per subscription of ``used`` (of the ``only`` services, if given), in data-flow
    order, each told which topics a later stage reads (what nothing reads is not built:
    ``Unit.read``)."""
    ledger = RebuildLedger(conn)
    subscriptions = [sub for r in used for sub in r.service.subscriptions]
    stages: list[_Stage] = []
    for r in used:
        if only is not None and r.name not in only:
            continue
        for sub in r.service.subscriptions:
            sender = FeedSender()
            handler: Handler = await _open(sub)
            later = {s.topic for s in subscriptions[subscriptions.index(sub) + 1 :]}
            pipeline = Pipeline(
                sub,
                handler,
                ledger,
                Relay(ledger, sender),
                backoff=(0.0, 0.0),
                read=later.__contains__,
            )
            rebuilt = r.name in targets
            stages.append(_Stage(r.name, sub, pipeline, sender, rebuilt, r.views.settle))
    return stages


def _needed(chain: Sequence[Rebuildable], targets: Sequence[str]) -> list[Rebuildable]:
    """The targets and, transitively, the services whose records they read, in chain order."""
    wanted = set(targets)
    for i in range(len(chain) - 1, -1, -1):
        r = chain[i]
        if r.name in wanted:
            wanted.update(p.name for p in chain[:i] if r.reads is None or p.name in r.reads)
    return [r for r in chain if r.name in wanted]


@dataclass(frozen=True)
class History:
    """How the history is read, the same in every lane (a spawned lane gets a copy)."""

    order: str
    chunk: int
    route: Callable[[str], str]
    targets: tuple[str, ...]
    recent_since: datetime | None = None
    log_level: str = "WARNING"
    """The coordinator's, for a spawned lane's own logging."""


DONE = 2**62
"""A lane's mark once it has read the whole history."""

HISTORY_TABLE = "rebuild_history"


async def _materialise(reader: Any, order: str) -> tuple[datetime, int]:
    """One snapshot of ``events``, numbered in the rebuild's order (``n``), into the shadow:
    sorted once, whatever the lanes (each sorted the whole history for its own cursor before),
    and read by every lane in pages of ``n``. Returns the snapshot's time and its size."""
    async with reader.transaction(isolation="repeatable_read"):
        snapshot_at: datetime = await reader.fetchval("SELECT now()")
        await reader.execute(
            f"CREATE UNLOGGED TABLE {SHADOW}.{HISTORY_TABLE} AS "
            f"SELECT row_number() OVER ({order}) AS n, {_COLUMNS} FROM events"
        )
        await reader.execute(f"ALTER TABLE {SHADOW}.{HISTORY_TABLE} ADD PRIMARY KEY (n)")
        total: int = await reader.fetchval(f"SELECT count(*) FROM {SHADOW}.{HISTORY_TABLE}")
    return snapshot_at, total


async def _feed_history(
    conn: Any,
    reader: Any,
    feed: Feed,
    history: History,
    *,
    plan: Sequence[Lane],
    apart: Apart | None,
    ledger_days: float,
    on_total: Callable[[int], None],
    on_progress: Callable[[int], None],
) -> datetime:
    """Every event of one snapshot of ``events`` through the stages, lane by lane (the first
    here, every other in a spawned process), all reading the snapshot's events in the rebuild's
    order from the shadow (``_materialise``); returns the start of the window of late commits to
    look at again at the swap (what of it is not in the history is fed then)."""
    context = multiprocessing.get_context("spawn")
    marks = [context.Value("q", 0) for _ in plan]
    abort = context.Event()
    began = time.monotonic()
    snapshot_at, total = await _materialise(reader, history.order)
    feed.report.seconds["history"] = round(time.monotonic() - began, 2)
    window = snapshot_at - timedelta(minutes=10)
    history = History(
        history.order,
        history.chunk,
        route=history.route,
        targets=history.targets,
        recent_since=snapshot_at - timedelta(days=ledger_days),
        log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
    )
    on_total(total)
    away: list[_Away] = []
    progress = _Progress(on_progress, marks, total)
    try:
        if apart is not None:
            away = [
                _Away.start(apart, _Lane(plan, k, marks, abort), history)
                for k in range(1, len(plan))
            ]
        here = _Lane(plan, 0, marks, abort)
        subscriptions = [s.subscription for s in feed.stages]
        mine = [s for s in feed.stages if s.service in plan[0].names]
        local = here.feed(mine, subscriptions, feed.route)
        await here.read(conn, reader, local, history, progress.tick)
        for report in await _reports(away, progress):
            feed.report.add(report)
    except BaseException:
        abort.set()
        raise
    finally:
        for lane in away:
            lane.stop()
    feed.report.add(local.report)
    feed.report.events = local.report.events
    feed._count = local._count
    return window


# ------------------------------------------------------------------------------- lanes


@dataclass
class _Lane:
    """One lane's reading: the history chunk by chunk with, for each chunk, what the lanes it
    reads exported for it (once each is past the chunk: their marks), its own records for later
    lanes exported, and its mark (how many events it is past) moved on."""

    plan: Sequence[Lane]
    index: int
    marks: Sequence[Any]
    abort: Any
    _waited: float = 0.0

    def feed(
        self,
        stages: Sequence[_Stage],
        subscriptions: Sequence[Subscription],
        route: Callable[[str], str],
    ) -> Feed:
        """A feed of this lane's ``stages``; ``subscriptions``: the rebuild's, in chain order
        (lanes are consecutive services: those before this lane's are the earlier lanes')."""
        first = subscriptions.index(stages[0].subscription)
        last = subscriptions.index(stages[-1].subscription)
        return Feed(
            stages,
            route,
            later=list(subscriptions[last + 1 :]),
            earlier=list(subscriptions[:first]),
            share=self.plan[self.index].share,
        )

    async def read(
        self,
        conn: Any,
        reader: Any,
        feed: Feed,
        history: History,
        on_progress: Callable[[], None],
    ) -> None:
        """The history (``_materialise``) page by page through ``feed``."""
        mark = self.marks[self.index]
        upstream = self.plan[self.index].upstream
        tables = ", ".join(f"{SHADOW}.{t}" for t in self.plan[self.index].tables)
        analyse_at = history.chunk
        started, cpu, self._waited = time.monotonic(), time.process_time(), 0.0
        last = 0
        page = (
            "SELECT event_id, event_type, child_id, recorded_at, body "
            f"FROM {SHADOW}.{HISTORY_TABLE} WHERE n > $1 ORDER BY n LIMIT $2"
        )
        while rows := await reader.fetch(page, last, history.chunk):
            first, last = last + 1, last + len(rows)
            imported = await self._imports(conn, upstream, first, last) if upstream else []
            await feed.chunk(rows, recent_since=history.recent_since, imported=imported)
            await _export(conn, feed, self.index)
            await _keep_claims(conn, feed)
            if tables and last >= analyse_at:
                # the shadow tables start empty and unanalysed: the handlers' prepared lookups
                # were planned as sequential scans, which grow with the table (a rebuild of a
                # million events spent most of its time in them); statistics as the tables
                # double replan them as index lookups
                await conn.execute(f"ANALYZE {tables}")
                analyse_at *= 2
            mark.value = last
            on_progress()
        mark.value = DONE
        on_progress()
        feed.report.events = feed._count
        feed.report.lanes[self.plan[self.index].label] = {
            "reading": round(time.monotonic() - started, 2),
            "waiting": round(self._waited, 2),
            "cpu": round(time.process_time() - cpu, 2),
        }

    async def _imports(
        self, conn: Any, upstream: Sequence[int], first: int, last: int
    ) -> list[tuple[Position, OutboxRow, bool]]:
        """What the ``upstream`` lanes exported for events ``first`` to ``last``, once every one
        of them is past ``last``."""
        waiting = time.monotonic()
        while any(self.marks[k].value < last for k in upstream):
            if self.abort.is_set():
                raise _AbortedError("another lane of the rebuild failed")
            await asyncio.sleep(0.002)
        self._waited += time.monotonic() - waiting
        rows = await conn.fetch(
            "SELECT seq AS id, position, topic, partition, key, value, headers, event_type, "
            f"event_id, recent FROM {SHADOW}.rebuild_records WHERE at BETWEEN $1 AND $2 "
            "AND lane = ANY($3::int[]) ORDER BY position, lane, seq",
            first,
            last,
            list(upstream),
        )
        return [(tuple(r["position"]), outbox_row(r), r["recent"]) for r in rows]


async def _export(conn: Any, feed: Feed, lane: int) -> None:
    """The records ``feed`` kept for later lanes, into the shadow (they read them from there)."""
    if feed.exported:
        await conn.copy_records_to_table(
            "rebuild_records",
            schema_name=SHADOW,
            columns=[
                "lane", "at", "position", "topic", "partition", "key", "value", "headers",
                "event_type", "event_id", "recent",
            ],
            records=[
                (
                    lane, position[0], list(position), row.topic, row.partition, row.key,
                    row.value, encode_headers(row.headers), row.event_type, row.event_id, recent,
                )
                for position, row, recent in feed.exported
            ],
        )  # fmt: skip
        feed.exported.clear()


class _Progress:
    """The slowest lane's progress (the lanes' marks), reported as increments."""

    def __init__(self, report: Callable[[int], None], marks: Sequence[Any], total: int) -> None:
        self._report, self._marks, self._total = report, marks, total
        self._reported = 0

    def tick(self) -> None:
        done = min(*(m.value for m in self._marks), self._total)
        if done > self._reported:
            self._report(done - self._reported)
            self._reported = done


@dataclass
class _Away:
    """A lane fed in a spawned process; its report comes back through a pipe."""

    process: Any
    receiver: Any
    label: str

    @classmethod
    def start(cls, apart: Apart, lane: _Lane, history: History) -> _Away:
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        label = lane.plan[lane.index].label
        process = context.Process(
            target=_lane_main,
            args=(apart, lane, history, sender),
            name=f"frontdoor-rebuild-{label}",
            daemon=True,
        )
        process.start()
        sender.close()  # ours: the lane's end closes when it exits, so a dead lane is noticed
        return cls(process, receiver, label)

    def answer(self) -> Awaitable[tuple[str, Any]]:
        """("ok", its report), ("error", why) or ("aborted", why): it stopped for another's."""
        return asyncio.to_thread(self._receive)

    def _receive(self) -> tuple[str, Any]:
        try:
            answer: tuple[str, Any] = self.receiver.recv()
            return answer
        except EOFError:
            return "error", f"its process ended with exit code {self.process.exitcode}"

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(10)
        self.receiver.close()


async def _reports(away: Sequence[_Away], progress: _Progress) -> list[Report]:
    """Every lane's report, or the failure of the first that failed on its own — not of one
    that stopped because another had (the abort flag) — as soon as it is known."""
    pending = {asyncio.ensure_future(lane.answer()): lane for lane in away}
    reports: list[Report] = []
    stopped: list[str] = []
    while pending:
        done, _ = await asyncio.wait(pending, timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
        progress.tick()
        for future in done:
            lane = pending.pop(future)
            verdict, value = future.result()
            if verdict == "error":
                for other in pending:
                    other.cancel()
                raise RuntimeError(f"the rebuild lane {lane.label} failed: {value}")
            if verdict == "aborted":
                stopped.append(lane.label)
            else:
                reports.append(value)
    if stopped:  # pragma: no cover - an abort is only set by a lane that also answers "error"
        raise RuntimeError(f"the rebuild lanes {', '.join(stopped)} stopped")
    return reports


class _AbortedError(RuntimeError):
    """Another lane failed: this one stops where it waits."""


def _lane_main(apart: Apart, lane: _Lane, history: History, sender: Any) -> None:
    """A spawned lane's process: feed its services and send back the report (or why not)."""
    from services.common.logging import configure_logging

    configure_logging(level=history.log_level)
    try:
        with _for_a_batch_job():
            report = asyncio.run(_lane(apart, lane, history))
        sender.send(("ok", report))
    except _AbortedError as exc:
        sender.send(("aborted", str(exc)))
    except BaseException as exc:  # whatever it was, the coordinator must hear of it
        lane.abort.set()
        sender.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()


async def _lane(apart: Apart, lane: _Lane, history: History) -> Report:
    import asyncpg

    conn = await asyncpg.connect(apart.dsn)
    try:
        await _for_the_shadow(conn)
        used = _needed(apart.chain(), history.targets)
        names = lane.plan[lane.index].names
        stages = await _stages(conn, used, history.targets, only=names)
        subscriptions = [sub for r in used for sub in r.service.subscriptions]
        feed = lane.feed(stages, subscriptions, history.route)
        await lane.read(conn, conn, feed, history, lambda: None)
        return feed.report
    finally:
        await conn.close()


async def _swap(
    conn: Any,
    feed: Feed,
    *,
    swapped: Sequence[Rebuildable],
    window: datetime,
    on_progress: Callable[[int], None],
    order: str = _ORDER,
) -> None:
    """Claims first (a live batch holding one is waited for), then the live views locked against
    writers, the late events fed, the live tables replaced."""
    await conn.execute("SET LOCAL synchronous_commit = on")  # the swap is durable when it returns
    began = time.monotonic()
    await _claim(conn)
    feed.report.seconds["claims"] = round(time.monotonic() - began, 2)
    live = [t for r in swapped for t in r.views.tables]
    await conn.execute(f"LOCK TABLE {', '.join('public.' + t for t in live)} IN EXCLUSIVE MODE")
    # committed since the history's snapshot: recorded in the window and not in the history
    # (the same event has the same recorded_at in both, so the window bounds both sides)
    delta = await conn.fetch(
        f"SELECT {_COLUMNS} FROM public.events e WHERE e.recorded_at >= $1 AND NOT EXISTS ("
        f"SELECT 1 FROM {SHADOW}.{HISTORY_TABLE} h WHERE h.recorded_at >= $1 "
        f"AND h.event_id = e.event_id) {order}",
        window,
    )
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
    began = time.monotonic()
    await conn.execute(f"TRUNCATE {', '.join('public.' + t for t in live)}")
    for table in live:
        await conn.execute(f"INSERT INTO public.{table} SELECT * FROM {SHADOW}.{table}")
        feed.report.rows[table] = await conn.fetchval(f"SELECT count(*) FROM public.{table}")
    feed.report.seconds["replace"] = round(time.monotonic() - began, 2)


async def _keep_claims(conn: Any, feed: Feed) -> None:
    if feed.claims:
        await conn.copy_records_to_table("rebuild_claims", schema_name=SHADOW, records=feed.claims)
        feed.report.claims += len(feed.claims)
        feed.claims.clear()


async def _claim(conn: Any) -> None:
    await conn.execute(
        "INSERT INTO public.processed_events (consumer, event_id) "
        f"SELECT consumer, event_id FROM {SHADOW}.rebuild_claims ON CONFLICT DO NOTHING"
    )
    await conn.execute(f"TRUNCATE {SHADOW}.rebuild_claims")


async def _open(sub: Subscription) -> Handler:
    """The subscription's handler, opened as the worker opens it (without a pool or producer)."""
    manager = sub.handler(None)
    handler: Handler = await manager.__aenter__()
    return handler
