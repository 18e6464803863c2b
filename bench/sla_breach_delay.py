"""SLA breach-emission delay: 100,000 open clocks, one `frontdoor worker sla`, frontdoor.sla read back.

Starts its own embedded broker and database (the same code as `frontdoor dev`), then:

1. bulk-inserts the open timers straight into ``sla_timers`` (COPY): ``--timers`` of them due
   evenly over ``--spread`` seconds (whole milliseconds) from ``--lead`` seconds on, plus
   ``--background`` more due over the following 30 days (index size, never measured);
2. starts one sla worker process and waits until its scanner holds the lease;
3. while the clocks fall due, inserts ``--late`` more, one at a time, each due 0.3–2 s after it is
   inserted (the "new clock due sooner than the scanner sleeps" path: NOTIFY wakes it);
4. reads every ``sla.breached`` from ``frontdoor.sla`` and measures, per clock:
   emitted − due (the record's producer timestamp), recorded − due (``breached_at``, the scanner's
   decision) and received − due (when this consumer got it); counts early ones (must be 0),
   clocks announced more than once and clocks never announced (both must be 0).

As a yardstick for the broker's own share of the delay, the same run measures a raw aiokafka
produce → consume latency on an idle topic. Prints a JSON summary and writes it to
bench/results/ (``--out``, default sla_breach_delay.json).
Usage: python bench/sla_breach_delay.py [--timers N] [--spread S] [--late K] [--background B]
  burst  (default): 100,000 open clocks, all due within 60 s (~1,700 breaches a second)
  steady: --timers 300 --background 99700: 100,000 open, a few hundred due in the window
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
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness

from schemas.topics import SLA
from services.cli.stack import Infrastructure, initialise
from services.common.embedded import stop_process
from services.common.kafka import ensure_topics, new_producer

FETCH_WAIT_MS = 20  # both consumers poll the broker this often when idle
COLUMNS = [
    "timer_id",
    "child_id",
    "kind",
    "policy",
    "subject_ref",
    "started_at",
    "due_at",
    "status",
    "recorded_at",
]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(quantile(values, 0.50) * 1000, 1),
        "p99_ms": round(quantile(values, 0.99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def whole_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


async def yardstick_latency(bootstrap: str, n: int = 200) -> dict[str, float]:
    """Raw aiokafka: produce one record at a time, consume it; seconds from send to receipt."""
    topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [(topic, 1)])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=FETCH_WAIT_MS
    )
    await consumer.start()
    producer = new_producer(bootstrap, linger_ms=0)
    await producer.start()
    latencies: list[float] = []
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        for _ in range(n):
            sent = time.time()
            await producer.send_and_wait(topic, b"x")
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                if batch:
                    latencies.append(time.time() - sent)
                    break
    finally:
        await producer.stop()
        await consumer.stop()
    return summary_ms(latencies)


async def wait_for_leader(dsn: str, within: float = 60) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            leader = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name LIKE 'frontdoor-sla-scanner:%' AND datname = current_database()"
            )
            locked = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            )
            if leader and locked:
                return
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise TimeoutError("the sla worker never took the scanner lease")


def timer_row(due: datetime, recorded: datetime) -> tuple[object, ...]:
    return (
        uuid.uuid4(),
        f"B{uuid.uuid4().hex[:12]}",
        "screening_decision",
        "wt2013",
        str(uuid.uuid4()),
        due - timedelta(hours=30),
        due,
        "open",
        recorded,
    )


async def insert_bulk(
    dsn: str, n: int, first_due: datetime, spread: float, background: int = 0
) -> dict[str, datetime]:
    """`n` clocks due evenly over `spread` seconds from `first_due` (returned: id → due), plus
    `background` open clocks due over the following 30 days (not returned: never measured)."""
    now = datetime.now(UTC)
    rows = [
        timer_row(whole_ms(first_due + timedelta(seconds=spread * i / n)), now) for i in range(n)
    ]
    later = first_due + timedelta(seconds=spread, days=1)
    rows += [
        timer_row(whole_ms(later + timedelta(days=29 * i / max(background, 1))), now)
        for i in range(background)
    ]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("sla_timers", records=rows, columns=COLUMNS)
        await conn.execute("ANALYZE sla_timers")  # as after any bulk load
    finally:
        await conn.close()
    return {str(r[0]): r[6] for r in rows[:n]}  # type: ignore[misc]


async def insert_late(dsn: str, k: int, over: float, seed: int) -> dict[str, datetime]:
    """K single inserts spread over `over` seconds, each due 0.3–2 s after its insert."""
    rng = random.Random(seed)
    due_by_id: dict[str, datetime] = {}
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(k):
            now = datetime.now(UTC)
            row = timer_row(whole_ms(now + timedelta(seconds=rng.uniform(0.3, 2.0))), now)
            await conn.execute(
                f"INSERT INTO sla_timers ({', '.join(COLUMNS)})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                *row,
            )
            due_by_id[str(row[0])] = row[6]  # type: ignore[assignment]
            await asyncio.sleep(over / k)
    finally:
        await conn.close()
    return due_by_id


async def collect(
    bootstrap: str, expected: int, within: float
) -> dict[str, list[tuple[float, float, datetime]]]:
    """sla.breached per timer id: (emitted at, received at, breached_at) for every record."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_WAIT_MS,
    )
    await consumer.start()
    seen: dict[str, list[tuple[float, float, datetime]]] = {}
    try:
        tps = [TopicPartition(SLA.name, p) for p in range(SLA.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + within
        total = 0
        while total < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            received = time.time()
            for records in batch.values():
                for r in records:
                    event = orjson.loads(r.value)
                    if event["event_type"] != "sla.breached":
                        continue
                    payload = event["payload"]
                    seen.setdefault(payload["timer_id"], []).append(
                        (
                            r.timestamp / 1000,
                            received,
                            datetime.fromisoformat(payload["breached_at"]),
                        )
                    )
                    total += 1
        # a short tail: anything announced twice would show up here
        end = time.monotonic() + 3
        while time.monotonic() < end:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    event = orjson.loads(r.value)
                    if event["event_type"] == "sla.breached":
                        payload = event["payload"]
                        seen.setdefault(payload["timer_id"], []).append(
                            (
                                r.timestamp / 1000,
                                time.time(),
                                datetime.fromisoformat(payload["breached_at"]),
                            )
                        )
    finally:
        await consumer.stop()
    return seen


async def run(
    n: int, spread: float, late: int, seed: int, lead: float, background: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        infra = Infrastructure.start(Path(tmp))
        worker = None
        try:
            await initialise(infra.endpoints)
            bootstrap, dsn = infra.endpoints.bootstrap_servers, infra.endpoints.database_url
            raw = await yardstick_latency(bootstrap)
            # the clocks go in first (COPY, one transaction) with their deadlines `lead` seconds
            # out, so none falls due before the worker is up and its scanner holds the lease
            first_due = datetime.now(UTC) + timedelta(seconds=lead)
            t0 = time.perf_counter()
            due = await insert_bulk(dsn, n, first_due, spread, background)
            insert_s = time.perf_counter() - t0
            env = {
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "DATABASE_URL": dsn,
                "FRONTDOOR_LOG_FORMAT": "json",
                "FRONTDOOR_LOG_LEVEL": "WARNING",
                "FRONTDOOR_FAUST_DATADIR": str(Path(tmp) / "faust-sla"),
            }
            with (Path(tmp) / "sla.log").open("ab") as out:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "services.cli.main", "worker", "sla"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                )
            await wait_for_leader(dsn)
            pgdata = Path(tmp) / "pgdata"
            cpu_before = (
                harness.cpu_seconds({worker.pid}),
                harness.cpu_seconds(harness.postgres_pids(pgdata)),
            )
            window_start = time.perf_counter()
            headroom = (first_due - datetime.now(UTC)).total_seconds()
            collecting = asyncio.create_task(collect(bootstrap, n + late, headroom + spread + 120))
            await asyncio.sleep(max(0.0, headroom))
            due.update(await insert_late(dsn, late, spread, seed))
            rss = harness.rss_mb(worker.pid)
            seen = await collecting
            window_s = time.perf_counter() - window_start
            worker_cpu = harness.cpu_seconds({worker.pid}) - cpu_before[0]
            postgres_cpu = harness.cpu_seconds(harness.postgres_pids(pgdata)) - cpu_before[1]
            log_tail = (Path(tmp) / "sla.log").read_text()[-2000:]
        finally:
            if worker is not None:
                stop_process(worker)
            infra.stop()

    emitted, recorded, received = [], [], []
    late_emitted = []
    early = duplicates = 0
    late_ids = set(list(due)[n:])
    for timer_id, records in seen.items():
        duplicates += len(records) - 1
        at, got, breached_at = records[0]
        deadline = due[timer_id]
        emitted.append(at - deadline.timestamp())
        recorded.append((breached_at - deadline).total_seconds())
        received.append(got - deadline.timestamp())
        if breached_at <= deadline or at < deadline.timestamp():
            early += 1
        if timer_id in late_ids:
            late_emitted.append(at - deadline.timestamp())
    missing = len(set(due) - set(seen))
    return {
        "open_timers": n + background + late,
        "due_in_window_bulk": n,
        "due_later_background": background,
        "spread_s": spread,
        "late_inserted_timers": late,
        "bulk_insert_s": round(insert_s, 2),
        "headroom_before_first_deadline_s": round(headroom, 1),
        "breaches_received": len(seen),
        "missing": missing,
        "duplicates": duplicates,
        "early": early,
        "delay_emitted_minus_due": summary_ms(emitted),
        "delay_breached_at_minus_due": summary_ms(recorded),
        "delay_received_minus_due": summary_ms(received),
        "late_inserted_delay_emitted_minus_due": summary_ms(late_emitted) if late_emitted else None,
        "yardstick_raw_aiokafka_produce_consume_latency": raw,
        "worker_rss_mb": round(rss, 1),
        "measured_window_s": round(window_s, 1),
        "worker_cpu_s": round(worker_cpu, 1),
        "postgres_cpu_s": round(postgres_cpu, 1),
        "worker_log_tail": log_tail if missing or duplicates or early else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--timers", type=int, default=100_000, help="open clocks due inside the window"
    )
    parser.add_argument(
        "--background", type=int, default=0, help="more open clocks, due in the next 30 days"
    )
    parser.add_argument("--spread", type=float, default=60.0)
    parser.add_argument("--late", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--lead", type=float, default=45.0, help="seconds from the insert to the first deadline"
    )
    parser.add_argument("--out", default="sla_breach_delay.json", help="file in bench/results/")
    args = parser.parse_args()
    result = asyncio.run(
        run(args.timers, args.spread, args.late, args.seed, args.lead, args.background)
    )
    result["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
