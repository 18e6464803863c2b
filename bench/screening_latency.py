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
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness

from schemas.topics import CASEWORK, CONTACTS
from services.cli.replay import publish_lines
from services.common.embedded import stop_process

CONTACT_TYPES = {"contact.received", "police.da_notification"}


# ── the feed ─────────────────────────────────────────────────────────────────────────────────


def simulated_feed(n_events: int, seed: int) -> tuple[list[bytes], str]:
    try:
        lines = harness.generate_feed(n_events, seed)[0]
    except ImportError:
        return factory_feed(n_events), "tests.factories (services.simulate missing)"
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
    times = await harness.produce(
        bootstrap, [harness.partner_record(line) for line in lines], rate=rate
    )
    sent: dict[str, float] = {}
    for line, stamp in zip(lines, times, strict=True):
        event = orjson.loads(line)
        if event["event_type"] in CONTACT_TYPES:
            sent[event["event_id"]] = stamp
    return sent


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
        "latency_to_arrival": harness.percentiles(to_arrival),
        "latency_to_triage_sent": harness.percentiles(to_emit),
        "intake_hop_publish_to_contacts_topic": harness.percentiles(intake_hop),
        "screening_hop_contacts_topic_to_triage_sent": harness.percentiles(screening_hop),
    }


async def yardstick(bootstrap: str, lines: list[bytes]) -> float:
    """A raw aiokafka consume → produce of the same records (no parsing, no database)."""
    return await harness.yardstick_burst(
        bootstrap, [harness.partner_record(line) for line in lines], "screening"
    )


# ── the run ──────────────────────────────────────────────────────────────────────────────────


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
    async with harness.fresh_stack(workdir) as (infra, tmp):
        bootstrap, dsn = infra.endpoints.bootstrap_servers, infra.endpoints.database_url
        raw = await yardstick(bootstrap, burst)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs = [harness.start_worker(n, bootstrap, dsn, tmp) for n in ("intake", "screening")]
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
    harness.save_result("screening_latency", result)


if __name__ == "__main__":
    main()
