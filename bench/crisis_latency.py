"""Crisis latency: a police protection published to partner.events → its crisis.raised on
frontdoor.crisis (and in the night's record a watch view reads), under background load.

Starts its own embedded broker and database (the code `frontdoor dev` runs) and one intake, one
screening and one outofhours worker process. A background replay of the simulated feed at 10× a
borough's volume (`services.simulate.cli.write_feed(..., scale=10.0)`) is published to
partner.events at a fixed pace (`--rate` events/s, compressed time: far above the feed's own
real-time rate, which is printed beside it) while probes — `police.protection_started` about a
new child, every `1/--probe-rate` s — are published among it. For each probe it records:

- latency to a frontdoor.crisis consumer (this script's own, partitions assigned, no group):
  publish → arrival of the crisis.raised whose causation is the probe (the headline p50/p99);
- the two hops, from record CreateTimes: publish → intake routed it to frontdoor.casework, and
  casework → outofhours sent the crisis.raised;
- latency to a watch view: publish → the item fetched after the ``ooh_record`` NOTIFY (the path
  `frontdoor ooh watch` takes: consumer → night's record → LISTEN/NOTIFY → query).

Yardstick, same run, same background: a raw aiokafka two-hop relay (consume → produce, twice, no
parsing, no database) between scratch topics, probe latency end to end. Target: p99 ≤ 500 ms to
the crisis consumer. Prints JSON and writes bench/results/crisis_latency.json.
Usage: python bench/crisis_latency.py [--rate 100] [--probes 200] [--probe-rate 4] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness

from schemas.topics import CASEWORK, CRISIS, PARTNER_EVENTS, REPLAY_HEADER
from services.cli.replay import key_of
from services.common.embedded import stop_process
from services.common.kafka import new_producer

RELAY_TOPICS = ("bench.crisis.in", "bench.crisis.mid", "bench.crisis.out")


# ── the feed and the probes ──────────────────────────────────────────────────────────────────


def background_feed(n_events: int, seed: int) -> tuple[list[bytes], dict[str, float]]:
    lines, days = harness.generate_feed(n_events, seed)
    times = [datetime.fromisoformat(orjson.loads(x)["occurred_at"]) for x in lines]
    span = (max(times) - min(times)).total_seconds() or 1.0
    real_time = {"feed_days": days, "events_per_s": len(lines) / span}
    return lines[:n_events], real_time


def probe() -> tuple[str, bytes]:
    """A police protection about a new child, starting now: always a crisis."""
    from tests.factories import child_id, envelope, to_line

    now = datetime.now(UTC)
    event = envelope(
        "police.protection_started", 1,
        {"protection_id": str(uuid.uuid4()), "started_at": now.isoformat(),
         "police_ref": "BENCH-1", "summary": "Benchmark probe."},
        child=f"BENCH-{child_id()}", agency="police", at=now,
    )  # fmt: skip
    return event["event_id"], to_line(event)


# ── measuring ────────────────────────────────────────────────────────────────────────────────


class Arrivals:
    """Assigned (no group) consumer noting when each probe's record shows up on some topics."""

    def __init__(
        self,
        bootstrap: str,
        topics: dict[str, int],
        match: Callable[[Any], str | None],
        final_topic: str = CRISIS.name,
    ) -> None:
        self.bootstrap, self.topics, self.match = bootstrap, topics, match
        self.final_topic = final_topic
        self.arrived: dict[str, float] = {}
        self.created: dict[tuple[str, str], float] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5
        )
        await self._consumer.start()
        tps = [TopicPartition(t, p) for t, n in self.topics.items() for p in range(n)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now, not at the first poll
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=20, max_records=5000)
            now = time.time()
            for tp, records in batch.items():
                for r in records:
                    probe_id = self.match(r)
                    if probe_id is None:
                        continue
                    self.created.setdefault((tp.topic, probe_id), r.timestamp / 1000)
                    if tp.topic == self.final_topic:
                        self.arrived.setdefault(probe_id, now)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()


