"""Screening latency and throughput: partner.events → intake → screening → screening.triaged.

Starts its own embedded broker and database (the code `frontdoor dev` runs), one intake and one
screening worker process, and a simulated feed at 10× a borough's volume
(`services.simulate.cli.write_feed(..., scale=10.0)`; the test factories if the simulator is
missing). It publishes the feed's partner events in order (casework events included, as in life)
and, for every contact and police DA notification, records when it was published to
partner.events and when its `screening.triaged` arrived on frontdoor.casework. Two phases:

1. paced: the first parts of the feed, each at a fixed rate (`--rates`, events/s of all partner
   traffic, far above the feed's own real-time peak) — the latency a contact sees when screening
   keeps up;
2. burst: the rest of the feed published as fast as possible — screening's throughput
   (contacts/s from the first publish to the last triage result), beside a raw aiokafka
   consume → produce pass-through of the same records measured in the same run (the yardstick).

Latency is reported to arrival at this script's consumer and to the triage record's CreateTime
(when screening sent it, leaving out the script's own fetch delay), and split into the two hops
by the CreateTime of the contact's record on frontdoor.contacts (when intake sent it on). The
machine's load average is recorded beside the numbers: on a shared 2-core box they move with it.
Prints JSON and writes bench/results/screening_latency.json.
Usage: python bench/screening_latency.py [--rates 20,100] [--paced 2000] [--burst 6000] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas.topics import CASEWORK, CONTACTS, PARTNER_EVENTS
from services.cli.replay import key_of, publish_lines
from services.cli.stack import Infrastructure, initialise
from services.common.embedded import stop_process
from services.common.kafka import ensure_topics, new_producer

CONTACT_TYPES = {"contact.received", "police.da_notification"}


# ── the feed ─────────────────────────────────────────────────────────────────────────────────


def simulated_feed(n_events: int, seed: int) -> tuple[list[bytes], str]:
    try:
        from services.simulate.cli import write_feed
    except ImportError:
        return factory_feed(n_events), "tests.factories (services.simulate missing)"
    lines: list[bytes] = []
    days = 30
    while len(lines) < n_events:
        with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
            path = Path(f.name)
        write_feed(path, days=days, seed=seed, start=date(2025, 1, 6), scale=10.0)
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        path.unlink()
        days *= 2
    return lines[:n_events], f"services.simulate scale=10.0 seed={seed}"


def factory_feed(n_events: int) -> list[bytes]:
    from tests.factories import contact, da_notification, to_line

    return [
        to_line(da_notification(dash=(i * 7) % 20) if i % 3 else contact()) for i in range(n_events)
    ]


def real_time_rates(lines: list[bytes]) -> dict[str, float]:
    """The feed's own pace: average and busiest-hour partner events per second."""
    hours: Counter[str] = Counter()
    times = []
    for line in lines:
        at = datetime.fromisoformat(orjson.loads(line)["occurred_at"])
        times.append(at)
        hours[at.strftime("%Y-%m-%d %H")] += 1
    span = (max(times) - min(times)).total_seconds() or 1.0
    return {
        "average_events_per_s": len(lines) / span,
        "peak_hour_events_per_s": max(hours.values()) / 3600,
    }


# ── measuring ────────────────────────────────────────────────────────────────────────────────


