"""Intake throughput: `frontdoor replay` → `events` table, beside a raw aiokafka yardstick.

Starts its own embedded broker and database (the same code as `frontdoor dev`), generates a
simulated feed, then measures in one run:

1. yardstick: a raw aiokafka produce → consume of the same messages (no parsing, no database);
2. frontdoor: publish the feed to partner.events and time until every valid event is in
   `events`, with one intake worker process (faust) doing validation, de-duplication, routing and
   the batched database writes; the worker's RSS is sampled throughout.

Prints a JSON summary (events/s, ratio to the yardstick, RSS) and writes it to bench/results/.
Usage: python bench/intake_throughput.py [--events N] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.cli.demo import live_event
from services.cli.replay import publish_lines
from services.cli.stack import Infrastructure, initialise
from services.common.embedded import stop_process
from services.common.kafka import ensure_topics, new_producer


def feed(n_events: int, seed: int) -> list[bytes]:
    from datetime import date

    from services.simulate.cli import write_feed

    lines: list[bytes] = []
    days = 30
    while len(lines) < n_events:
        with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
            path = Path(f.name)
        write_feed(path, days=days, seed=seed, start=date(2025, 1, 6), scale=10.0)
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        path.unlink()
        days *= 2
    return lines[:n_events]


async def yardstick(bootstrap: str, lines: list[bytes]) -> float:
    topic = "bench.yardstick"
    await ensure_topics(bootstrap, [(topic, 8)])
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="bench-yardstick",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out_topic = "bench.yardstick.out"
    await ensure_topics(bootstrap, [(out_topic, 8)])
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


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def frontdoor(
    endpoints_bootstrap: str, dsn: str, lines: list[bytes], log_dir: Path, runtime: str
) -> dict[str, float]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": endpoints_bootstrap,
        "DATABASE_URL": dsn,
        "FRONTDOOR_LOG_FORMAT": "json",
        "FRONTDOOR_INTAKE_RUNTIME": runtime,
        # one group per runtime: a group keeps its assignment protocol between members
        "FRONTDOOR_INTAKE_CONSUMER_GROUP": f"frontdoor-intake-bench-{runtime}",
    }
    with (log_dir / f"intake-{runtime}.log").open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "worker", "intake"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    conn = await asyncpg.connect(dsn)
    try:
        # warm up: the worker must have joined its group before timing starts
        warm = live_event(random.Random(runtime), datetime.now(UTC))
        await publish_lines(endpoints_bootstrap, [orjson.dumps(warm)])
        while not await conn.fetchval(
            "SELECT count(*) FROM events WHERE event_id = $1::uuid", warm["event_id"]
        ):
            await asyncio.sleep(0.1)
        base = await conn.fetchval("SELECT count(*) FROM events")
        t0 = time.perf_counter()
        await publish_lines(endpoints_bootstrap, lines)
        published = time.perf_counter() - t0
        rss: list[float] = []
        while True:
            n = await conn.fetchval("SELECT count(*) FROM events") - base
            rss.append(rss_mb(proc.pid))
            if n >= len(lines):
                break
            if time.perf_counter() - t0 > 600:
                raise TimeoutError(f"only {n} of {len(lines)} events recorded")
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - t0
    finally:
        await conn.close()
        stop_process(proc)
    steady = rss[len(rss) // 2 :] or rss
    return {
        "events_per_s": len(lines) / elapsed,
        "publish_s": published,
        "total_s": elapsed,
        "rss_mb_max": max(rss),
        "rss_mb_steady_median": sorted(steady)[len(steady) // 2],
    }


async def run(n: int, seed: int, runtimes: list[str]) -> dict[str, object]:
    """Each runtime gets a fresh broker and database and its own yardstick, in the same run."""
    lines = feed(n, seed)
    results: dict[str, object] = {"events": len(lines), "cpus": os.cpu_count()}
    for runtime in runtimes:
        with tempfile.TemporaryDirectory() as tmp:
            infra = Infrastructure.start(Path(tmp))
            try:
                await initialise(infra.endpoints)
                raw = await yardstick(infra.endpoints.bootstrap_servers, lines)
                fd = await frontdoor(
                    infra.endpoints.bootstrap_servers,
                    infra.endpoints.database_url,
                    lines,
                    Path(tmp),
                    runtime,
                )
            finally:
                infra.stop()
        results[runtime] = {
            "yardstick_raw_aiokafka_events_per_s": round(raw),
            "replay_to_events_table_per_s": round(fd["events_per_s"]),
            "ratio_to_raw": round(fd["events_per_s"] / raw, 3),
            "worker_rss_mb_max": round(fd["rss_mb_max"], 1),
            "worker_rss_mb_steady": round(fd["rss_mb_steady_median"], 1),
            "total_s": round(fd["total_s"], 2),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runtime", action="append", choices=["aiokafka", "faust"])
    args = parser.parse_args()
    result = asyncio.run(run(args.events, args.seed, args.runtime or ["aiokafka", "faust"]))
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "intake_throughput.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