def frontdoor_match(record: Any) -> str | None:
    headers = dict(record.headers or ())
    event_type = headers.get("event_type")
    if event_type == b"crisis.raised":
        value = orjson.loads(record.value)
        return str(value["payload"]["trigger_event_id"])
    if event_type == b"police.protection_started":
        return str(orjson.loads(record.value)["event_id"])
    return None


class Watcher:
    """The watch view's path: LISTEN ooh_record, then read new items; notes when each probe shows."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.seen: dict[str, float] = {}
        self._conn: asyncpg.Connection | None = None
        self._listener: asyncpg.Connection | None = None
        self._seq = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self.dsn)
        self._listener = await asyncpg.connect(self.dsn)
        self._seq = await self._conn.fetchval("SELECT coalesce(max(seq), 0) FROM ooh_crisis_items")
        await self._listener.add_listener("ooh_record", lambda *_: self._wake.set())
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._conn is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            rows = await self._conn.fetch(
                "SELECT seq, trigger_event_id FROM ooh_crisis_items WHERE seq > $1", self._seq
            )
            now = time.time()
            for row in rows:
                self._seq = max(self._seq, row["seq"])
                self.seen.setdefault(str(row["trigger_event_id"]), now)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for conn in (self._conn, self._listener):
            if conn is not None:
                await conn.close()


async def drive(
    bootstrap: str,
    topic: str,
    background: list[bytes],
    rate: float,
    n_probes: int,
    probe_rate: float,
) -> dict[str, float]:
    """Publish the background at ``rate`` with probes among it; probe id → publish time."""
    producer = new_producer(bootstrap, linger_ms=0)
    await producer.start()
    sent: dict[str, float] = {}
    try:

        async def run_background() -> None:
            records = [harness.partner_record(line, topic) for line in background]
            await harness.produce(bootstrap, records, rate=rate, producer=producer)

        async def run_probes() -> None:
            t0 = time.time()
            for i in range(n_probes):
                delay = t0 + i / probe_rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                probe_id, line = probe()
                sent[probe_id] = time.time()
                await producer.send(topic, line, key=key_of(line))

        bg = asyncio.create_task(run_background())
        await asyncio.sleep(1.0)  # the background is flowing before the first probe
        await run_probes()
        bg.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bg
    finally:
        await producer.stop()
    return sent


async def wait_for(ids: set[str], seen: dict[str, float], within: float) -> None:
    deadline = time.time() + within
    while not ids <= seen.keys():
        if time.time() > deadline:
            raise TimeoutError(f"{len(ids - seen.keys())} of {len(ids)} probes never arrived")
        await asyncio.sleep(0.05)


# ── the yardstick: a raw two-hop relay ───────────────────────────────────────────────────────


def relay_match(record: Any) -> str | None:
    data = orjson.loads(record.value)
    if data.get("event_type") == "police.protection_started" and "BENCH" in str(data["subject"]):
        return str(data["event_id"])
    return None


async def yardstick(bootstrap: str, background: list[bytes], args: argparse.Namespace) -> Any:
    # a raw two-hop relay: assigned partitions read from their end, no group, no database
    relays = [
        harness.PassThrough(bootstrap, RELAY_TOPICS[0], RELAY_TOPICS[1]),
        harness.PassThrough(bootstrap, RELAY_TOPICS[1], RELAY_TOPICS[2]),
    ]
    for hop in relays:
        await hop.start()
    arrivals = Arrivals(bootstrap, {RELAY_TOPICS[2]: 8}, relay_match, RELAY_TOPICS[2])
    await arrivals.start()
    # warm up: both relay groups joined and passing records
    warm_id, warm = probe()
    producer = new_producer(bootstrap, linger_ms=0)
    await producer.start()
    deadline = time.time() + 60
    while warm_id not in arrivals.arrived and time.time() < deadline:
        await producer.send_and_wait(RELAY_TOPICS[0], warm, key=key_of(warm))
        await asyncio.sleep(1.0)
    await producer.stop()
    try:
        sent = await drive(
            bootstrap, RELAY_TOPICS[0], background, args.rate, args.probes, args.probe_rate
        )
        await wait_for(set(sent), arrivals.arrived, within=120)
    finally:
        await arrivals.stop()
        for hop in relays:
            await hop.stop()
    return harness.percentiles([arrivals.arrived[i] - t for i, t in sent.items()])


# ── the run ──────────────────────────────────────────────────────────────────────────────────


async def warm_up(bootstrap: str, arrivals: Arrivals) -> None:
    """Probes until one comes through, so group joins are not measured."""
    producer = new_producer(bootstrap, linger_ms=0)
    await producer.start()
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            probe_id, line = probe()
            await producer.send_and_wait(
                PARTNER_EVENTS.name, line, key=key_of(line), headers=[(REPLAY_HEADER, b"bench")]
            )
            for _ in range(20):
                if probe_id in arrivals.arrived:
                    return
                await asyncio.sleep(0.25)
        raise TimeoutError("no crisis.raised came through the workers")
    finally:
        await producer.stop()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    n_background = int(args.rate * (args.probes / args.probe_rate + 5))
    background, real_time = background_feed(n_background, args.seed)
    async with harness.fresh_stack() as (infra, tmp):
        bootstrap, dsn = infra.endpoints.bootstrap_servers, infra.endpoints.database_url
        raw = await yardstick(bootstrap, background, args)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs = [
                harness.start_worker(n, bootstrap, dsn, tmp)
                for n in ("intake", "screening", "outofhours")
            ]
            arrivals = Arrivals(
                bootstrap, {CRISIS.name: CRISIS.partitions, CASEWORK.name: CASEWORK.partitions},
                frontdoor_match,
            )  # fmt: skip
            await arrivals.start()
            watcher = Watcher(dsn)
            try:
                await warm_up(bootstrap, arrivals)
                await watcher.start()
                sent = await drive(
                    bootstrap, PARTNER_EVENTS.name, background, args.rate, args.probes,
                    args.probe_rate,
                )  # fmt: skip
                await wait_for(set(sent), arrivals.arrived, within=300)
                await wait_for(set(sent), watcher.seen, within=60)
            finally:
                await arrivals.stop()
                await watcher.stop()
        finally:
            for proc in procs:
                stop_process(proc)

    def created(topic: str, i: str) -> float:
        return arrivals.created[(topic, i)]

    to_crisis = [arrivals.arrived[i] - t for i, t in sent.items()]
    result = {
        "background": {
            "feed": f"services.simulate scale=10.0 seed={args.seed}",
            "partner_events_per_s": args.rate,
            "feed_real_time_events_per_s": round(real_time["events_per_s"], 4),
            "speed_up_over_real_time": round(args.rate / real_time["events_per_s"]),
        },
        "probes": len(sent),
        "probe_event": "police.protection_started (always a crisis)",
        "latency_to_crisis_consumer": harness.percentiles(to_crisis),
        "intake_hop_publish_to_casework": harness.percentiles(
            [max(0.0, created(CASEWORK.name, i) - t) for i, t in sent.items()]
        ),
        "outofhours_hop_casework_to_crisis_sent": harness.percentiles(
            [max(0.0, created(CRISIS.name, i) - created(CASEWORK.name, i)) for i in sent]
        ),
        "latency_to_watch_view_via_notify": harness.percentiles(
            [watcher.seen[i] - t for i, t in sent.items()]
        ),
        "yardstick_raw_aiokafka_two_hop_relay": raw,
        "ratio_p99_to_yardstick": round(
            harness.percentiles(to_crisis)["p99_ms"] / max(raw["p99_ms"], 0.1), 2
        ),
        "target_p99_ms": 500,
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m_before": round(load_before, 2),
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        },
    }
    result["target_met"] = result["latency_to_crisis_consumer"]["p99_ms"] <= 500
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="background partner events/s")
    parser.add_argument("--probes", type=int, default=200, help="crisis-worthy probe events")
    parser.add_argument("--probe-rate", type=float, default=4.0, help="probes per second")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    harness.save_result("crisis_latency", result)


if __name__ == "__main__":
    main()
