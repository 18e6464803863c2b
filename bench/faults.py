"""Whole-system fault run: the same feed, undisturbed and then under SIGKILLs, must give the same views.

Starts its own embedded broker and embedded PostgreSQL, generates a simulated feed, and runs the
full stream stack (intake, deadletter, screening, sla, outofhours, conferences) with ``--replicas``
workers of every service in their consumer groups, twice, each on a fresh broker and database:

1. **undisturbed**: publish the feed, wait until every view is quiet, snapshot every view;
2. **disturbed**: publish the same feed while a chaos loop SIGKILLs ``--kills`` random stream
   workers (each restarted at once, as the dev supervisor does), SIGKILLs embedded PostgreSQL once
   (restarted on the same data directory) and SIGKILLs the broker once (a fresh broker on the same
   port, topics recreated, every worker restarted — what ``frontdoor dev`` does; the partner then
   re-sends what it had sent, as partners re-send from their own outboxes after a broker loss);
   wait until quiet, snapshot.

The two snapshots must be identical: every view row by row, without processing-time columns
(recorded_at, processed_at, …), surrogate serial ids and Kafka offsets (a new broker numbers its
records anew). Prints the figures as JSON and writes ``bench/results/faults.json``; exits 1 on any
difference. ``tests/faults/test_whole_system.py`` runs a short form in the suite.

    python bench/faults.py --days 30 --kills 20 --replicas 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg

from schemas.topics import ALL_TOPICS
from services.cli.replay import publish_lines
from services.cli.stack import ensure_database, initialise
from services.common.embedded import EmbeddedBroker, EmbeddedPostgres
from services.common.kafka import ensure_topics
from services.common.settings import Endpoints

STREAM_SERVICES = ("intake", "deadletter", "screening", "sla", "outofhours", "conferences")

#: columns that hold processing time, surrogate ids or broker positions: not part of a view's truth
NOT_COMPARED = frozenset(
    {
        "id", "seq", "recorded_at", "updated_at", "created_at", "processed_at", "triaged_at",
        "warned_at", "breached_at", "published_at", "failed_at", "replayed_at", "available_at",
        "source_topic", "source_partition", "source_offset", "dlq_partition", "dlq_offset",
        "original_partition", "original_offset", "consumer_group", "exception_message",
        "received_at", "record_headers", "raised_at",
        # a dead letter's stored headers include dlq.failed.at and the offsets; its identity
        # (letter_id: the refused record's content and group) and bytes are compared
        "header_values",
    }
)
VIEWS = (
    "events",
    "screening_results",
    "screening_decisions",
    "sla_timers",
    "sla_children",
    "sla_child_teams",
    "ooh_crisis_items",
    "ooh_actions",
    "conference_children",
    "conference_referrals",
    "conference_enquiries",
    "conferences",
    "conference_invitations",
    "conference_reports",
    "cp_plans",
    "deadletters",
)


@dataclass
class Stack:
    """One run's broker, database and workers."""

    data_dir: Path
    postgres: EmbeddedPostgres
    database: str
    replicas: int
    env_extra: dict[str, str]
    broker: EmbeddedBroker | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    log_dir: Path | None = None
    starts: int = 0

    @property
    def endpoints(self) -> Endpoints:
        assert self.broker is not None
        return Endpoints(self.broker.bootstrap, self.postgres.dsn(self.database))

    def start_broker(self, port: int | None = None) -> None:
        self.broker = EmbeddedBroker.start(self.data_dir, port=port)

    async def create_topics(self) -> None:
        await ensure_topics(
            self.endpoints.bootstrap_servers, [(t.name, t.partitions) for t in ALL_TOPICS]
        )

    def start_worker(self, slot: str) -> None:
        name = slot.rsplit("-", 1)[0]
        self.starts += 1
        assert self.log_dir is not None
        out = (self.log_dir / f"{slot}.log").open("ab")
        self.workers[slot] = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "worker", name],
            env={
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": self.endpoints.bootstrap_servers,
                "DATABASE_URL": self.endpoints.database_url,
                "FRONTDOOR_LOG_FORMAT": "json",
                "FRONTDOOR_CATCHUP_INTERVAL": "5",
                "FRONTDOOR_REBALANCE_TIMEOUT": "2",
                "FRONTDOOR_OOH_AUTO_HANDOVER": "false",
                "FRONTDOOR_FAUST_DATADIR": str(self.data_dir / "faust" / slot),
                **self.env_extra,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        out.close()

    def slots(self) -> list[str]:
        return [f"{s}-{n}" for s in STREAM_SERVICES for n in range(self.replicas)]

    def start_all(self) -> None:
        for slot in self.slots():
            self.start_worker(slot)

    def stop_all(self) -> None:
        procs = list(self.workers.values())
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.workers.clear()

    def restart_dead(self) -> int:
        """Restart any worker that exited (the supervisor's job); returns how many."""
        n = 0
        for slot, proc in list(self.workers.items()):
            if proc.poll() is not None:
                self.start_worker(slot)
                n += 1
        return n


async def fingerprint(dsn: str) -> tuple[Any, ...]:
    conn = await asyncpg.connect(dsn)
    try:
        counts = []
        for view in VIEWS:
            counts.append(await conn.fetchval(f"SELECT count(*) FROM {view}"))
        counts.append(await conn.fetchval("SELECT count(*) FROM outbox WHERE relayed_at IS NULL"))
        counts.append(await conn.fetchval("SELECT count(*) FROM processed_events"))
        counts.append(
            await conn.fetchval("SELECT count(*) FROM sla_timers WHERE status = 'open' AND due_at < now()")
        )
        return tuple(counts)
    finally:
        await conn.close()


async def wait_quiet(stack: Stack, *, quiet_for: float, timeout: float) -> tuple[Any, ...]:
    """Until nothing changes for ``quiet_for`` seconds, no outbox row waits and no clock is overdue."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: tuple[Any, ...] | None = None
    since = loop.time()
    while loop.time() < deadline:
        stack.restart_dead()
        try:
            now = await fingerprint(stack.endpoints.database_url)
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(1)
            continue
        if now != last:
            last, since = now, loop.time()
        elif loop.time() - since >= quiet_for and now[-3] == 0 and now[-1] == 0:
            return now
        await asyncio.sleep(1)
    raise TimeoutError(f"views never went quiet; last fingerprint {last}")


async def snapshot(
    dsn: str,
    views_compared: Sequence[str] = VIEWS,
    excluded: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Counter[str]]:
    """Every view's rows as a multiset; ``excluded`` (per table) replaces ``NOT_COMPARED``."""
    conn = await asyncpg.connect(dsn)
    try:
        views: dict[str, Counter[str]] = {}
        for view in views_compared:
            skip = NOT_COMPARED if excluded is None else excluded.get(view, ())
            cols = [
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = $1 AND table_schema = current_schema() "
                    "ORDER BY ordinal_position",
                    view,
                )
                if r["column_name"] not in skip
            ]
            rows = await conn.fetch(f"SELECT {', '.join(cols)} FROM {view}")
            views[view] = Counter(
                json.dumps({c: _plain(r[c]) for c in cols}, sort_keys=True, default=str)
                for r in rows
            )
        return views
    finally:
        await conn.close()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def diff(
    a: dict[str, Counter[str]], b: dict[str, Counter[str]], views: Sequence[str] = VIEWS
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for view in views:
        lost = a[view] - b[view]
        extra = b[view] - a[view]
        if lost or extra:
            out[view] = {
                "lost": sum(lost.values()),
                "extra": sum(extra.values()),
                "sample_lost": list(lost)[:2],
                "sample_extra": list(extra)[:2],
            }
    return out


async def run_once(
    *,
    base: Path,
    postgres: EmbeddedPostgres,
    lines: list[bytes],
    replicas: int,
    env_extra: dict[str, str],
    chaos: dict[str, int] | None,
    seed: int,
    timeout: float,
) -> tuple[dict[str, Counter[str]], dict[str, Any], EmbeddedPostgres]:
    database = f"faults_{'chaos' if chaos else 'calm'}_{os.getpid()}"
    stack = Stack(base, postgres, database, replicas, env_extra)
    stack.log_dir = base / "logs" / database
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    stack.start_broker()
    await stack.create_topics()
    await ensure_database(stack.endpoints.database_url)
    await initialise(stack.endpoints)
    stack.start_all()
    facts: dict[str, Any] = {"kills": 0, "postgres_kills": 0, "broker_kills": 0}
    started = time.monotonic()
    try:
        if chaos is None:
            await publish_lines(stack.endpoints.bootstrap_servers, lines)
        else:
            await _disturbed(stack, lines, chaos, random.Random(seed), facts)
        await wait_quiet(stack, quiet_for=12, timeout=timeout)
        facts["seconds"] = round(time.monotonic() - started, 1)
        facts["worker_starts"] = stack.starts
        return await snapshot(stack.endpoints.database_url), facts, stack.postgres
    finally:
        stack.stop_all()
        if stack.broker is not None:
            stack.broker.stop()


async def _disturbed(
    stack: Stack, lines: list[bytes], chaos: dict[str, int], rng: random.Random, facts: dict[str, Any]
) -> None:
    """Publish in chunks while killing workers, PostgreSQL once and the broker once."""
    chunks = [lines[i : i + 250] for i in range(0, len(lines), 250)]
    kills = chaos["kills"]
    n_chunks = len(chunks)
    kill_at = sorted(rng.sample(range(n_chunks), min(kills, n_chunks))) if kills else []
    extra_kills = max(0, kills - len(kill_at))  # more kills than chunks: the rest while settling
    pg_at = n_chunks // 3
    broker_at = (2 * n_chunks) // 3
    sent = 0
    for i, chunk in enumerate(chunks):
        if i in kill_at:
            _kill_random_worker(stack, rng, facts)
        if i == pg_at and chaos.get("postgres", 1):
            os.kill(stack.postgres.pid, signal.SIGKILL)
            stack.postgres.process.wait()
            facts["postgres_kills"] += 1
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            stack.postgres = EmbeddedPostgres.start(stack.data_dir)
        if i == broker_at and chaos.get("broker", 1):
            assert stack.broker is not None
            port = stack.broker.port
            os.kill(stack.broker.process.pid, signal.SIGKILL)
            stack.broker.process.wait()
            facts["broker_kills"] += 1
            stack.stop_all()  # no client survives the embedded broker: stop, restart all
            stack.start_broker(port)
            await stack.create_topics()
            stack.start_all()
            # partners re-send what the lost broker had acknowledged
            await _publish(stack, [line for c in chunks[:i] for line in c])
        await _publish(stack, chunk)
        sent += len(chunk)
        stack.restart_dead()
        await asyncio.sleep(rng.uniform(0.0, 0.4))
    for _ in range(extra_kills):
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        _kill_random_worker(stack, rng, facts)


async def _publish(stack: Stack, lines: list[bytes]) -> None:
    for attempt in range(30):
        try:
            await publish_lines(stack.endpoints.bootstrap_servers, lines)
            return
        except Exception:
            if attempt == 29:
                raise
            await asyncio.sleep(1)


def _kill_random_worker(stack: Stack, rng: random.Random, facts: dict[str, Any]) -> None:
    slot = rng.choice(sorted(stack.workers))
    proc = stack.workers[slot]
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        facts["kills"] += 1
        facts.setdefault("killed", []).append(slot)
    stack.start_worker(slot)


def feed(days: int, seed: int, path: Path) -> list[bytes]:
    from services.simulate.cli import write_feed

    write_feed(path, days=days, seed=seed, start=date(2025, 1, 6))
    return [line for line in path.read_bytes().splitlines() if line.strip()]


async def run(
    *,
    days: int,
    kills: int,
    replicas: int,
    seed: int = 7,
    runtime: str = "aiokafka",
    postgres_kill: bool = True,
    broker_kill: bool = True,
    timeout: float = 900,
) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="frontdoor-faults-"))
    postgres = EmbeddedPostgres.start(base)
    servers = [postgres]
    try:
        lines = feed(days, seed, base / "feed.jsonl")
        env = {"FRONTDOOR_RUNTIME": runtime}
        calm, calm_facts, _ = await run_once(
            base=base, postgres=postgres, lines=lines, replicas=replicas, env_extra=env,
            chaos=None, seed=seed, timeout=timeout,
        )
        chaos = {"kills": kills, "postgres": int(postgres_kill), "broker": int(broker_kill)}
        disturbed, chaos_facts, restarted = await run_once(
            base=base, postgres=postgres, lines=lines, replicas=replicas, env_extra=env,
            chaos=chaos, seed=seed, timeout=timeout,
        )
        servers.append(restarted)
        differences = diff(calm, disturbed)
        return {
            "days": days,
            "events_in_feed": len(lines),
            "replicas": replicas,
            "runtime": runtime,
            "rows": {v: sum(calm[v].values()) for v in VIEWS},
            "undisturbed": calm_facts,
            "disturbed": chaos_facts,
            "differences": differences,
            "identical": not differences,
            "logs": str(base / "logs"),
        }
    finally:
        # the disturbed run may have restarted PostgreSQL: stop whichever server is running
        for server in servers:
            if server.alive():
                server.stop()
        if os.environ.get("FRONTDOOR_KEEP_FAULT_LOGS") != "1":
            shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runtime", choices=("aiokafka", "faust"), default="aiokafka")
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    result = asyncio.run(
        run(days=args.days, kills=args.kills, replicas=args.replicas, seed=args.seed,
            runtime=args.runtime, timeout=args.timeout)
    )
    out = ROOT / "bench" / "results" / "faults.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))
    sys.exit(0 if result["identical"] else 1)


if __name__ == "__main__":
    main()
