"""What the benchmarks share: their own stack, the simulated feed, worker processes, producing
at a pace, the raw aiokafka yardstick, percentiles and the result file.

Every bench starts its own embedded broker and database with the code ``frontdoor dev`` runs
(``services.cli.stack``) and measures frontdoor beside a raw aiokafka pass-through of the same
records in the same run (DESIGN.md, "How we know it works"). Scripts import this module by name
(``bench/`` is on ``sys.path`` when one runs as ``python bench/<name>.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.topics import PARTNER_EVENTS, REPLAY_HEADER
from services.cli.replay import key_of
from services.cli.stack import Infrastructure, initialise
from services.common.kafka import ensure_topics, new_producer
from services.common.publishing import OutRecord
from services.common.runners import new_consumer

RESULTS = ROOT / "bench" / "results"


# ── the stack and the workers ────────────────────────────────────────────────────────────────


@asynccontextmanager
async def fresh_stack(
    workdir: str | Path | None = None,
) -> AsyncIterator[tuple[Infrastructure, Path]]:
    """An embedded broker and database of their own, topics and migrations made; stopped after."""
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(workdir or scratch)
        infra = Infrastructure.start(tmp)
        try:
            await initialise(infra.endpoints)
            yield infra, tmp
        finally:
            infra.stop()


def start_worker(
    name: str,
    bootstrap: str,
    dsn: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``frontdoor worker <name>`` as a child process, logging (JSON, warnings) to its own file."""
    full = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": dsn,
        "FRONTDOOR_LOG_FORMAT": "json",
        "FRONTDOOR_LOG_LEVEL": "WARNING",
        "FRONTDOOR_FAUST_DATADIR": str(log_dir / f"faust-{name}"),
        **(env or {}),
    }
    with (log_dir / f"{name}.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "worker", name],
            env=full, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids(pgdata: Path) -> set[int]:
    """The postmaster of this run's database and its backends."""
    master = int((pgdata / "postmaster.pid").read_text().split()[0])
    pids = {master}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.add(int(entry.name))
    return pids


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}


# ── the feed ─────────────────────────────────────────────────────────────────────────────────


def generate_feed(min_events: int, seed: int, *, days: int = 30) -> tuple[list[bytes], int]:
    """The simulator's partner events at 10× a borough's volume from 2025-01-06
    (``write_feed(scale=10.0)``), at least ``min_events`` of them: the days double until there
    are. Returns every line generated and the number of days."""
    from services.simulate.cli import write_feed

    while True:
        with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
            path = Path(f.name)
        write_feed(path, days=days, seed=seed, start=date(2025, 1, 6), scale=10.0)
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        path.unlink()
        if len(lines) >= min_events:
            return lines, days
        days *= 2


def partner_record(line: bytes, topic: str = PARTNER_EVENTS.name) -> OutRecord:
    """A feed line as ``frontdoor replay`` publishes it: key = the child's id, the replay stamp
    on ``partner.events`` (an agency's lane needs none)."""
    headers = [(REPLAY_HEADER, b"bench")] if topic == PARTNER_EVENTS.name else []
    return OutRecord(topic, key_of(line), line, headers)


# ── producing ────────────────────────────────────────────────────────────────────────────────


async def produce(
    bootstrap: str,
    records: Sequence[OutRecord],
    *,
    rate: float | None = None,
    topic: str | None = None,
    producer: AIOKafkaProducer | None = None,
) -> list[float]:
    """Send in order, at ``rate`` records/s or flat out, to each record's topic (or ``topic``);
    every acknowledgement awaited. Returns each record's send time (``time.time()``)."""
    own = producer is None
    if producer is None:
        producer = new_producer(bootstrap, linger_ms=0 if rate else 5)
        await producer.start()
    sent: list[float] = []
    pending: list[asyncio.Future[Any]] = []
    try:
        t0 = time.time()
        for i, r in enumerate(records):
            if rate:
                delay = t0 + i / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent.append(time.time())
            pending.append(
                await producer.send(topic or r.topic, r.value, key=r.key, headers=r.headers or None)
            )
            if len(pending) >= (500 if rate else 2000):
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        if own:
            await producer.stop()
    return sent


# ── the yardstick: a raw aiokafka pass-through ───────────────────────────────────────────────


def _no_handler(_resources: Any) -> Any:  # the yardstick's consumer settings only
    raise NotImplementedError