class Arrivals:
    """Consumes frontdoor.casework and notes when each contact's screening.triaged arrives."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.arrived: dict[str, float] = {}
        self.emitted: dict[str, float] = {}
        self.routed: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=5,
        )
        await self._consumer.start()
        tps = [
            TopicPartition(topic.name, p)
            for topic in (CASEWORK, CONTACTS)
            for p in range(topic.partitions)
        ]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=20, max_records=5000)
            now = time.time()
            for tp, records in batch.items():
                for r in records:
                    if tp.topic == CONTACTS.name:  # intake routed it: when intake sent it on
                        self.routed.setdefault(
                            orjson.loads(r.value)["event_id"], r.timestamp / 1000
                        )
                        continue
                    if (r.headers and dict(r.headers).get("event_type")) != b"screening.triaged":
                        continue
                    source = orjson.loads(r.value)["causation_id"]
                    self.arrived.setdefault(source, now)
                    self.emitted.setdefault(source, r.timestamp / 1000)

    async def wait_for(self, ids: set[str], within: float) -> None:
        deadline = time.time() + within
        while not ids <= self.arrived.keys():
            if time.time() > deadline:
                missing = len(ids - self.arrived.keys())
                raise TimeoutError(f"{missing} of {len(ids)} contacts never triaged")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._consumer:
            await self._consumer.stop()


async def publish(bootstrap: str, lines: list[bytes], rate: float | None) -> dict[str, float]:
    """Publish in order (paced at ``rate`` events/s, or flat out); contact id → publish time."""
    producer = new_producer(bootstrap, linger_ms=0 if rate else 5)
    await producer.start()
    sent: dict[str, float] = {}
    pending = []
    try:
        t0 = time.time()
        for i, line in enumerate(lines):
            if rate:
                delay = t0 + i / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            event = orjson.loads(line)
            stamp = time.time()
            pending.append(await producer.send(PARTNER_EVENTS.name, line, key=key_of(line)))
            if event["event_type"] in CONTACT_TYPES:
                sent[event["event_id"]] = stamp
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "p50_ms": round(at(0.50) * 1000, 1),
        "p90_ms": round(at(0.90) * 1000, 1),
        "p99_ms": round(at(0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def phase_result(sent: dict[str, float], arrivals: Arrivals) -> dict[str, Any]:
    to_arrival = [arrivals.arrived[i] - t for i, t in sent.items()]
    to_emit = [max(0.0, arrivals.emitted[i] - t) for i, t in sent.items()]
    intake_hop = [max(0.0, arrivals.routed[i] - t) for i, t in sent.items()]
    screening_hop = [max(0.0, arrivals.emitted[i] - arrivals.routed[i]) for i in sent]
    first, last = min(sent.values()), max(arrivals.arrived[i] for i in sent)
    return {
        "contacts": len(sent),
        "elapsed_s": round(last - first, 2),
        "contacts_per_s": round(len(sent) / (last - first), 1),
        "latency_to_arrival": percentiles(to_arrival),
        "latency_to_triage_sent": percentiles(to_emit),
        "intake_hop_publish_to_contacts_topic": percentiles(intake_hop),
        "screening_hop_contacts_topic_to_triage_sent": percentiles(screening_hop),
    }


async def yardstick(bootstrap: str, lines: list[bytes]) -> float:
    """A raw aiokafka consume → produce of the same records (no parsing, no database)."""
    topic, out_topic = "bench.screening.yardstick", "bench.screening.yardstick.out"
    await ensure_topics(bootstrap, [(topic, 8), (out_topic, 8)])
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="bench-screening-yardstick",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    producer = new_producer(bootstrap)
    await producer.start()
    t0 = time.perf_counter()
    await publish_lines(bootstrap, lines, topic=topic)
    seen = 0
    while seen < len(lines):
        batch = await consumer.getmany(timeout_ms=500, max_records=5000)
        futures = []
        for records in batch.values():
            for r in records:
                futures.append(await producer.send(out_topic, r.value, key=r.key))
            seen += len(records)
        await asyncio.gather(*futures)
        await consumer.commit()
    elapsed = time.perf_counter() - t0
    await consumer.stop()
    await producer.stop()
    return len(lines) / elapsed


# ── the run ──────────────────────────────────────────────────────────────────────────────────


def start_worker(name: str, bootstrap: str, dsn: str, log_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": dsn,
        "FRONTDOOR_LOG_FORMAT": "json",
        "FRONTDOOR_LOG_LEVEL": "WARNING",
        "FRONTDOOR_FAUST_DATADIR": str(log_dir / f"faust-{name}"),
    }
    with (log_dir / f"{name}.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "worker", name],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


async def warm_up(bootstrap: str, dsn: str) -> None:
    """One contact through both workers, so group joins are not measured."""
    from tests.factories import contact, to_line

    event = contact()
    await publish_lines(bootstrap, [to_line(event)])
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.time() + 120
        while not await conn.fetchval(
            "SELECT 1 FROM screening_results WHERE event_id = $1::uuid", event["event_id"]
        ):
            if time.time() > deadline:
                raise TimeoutError("the workers did not triage the warm-up contact")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def run(
    rates: list[float],
    n_paced: int,
    n_burst: int,
    seed: int,
    workdir: str | None = None,
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    lines, source = simulated_feed(n_paced * len(rates) + n_burst, seed)
    paced = [lines[i * n_paced : (i + 1) * n_paced] for i in range(len(rates))]
    burst = lines[n_paced * len(rates) :]
    sent_paced: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = workdir or scratch
        infra = Infrastructure.start(Path(tmp))
        procs: list[subprocess.Popen[bytes]] = []
        try:
            await initialise(infra.endpoints)
            bootstrap, dsn = infra.endpoints.bootstrap_servers, infra.endpoints.database_url
            raw = await yardstick(bootstrap, burst)
            procs = [start_worker(n, bootstrap, dsn, Path(tmp)) for n in ("intake", "screening")]
            await warm_up(bootstrap, dsn)
            arrivals = Arrivals(bootstrap)
            await arrivals.start()
            try:
                for rate, part in zip(rates, paced, strict=True):
                    sent_paced.append(await publish(bootstrap, part, rate))
                    await arrivals.wait_for(set(sent_paced[-1]), within=300)
                    await asyncio.sleep(2)  # let the pipeline go idle between phases
                sent_burst = await publish(bootstrap, burst, None)
                await arrivals.wait_for(set(sent_burst), within=600)
            finally:
                await arrivals.stop()
        finally:
            for proc in procs:
                stop_process(proc)
            infra.stop()
    burst_result = phase_result(sent_burst, arrivals)
    burst_rate = len(burst) / burst_result["elapsed_s"]
    return {
        "feed": source,
        "feed_real_time": {k: round(v, 3) for k, v in real_time_rates(lines).items()},
        "paced": [
            {
                "partner_events": len(part),
                "partner_events_per_s": rate,
                **phase_result(sent, arrivals),
            }
            for rate, part, sent in zip(rates, paced, sent_paced, strict=True)
        ],
        "burst": {
            "partner_events": len(burst),
            "partner_events_per_s": round(burst_rate, 1),
            **burst_result,
        },
        "yardstick_raw_aiokafka_events_per_s": round(raw),
        "ratio_burst_to_raw": round(burst_rate / raw, 3),
        "target_p99_ms": 200,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m_before": round(load_before, 2),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", default="20,100", help="paced phases, partner events/s, comma-separated"
    )
    parser.add_argument("--paced", type=int, default=2000, help="partner events per paced phase")
    parser.add_argument("--burst", type=int, default=6000, help="partner events in the burst")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", help="keep the broker, database and worker logs here")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    result = asyncio.run(run(rates, args.paced, args.burst, args.seed, args.workdir))
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "screening_latency.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
