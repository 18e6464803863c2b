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

Lanes (``lanes``): services no record passes between — the workforce service reads only
intake's output and nothing rebuilt reads its records — are independent lanes of the data flow.
Given ``Apart`` (the database URL and the chain's factory), every lane after the first is fed in a
process of its own (spawned), on its own connections, reading the same snapshot of ``events``
(``pg_export_snapshot``, imported with ``SET TRANSACTION SNAPSHOT``, as ``pg_dump --jobs`` does)
into the same shadow schema (the lanes write disjoint tables); this process feeds the first lane
and waits for the others before it settles and swaps. A lane that fails fails the rebuild. The
progress reported is the slowest lane's.

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
import logging
import multiprocessing
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


@dataclass(frozen=True)
class Apart:
    """What a lane fed in a process of its own needs: the database and the chain (the process is
    spawned, so ``chain`` is a module-level function returning the same chain)."""

    dsn: str
    chain: Callable[[], Sequence[Rebuildable]]
    jobs: int = 2
    """Processes at most (this one included); lanes beyond them are fed here."""


def lanes(used: Sequence[Rebuildable]) -> list[list[Rebuildable]]:
    """``used`` split into lanes no record crosses: a service shares a lane with every service
    it reads (``Rebuildable.reads``; None: every one before it). Chain order inside each lane,
    the first service's lane first."""
    parent = {r.name: r.name for r in used}

    def root(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    for i, r in enumerate(used):
        for earlier in used[:i]:
            if r.reads is None or earlier.name in r.reads:
                parent[root(r.name)] = root(earlier.name)
    grouped: dict[str, list[Rebuildable]] = {}
    for r in used:
        grouped.setdefault(root(r.name), []).append(r)
    return list(grouped.values())


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

    def add(self, lane: Report) -> None:
        """Count in what another lane fed (it read the same events: ``events`` is not added)."""
        self.fed.update(lane.fed)
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
    """Feeds chunks of events through the stages in data-flow order."""

    def __init__(self, stages: Sequence[_Stage], route: Callable[[str], str]) -> None:
        self.stages = stages
        self.route = route
        self.report = Report()
        self.claims: list[tuple[str, UUID]] = []
        self._count = 0

    async def chunk(self, rows: Sequence[Any], *, recent_since: datetime | None) -> None:
        inbox: list[list[_Item]] = [[] for _ in self.stages]
        for row in rows:
            self._count += 1
            topic = self.route(row["event_type"])
            recent = recent_since is None or row["recorded_at"] >= recent_since
            for i, stage in enumerate(self.stages):
                if _wants(stage.subscription, topic, row["event_type"]):
                    inbox[i].append(((self._count,), _origin(topic, row), recent, row["event_id"]))
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
            position_of = {i: (p, r) for p, _, r, i in items}
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
    apart: Apart | None = None,
) -> Report:
    """Rebuild ``targets`` (service names) on ``conn``, reading ``events`` on ``reader``; every
    service of ``chain`` whose records feed a target (``Rebuildable.reads``) runs too, into
    shadow tables that are dropped. With ``apart``, lanes after the first are fed in processes
    of their own (the module docstring).

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
    split = lanes(used)
    jobs = 1 if apart is None else max(1, apart.jobs)
    away = [[r.name for r in lane] for lane in split[1:jobs]]
    here = {r.name for r in used} - {name for lane in away for name in lane}
    feed = Feed(await _stages(conn, used, targets), route)
    await _shadow(conn, tables)
    try:
        history = History(order, chunk, route=route, targets=tuple(targets))
        window, seen_late = await _feed_history(
            conn,
            reader,
            feed,
            history,
            here=here,
            away=[(apart, lane) for lane in away] if apart is not None else [],
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


async def _stages(conn: Any, used: Sequence[Rebuildable], targets: Sequence[str]) -> list[_Stage]:
    """A stage per subscription of ``used``, in data-flow order, each told which topics a later
    stage reads (what nothing reads is not built: ``Unit.read``)."""
    ledger = RebuildLedger(conn)
    subscriptions = [sub for r in used for sub in r.service.subscriptions]
    stages: list[_Stage] = []
    for r in used:
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
    snapshot: str | None = None
    recent_since: datetime | None = None
    window: datetime | None = None
    log_level: str = "WARNING"
    """The coordinator's, for a spawned lane's own logging."""


async def _feed_history(
    conn: Any,
    reader: Any,
    feed: Feed,
    history: History,
    *,
    here: set[str],
    away: Sequence[tuple[Apart, Sequence[str]]],
    ledger_days: float,
    on_total: Callable[[int], None],
    on_progress: Callable[[int], None],
) -> tuple[datetime, set[UUID]]:
    """Every event of one snapshot of ``events`` through the stages (those of the ``away`` lanes
    in their own processes, reading the same snapshot); returns the window of late commits to
    look at again at the swap and the ids already fed in it."""
    async with reader.transaction(isolation="repeatable_read", readonly=True):
        snapshot_at: datetime = await reader.fetchval("SELECT now()")
        window = snapshot_at - timedelta(minutes=10)
        history = History(
            history.order,
            history.chunk,
            route=history.route,
            targets=history.targets,
            snapshot=await reader.fetchval("SELECT pg_export_snapshot()") if away else None,
            recent_since=snapshot_at - timedelta(days=ledger_days),
            window=window,
            log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        )
        on_total(await reader.fetchval("SELECT count(*) FROM events"))
        lanes_away = [_Away.start(a, names, history) for a, names in away]
        progress = _Progress(on_progress, [lane.done for lane in lanes_away])
        try:
            local = Feed([s for s in feed.stages if s.service in here], feed.route)
            seen_late = await _read(conn, reader, local, history, progress.here)
            # the exporting transaction stays open until every lane has read its snapshot
            for lane in lanes_away:
                feed.report.add(await lane.result(progress))
        finally:
            for lane in lanes_away:
                lane.stop()
    feed.report.add(local.report)
    feed.report.events = local.report.events
    feed._count = local._count
    return window, seen_late


async def _read(
    conn: Any, reader: Any, feed: Feed, history: History, on_progress: Callable[[int], None]
) -> set[UUID]:
    """The cursor over ``events`` in the rebuild's order, chunk by chunk through ``feed``."""
    await reader.execute(
        f"DECLARE rebuild_events NO SCROLL CURSOR FOR SELECT {_COLUMNS} FROM events {history.order}"
    )
    seen_late: set[UUID] = set()
    assert history.window is not None
    while rows := await reader.fetch(f"FETCH {history.chunk} FROM rebuild_events"):
        seen_late.update(r["event_id"] for r in rows if r["recorded_at"] >= history.window)
        await feed.chunk(rows, recent_since=history.recent_since)
        await _keep_claims(conn, feed)
        on_progress(len(rows))
    feed.report.events = feed._count
    return seen_late


# ------------------------------------------------------------------------ lanes apart


class _Progress:
    """The slowest lane's progress, reported as increments."""

    def __init__(self, report: Callable[[int], None], away: Sequence[Any]) -> None:
        self._report, self._away = report, away
        self._here = self._reported = 0

    def here(self, n: int) -> None:
        self._here += n
        self.tick()

    def tick(self) -> None:
        done = min([self._here, *(v.value for v in self._away)])
        if done > self._reported:
            self._report(done - self._reported)
            self._reported = done


@dataclass
class _Away:
    """A lane fed in a spawned process; its report comes back through a pipe."""

    process: Any
    receiver: Any
    done: Any
    names: Sequence[str]

    @classmethod
    def start(cls, apart: Apart, names: Sequence[str], history: History) -> _Away:
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        done = context.Value("q", 0)
        process = context.Process(
            target=_lane_main,
            args=(apart, tuple(names), history, sender, done),
            name=f"frontdoor-rebuild-{'-'.join(names)}",
            daemon=True,
        )
        process.start()
        sender.close()  # ours: the lane's end closes when it exits, so a dead lane is noticed
        return cls(process, receiver, done, names)

    async def result(self, progress: _Progress) -> Report:
        waiting = asyncio.ensure_future(asyncio.to_thread(self._receive))
        while not waiting.done():
            await asyncio.wait([waiting], timeout=0.25)
            progress.tick()
        verdict, value = waiting.result()
        if verdict != "ok":
            raise RuntimeError(f"the rebuild lane {', '.join(self.names)} failed: {value}")
        progress.tick()
        report: Report = value
        return report

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


def _lane_main(
    apart: Apart, names: Sequence[str], history: History, sender: Any, done: Any
) -> None:
    """A spawned lane's process: feed ``names`` and send back its report (or why it failed)."""
    from services.common.logging import configure_logging

    configure_logging(level=history.log_level)
    try:
        sender.send(("ok", asyncio.run(_lane(apart, names, history, done))))
    except BaseException as exc:  # whatever it was, the coordinator must hear of it
        sender.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()


async def _lane(apart: Apart, names: Sequence[str], history: History, done: Any) -> Report:
    import asyncpg

    def advance(n: int) -> None:
        done.value += n

    conn = await asyncpg.connect(apart.dsn)
    reader = await asyncpg.connect(apart.dsn)
    try:
        await conn.execute(f"SET search_path = {SHADOW}, public")
        used = [r for r in apart.chain() if r.name in names]
        feed = Feed(await _stages(conn, used, history.targets), history.route)
        async with reader.transaction(isolation="repeatable_read", readonly=True):
            await reader.execute(f"SET TRANSACTION SNAPSHOT '{history.snapshot}'")
            await _read(conn, reader, feed, history, advance)
        return feed.report
    finally:
        await reader.close()
        await conn.close()


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