class PassThrough:
    """A raw aiokafka consume → produce loop from ``source`` to ``target``: no parsing, no
    database. In a consumer ``group`` it uses the aiokafka runner's own consumer settings
    (``services.common.runners.new_consumer``: fetch wait, batch size, group timeouts) and
    commits after each forwarded batch; without one it reads assigned partitions from their end.
    ``received`` / ``done`` note, by record value, when a record was fetched and when its batch
    was forwarded (and committed)."""

    def __init__(
        self,
        bootstrap: str,
        source: str,
        target: str,
        *,
        partitions: int = 8,
        group: str | None = None,
        max_batch: int = 1000,
        fetch_max_wait_ms: int = 5,
    ) -> None:
        self.bootstrap, self.source, self.target = bootstrap, source, target
        self.partitions, self.group, self.max_batch = partitions, group, max_batch
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.received: dict[bytes, float] = {}
        self.done: dict[bytes, float] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await ensure_topics(
            self.bootstrap, [(t, self.partitions) for t in (self.source, self.target)]
        )
        if self.group is None:
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                fetch_max_wait_ms=self.fetch_max_wait_ms,
            )
            await self._consumer.start()
            tps = [TopicPartition(self.source, p) for p in range(self.partitions)]
            self._consumer.assign(tps)
            await self._consumer.seek_to_end(*tps)
        else:
            from services.common.pipeline import Subscription

            sub = Subscription(
                consumer="bench.yardstick", topic=self.source, group=self.group,
                handler=_no_handler, max_batch=self.max_batch,
            )  # fmt: skip
            self._consumer = new_consumer(sub, self.bootstrap)
            self._consumer.subscribe([self.source])
            await self._consumer.start()
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=0, acks="all")
        await self._producer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        assert self._producer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=50, max_records=self.max_batch)
            now = time.time()
            records = [r for rs in batch.values() for r in rs]
            futures = [
                await self._producer.send(
                    self.target, r.value, key=r.key, headers=list(r.headers) or None
                )
                for r in records
            ]
            await asyncio.gather(*futures)
            if self.group is not None and records:
                await self._consumer.commit()
            finished = time.time()
            for r in records:
                self.received.setdefault(r.value, now)
                self.done.setdefault(r.value, finished)

    async def wait_for(self, values: Collection[bytes], within: float) -> float:
        """Until every one of ``values`` was forwarded; when the last one was."""
        deadline = time.time() + within
        while not all(v in self.done for v in values):
            if self._task is not None and self._task.done():
                self._task.result()  # its exception, if it failed
            if time.time() > deadline:
                missing = sum(1 for v in values if v not in self.done)
                raise TimeoutError(
                    f"the pass-through forwarded {len(values) - missing} of {len(values)}"
                )
            await asyncio.sleep(0.01)
        return max(self.done[v] for v in values)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)  # wait_for raised it
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()


async def yardstick_burst(
    bootstrap: str, records: Sequence[OutRecord], name: str, *, partitions: int = 8
) -> float:
    """Records/s through a grouped pass-through (joined and warm before timing): from the first
    send to the commit of the last forwarded batch."""
    relay = PassThrough(
        bootstrap, f"bench.{name}.yardstick", f"bench.{name}.yardstick.out",
        partitions=partitions, group=f"bench-{name}-yardstick",
        fetch_max_wait_ms=int(os.environ.get("FRONTDOOR_FETCH_MAX_WAIT_MS", "50")),
    )  # fmt: skip
    await relay.start()
    try:
        warm = OutRecord(relay.source, None, f"bench warm-up {time.time()}".encode())
        await produce(bootstrap, [warm])
        await relay.wait_for([warm.value or b""], within=120)
        t0 = time.time()
        await produce(bootstrap, records, topic=relay.source)
        last = await relay.wait_for([r.value or b"" for r in records], within=600)
    finally:
        await relay.stop()
    return len(records) / (last - t0)


# ── reporting ────────────────────────────────────────────────────────────────────────────────


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max of durations in seconds, as milliseconds."""
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "p50_ms": round(at(0.50) * 1000, 1),
        "p90_ms": round(at(0.90) * 1000, 1),
        "p99_ms": round(at(0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def save_result(name: str, result: Mapping[str, Any], *, echo: bool = True) -> Path:
    """``bench/results/<name>.json`` (and the JSON on stdout unless ``echo`` is off)."""
    text = json.dumps(result, indent=2)
    if echo:
        print(text)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(text + "\n")
    return path
