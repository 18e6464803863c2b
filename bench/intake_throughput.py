"""Intake throughput: `frontdoor replay` → `events` table, beside a raw aiokafka yardstick.

Starts its own embedded broker and database (the same code as `frontdoor dev`), generates a
simulated feed, then measures in one run:

1. yardstick: a raw aiokafka consume → produce of the same messages (no parsing, no database;
   `harness.yardstick_burst`);
2. frontdoor: publish the feed to partner.events and time until every valid event is in
   `events`, with one intake worker process on each runtime (`--runtime`, both by default) doing
   validation, de-duplication, routing and the batched database writes; the worker's RSS is
   sampled throughout. (`bench/runners.py` measures both runners on every stream service.)

Prints a JSON summary (events/s, ratio to the yardstick, RSS) and writes it to bench/results/.
Usage: python bench/intake_throughput.py [--events N] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness

from services.cli.demo import live_event
from services.cli.replay import publish_lines
from services.common.embedded import stop_process


def feed(n_events: int, seed: int) -> list[bytes]:
    return harness.generate_feed(n_events, seed)[0][:n_events]


async def yardstick(bootstrap: str, lines: list[bytes]) -> float:
    return await harness.yardstick_burst(
        bootstrap, [harness.partner_record(line) for line in lines], "intake"
    )


async def frontdoor(
    endpoints_bootstrap: str, dsn: str, lines: list[bytes], log_dir: Path, runtime: str
) -> dict[str, float]:
    proc: subprocess.Popen[bytes] = harness.start_worker(
        "intake",
        endpoints_bootstrap,
        dsn,
        log_dir,
        {
            "FRONTDOOR_LOG_LEVEL": "INFO",
            "FRONTDOOR_INTAKE_RUNTIME": runtime,
            # one group per runtime: a group keeps its assignment protocol between members
            "FRONTDOOR_INTAKE_CONSUMER_GROUP": f"frontdoor-intake-bench-{runtime}",
        },
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
            rss.append(harness.rss_mb(proc.pid))
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
        async with harness.fresh_stack() as (infra, tmp):
            raw = await yardstick(infra.endpoints.bootstrap_servers, lines)
            fd = await frontdoor(
                infra.endpoints.bootstrap_servers, infra.endpoints.database_url, lines, tmp, runtime
            )
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
    harness.save_result("intake_throughput", result)


if __name__ == "__main__":
    main()
