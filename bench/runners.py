"""Both runners on every stream service, beside a raw aiokafka yardstick, in one run.

For each stream service (intake, deadletter, screening, sla, outofhours, conferences) and each
runner (``FRONTDOOR_RUNTIME=aiokafka|faust``, ``services/common/runners.py`` and
``faust_runner.py``): a fresh embedded broker and database (topics and migrations, as
``frontdoor init`` makes them), ONE worker process ``python -m services.cli.main worker <service>``
(``FRONTDOOR_OOH_AUTO_HANDOVER=false``, warnings-only JSON logs), one warm-up record through it
(group joins are not measured), then:

1. **burst** — ``--events`` records produced flat out straight onto the service's input topic,
   timed from the first send until the service's ledger shows every one it wants:
   ``processed_events`` rows of the consumer(s) its declaration (``bootstrap.service()``) reads
   that topic with, plus any record it dead-lettered (an outbox row for ``frontdoor.deadletter``).
   A type the subscription does not want is skipped by the pipeline and not waited for; the
   rate is of every record sent (``events/s``), the handled count beside it. The worker's CPU
   time (``/proc``) over the burst is recorded too: on a shared machine it moves less than the
   wall clock.
2. **paced** — ``--rate`` records/s for ``--seconds`` (50/s for 15 s: 750 samples, and the
   whole run stays under ~10 minutes on 2 cores), only records the service wants (so that every
   service has as many samples): hop latency = ``processed_events.processed_at`` (the start of
   the batch's transaction, after fetch and decode) − the record's send time → p50/p99.

Input, from one simulated feed (``services.simulate.cli.write_feed``, 10× a borough, a fresh seed
unless ``--seed``): intake reads every partner event raw on ``partner.events`` (as ``frontdoor
replay`` sends it); screening the contacts and police DA notifications on ``frontdoor.contacts``
(its triage subscription); sla, outofhours and conferences the other partner events on
``frontdoor.casework``; those as intake routes them (the same key, value and ``event_type``
header). The dead-letter service reads garbage (random bytes) on ``frontdoor.deadletter`` with
the ``dlq.*`` headers the pipeline's own ``dead_letter_row`` writes.

Yardstick, same run, same broker: a raw aiokafka consume → produce pass-through between scratch
topics with the aiokafka runner's consumer settings (group, fetch wait
``FRONTDOOR_FETCH_MAX_WAIT_MS``, commit per batch) and no parsing or database, over the same burst
and the same paced records (``harness.PassThrough``; once per input: the three casework services
share the burst, each has its own paced records), in this process. Its hop latency is the fetch
time − send time. It forwards every record, so a service that skips most of its input by the
``event_type`` header (outofhours, conferences) can outrun it.

Writes bench/results/runners.json and prints a markdown table, then which runner wins each
service on throughput, p99 and worker CPU per event (logs go to stderr).
A service that fails (not ported yet, a worker that dies, a stall) is an error row; the rest
are still measured.
Usage: python bench/runners.py [--services intake,sla] [--runners aiokafka,faust]
       [--events 5000] [--rate 50] [--seconds 15] [--seed S] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import itertools
import os
import random
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness

from schemas.topics import CASEWORK, CONTACTS, DEADLETTER, PARTNER_EVENTS, Topic
from services.cli.registry import service as service_spec
from services.common.deadletter import DeadLetterReason, Origin
from services.common.decoding import NotAnObjectError, Refused, decode_event
from services.common.embedded import stop_process
from services.common.logging import configure_logging
from services.common.pipeline import dead_letter_row
from services.common.publishing import OutRecord, event_record
from services.intake.domain.routing import route

SERVICES = ("intake", "deadletter", "screening", "sla", "outofhours", "conferences")
RUNNERS = ("aiokafka", "faust")
INPUT: dict[str, Topic] = {
    "intake": PARTNER_EVENTS,
    "deadletter": DEADLETTER,
    "screening": CONTACTS,
    "sla": CASEWORK,
    "outofhours": CASEWORK,
    "conferences": CASEWORK,
}
WORKER_ENV = {"FRONTDOOR_OOH_AUTO_HANDOVER": "false"}


def note(text: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


class NotEnoughRecordsError(RuntimeError):
    """The feed is too short for the burst and the paced phase."""


class WorkerExitedError(RuntimeError):
    """The worker process ended while it was being measured."""


# ── what each service reads ──────────────────────────────────────────────────────────────────


class Item(NamedTuple):
    """One input record, and the id the service's ledger claims it under (``None``: skipped)."""

    record: OutRecord
    ledger_id: UUID | None


@dataclass(frozen=True)
class Load:
    warm: Item
    burst: list[Item]
    paced: list[Item]

    @property
    def wanted(self) -> int:
        return sum(1 for i in self.burst if i.ledger_id is not None)


@dataclass(frozen=True)
class Declared:
    """The subscriptions a service declares on its input topic: their ledger names and types."""

    consumers: tuple[str, ...]
    event_types: frozenset[str] | None

    def wants(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


def declared(service: str, topic: Topic) -> Declared:
    """From the service's own declaration (``bootstrap.service()``), as the worker builds it."""
    module = importlib.import_module(service_spec(service).bootstrap_module)
    subs = [s for s in module.service().subscriptions if s.topic == topic.name]
    if not subs:
        raise RuntimeError(f"{service} declares no subscription on {topic.name}")
    types: frozenset[str] | None = frozenset()
    for s in subs:
        types = None if types is None or s.event_types is None else types | s.event_types
    return Declared(tuple(sorted({s.consumer for s in subs})), types)


class Feed:
    """The simulated feed's partner events, and each as intake routes it (decoded once)."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.types = [str(orjson.loads(line)["event_type"]) for line in lines]
        self._routed: dict[int, OutRecord] = {}

    def items(self, topic: Topic, wants: Declared) -> Iterator[Item]:
        for i, (line, event_type) in enumerate(zip(self.lines, self.types, strict=True)):
            if topic is PARTNER_EVENTS:
                ledger_id = UUID(str(orjson.loads(line)["event_id"]))
                yield Item(
                    harness.partner_record(line), ledger_id if wants.wants(event_type) else None
                )
            elif route(event_type) == topic.name:
                record = self._route(i, line, topic)
                yield Item(record, record.event_id if wants.wants(event_type) else None)

    def _route(self, i: int, line: bytes, topic: Topic) -> OutRecord:
        if i not in self._routed:
            decoded = decode_event(line)
            if isinstance(decoded, Refused):
                raise ValueError(f"feed line {i} breaks the contract: {decoded.error}")
            self._routed[i] = event_record(topic.name, decoded.event)
        return self._routed[i]


def garbage_letters(seed: int) -> Iterator[Item]:
    """Random bytes that failed to decode somewhere, as the pipeline dead-letters them."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    sources = (PARTNER_EVENTS, CONTACTS, CASEWORK)
    for offset in itertools.count():
        source = rng.choice(sources)
        origin = Origin(
            topic=source.name,
            partition=rng.randrange(source.partitions),
            offset=offset,
            key=rng.randbytes(8) if rng.random() < 0.5 else None,
            value=rng.randbytes(rng.randint(16, 600)),
        )
        error = NotAnObjectError("not JSON: unexpected character")
        row = dead_letter_row(
            origin, DeadLetterReason.DESERIALIZATION, error, "frontdoor-intake", now
        )
        yield Item(OutRecord(row.topic, row.key, row.value, list(row.headers)), row.event_id)


def load_of(items: Iterable[Item], n_burst: int, n_paced: int) -> Load:
    """The first ``n_burst`` items; then a wanted one to warm up with; then ``n_paced`` wanted."""
    stream = iter(items)
    burst = list(itertools.islice(stream, n_burst))
    wanted = (i for i in stream if i.ledger_id is not None)
    warm = next(wanted, None)
    paced = list(itertools.islice(wanted, n_paced))
    if warm is None or len(burst) < n_burst or len(paced) < n_paced:
        raise NotEnoughRecordsError(f"{len(burst)} burst and {len(paced)} paced records")
    return Load(warm, burst, paced)


# ── measuring one service on one runner ──────────────────────────────────────────────────────


def log_events(path: Path) -> dict[str, int]:
    """How often each event (warnings and errors: the workers log at WARNING) was logged."""
    seen: Counter[str] = Counter()
    for line in path.read_bytes().splitlines() if path.exists() else ():
        try:
            seen[str(orjson.loads(line).get("event"))] += 1
        except (orjson.JSONDecodeError, AttributeError):
            seen["(not JSON)"] += 1
    return dict(seen.most_common(8))


def log_tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return " ⏎ ".join(text[-lines:])[-800:]


class Watch:
    """The service's ledger (claims + dead letters of its consumers), and its worker's health."""

    def __init__(
        self, conn: Any, consumers: Sequence[str], proc: subprocess.Popen[bytes], log: Path
    ) -> None:
        self.conn, self.consumers, self.proc, self.log = conn, list(consumers), proc, log
        self.rss: list[float] = []

    async def done(self) -> int:
        count: int = await self.conn.fetchval(
            """SELECT (SELECT count(*) FROM processed_events WHERE consumer = ANY($1::text[]))
                    + (SELECT count(*) FROM outbox
                       WHERE producer = ANY($1::text[]) AND topic = $2)""",
            self.consumers,
            DEADLETTER.name,
        )
        return count

    async def until(self, target: int, *, stall: float, within: float) -> float:
        """Until ``done() >= target``; when that was seen. Fails on a stall or a dead worker."""
        start = last_move = time.time()
        seen = -1
        while True:
            if self.proc.poll() is not None:
                raise WorkerExitedError(
                    f"worker exited {self.proc.returncode}: {log_tail(self.log)}"
                )
            n = await self.done()
            now = time.time()
            self.rss.append(harness.rss_mb(self.proc.pid))
            if n >= target:
                return now
            if n != seen:
                seen, last_move = n, now
            if now - last_move > stall or now - start > within:
                raise TimeoutError(f"ledger at {n} of {target} after {now - start:.0f}s")
            await asyncio.sleep(0.05)

    async def latencies(self, items: Sequence[Item], sent: Sequence[float]) -> list[float]:
        rows = await self.conn.fetch(
            "SELECT event_id, processed_at FROM processed_events "
            "WHERE consumer = ANY($1::text[]) AND event_id = ANY($2::uuid[])",
            self.consumers,
            [i.ledger_id for i in items],
        )
        at = {r["event_id"]: r["processed_at"].timestamp() for r in rows}
        return [at[i.ledger_id] - t for i, t in zip(items, sent, strict=True) if i.ledger_id in at]


async def measure(
    service: str, runner: str, wants: Declared, load: Load, stack: tuple[Any, Path], args: Any
) -> dict[str, Any]:
    infra, tmp = stack
    bootstrap, dsn = infra.endpoints.bootstrap_servers, infra.endpoints.database_url
    before = harness.machine()
    proc = harness.start_worker(
        service, bootstrap, dsn, tmp, {**WORKER_ENV, "FRONTDOOR_RUNTIME": runner}
    )
    conn = await asyncpg.connect(dsn)
    watch = Watch(conn, wants.consumers, proc, tmp / f"{service}.log")
    try:
        started = time.time()
        await harness.produce(bootstrap, [load.warm.record])
        await watch.until(1, stall=180, within=180)
        warm_s = time.time() - started
        base = await watch.done()
        note(f"warm after {warm_s:.1f} s")

        postgres = harness.postgres_pids(infra.postgres.pgdata) if infra.postgres else set()
        cpu0 = (harness.cpu_seconds({proc.pid}), harness.cpu_seconds(postgres))
        t0 = time.time()
        await harness.produce(bootstrap, [i.record for i in load.burst])
        end = await watch.until(base + load.wanted, stall=30, within=600)
        cpu = harness.cpu_seconds({proc.pid}) - cpu0[0]
        postgres_cpu = harness.cpu_seconds(postgres) - cpu0[1]
        elapsed = end - t0
        note(f"burst {elapsed:.1f} s")
        dead = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE producer = ANY($1::text[]) AND topic = $2",
            wants.consumers,
            DEADLETTER.name,
        )

        await asyncio.sleep(1.0)  # idle between the phases
        sent = await harness.produce(bootstrap, [i.record for i in load.paced], rate=args.rate)
        await watch.until(base + load.wanted + len(load.paced), stall=30, within=60)
        hops = await watch.latencies(load.paced, sent)
        note(f"paced done, {len(hops)} samples")
        if proc.poll() is not None:
            raise WorkerExitedError(f"worker exited {proc.returncode}: {log_tail(watch.log)}")
        extra: dict[str, Any] = {}
        if service == "deadletter":
            extra["deadletters_rows"] = await conn.fetchval("SELECT count(*) FROM deadletters")
    finally:
        await conn.close()
        stop_process(proc)
    return {
        "runner": runner,
        "warm_up_s": round(warm_s, 2),
        "burst": {
            "records": len(load.burst),
            "handled": load.wanted,
            "dead_lettered": dead,
            "elapsed_s": round(elapsed, 3),
            "events_per_s": round(len(load.burst) / elapsed, 1),
            "handled_per_s": round(load.wanted / elapsed, 1),
            "worker_cpu_s": round(cpu, 2),
            "worker_cpu_us_per_event": round(cpu / len(load.burst) * 1e6),
            "postgres_cpu_s": round(postgres_cpu, 2),
        },
        "paced": {
            "records_per_s": args.rate,
            "records": len(load.paced),
            "samples": len(hops),
            **harness.percentiles(hops),
        },
        "worker_rss_mb_max": round(max(watch.rss), 1) if watch.rss else None,
        "worker_log": log_events(watch.log),
        **extra,
        "machine_before": before,
        "machine_after": harness.machine(),
    }


async def yardstick(
    bootstrap: str, name: str, load: Load, args: Any, burst: bool
) -> dict[str, Any]:
    """The raw pass-through over the same burst (unless measured already) and paced records."""
    relay = harness.PassThrough(
        bootstrap, f"bench.{name}.in", f"bench.{name}.out",
        partitions=INPUT[name].partitions if name in INPUT else 8, group=f"bench-{name}",
        fetch_max_wait_ms=int(os.environ.get("FRONTDOOR_FETCH_MAX_WAIT_MS", "50")),
    )  # fmt: skip
    await relay.start()
    result: dict[str, Any] = {}
    try:
        await harness.produce(bootstrap, [load.warm.record], topic=relay.source)
        await relay.wait_for([load.warm.record.value or b""], within=120)
        if burst:
            t0 = time.time()
            await harness.produce(bootstrap, [i.record for i in load.burst], topic=relay.source)
            last = await relay.wait_for([i.record.value or b"" for i in load.burst], within=300)
            note(f"yardstick burst {last - t0:.1f} s")
            result["burst"] = {
                "records": len(load.burst),
                "elapsed_s": round(last - t0, 3),
                "events_per_s": round(len(load.burst) / (last - t0), 1),
            }
        await asyncio.sleep(1.0)
        records = [i.record for i in load.paced]
        sent = await harness.produce(bootstrap, records, rate=args.rate, topic=relay.source)
        await relay.wait_for([r.value or b"" for r in records], within=60)
        hops = [relay.received[r.value or b""] - t for r, t in zip(records, sent, strict=True)]
        result["paced"] = {
            "records_per_s": args.rate,
            "samples": len(hops),
            **harness.percentiles(hops),
        }
    finally:
        await relay.stop()
    return result


# ── the run ──────────────────────────────────────────────────────────────────────────────────


def loads_for(
    services: Sequence[str], args: Any
) -> tuple[dict[str, tuple[Declared, Load] | str], dict[str, Any]]:
    """Each service's declaration and records (or why there are none), from one feed long
    enough for all of them."""
    n_paced = int(args.rate * args.seconds)
    days = 30
    while True:
        lines, days = harness.generate_feed(0, args.seed, days=days)
        feed = Feed(lines)
        loads: dict[str, tuple[Declared, Load] | str] = {}
        for name in services:
            try:
                wants = declared(name, INPUT[name])
                if name == "deadletter":
                    items = garbage_letters(args.seed)
                else:
                    items = feed.items(INPUT[name], wants)
                loads[name] = (wants, load_of(items, args.events, n_paced))
            except Exception as exc:
                loads[name] = f"{type(exc).__name__}: {exc}"
        short = any(isinstance(v, str) and v.startswith("NotEnough") for v in loads.values())
        if not short or days >= 240:
            break
        days *= 2
    about = {"feed": f"services.simulate scale=10.0 seed={args.seed}", "feed_days": days,
             "feed_events": len(lines)}  # fmt: skip
    return loads, about


async def run(args: Any) -> dict[str, Any]:
    started = time.time()
    loads, feed = loads_for(args.services, args)
    note(f"feed of {feed['feed_events']} events ready after {time.time() - started:.1f} s")
    results: dict[str, Any] = {}
    yardsticks: dict[str, dict[str, Any]] = {}
    for name in args.services:
        entry: dict[str, Any] = {"input_topic": INPUT[name].name}
        results[name] = entry
        found = loads[name]
        if isinstance(found, str):
            entry["error"] = found
            print(f"{name}: {found}", file=sys.stderr)
            continue
        wants, load = found
        entry["consumers"] = list(wants.consumers)
        entry["handled_of_burst"] = load.wanted
        for runner in args.runners:
            note(f"{name} on {runner}")
            try:
                keep = Path(args.workdir) / f"{name}-{runner}" if args.workdir else None
                async with harness.fresh_stack(keep) as stack:
                    if "yardstick" not in entry:  # same broker, before the first worker
                        bootstrap = stack[0].endpoints.bootstrap_servers
                        share = INPUT[name].name
                        raw = await yardstick(bootstrap, name, load, args, share not in yardsticks)
                        raw.setdefault("burst", yardsticks.get(share, {}).get("burst"))
                        yardsticks.setdefault(share, raw)
                        entry["yardstick"] = raw
                    entry[runner] = await measure(name, runner, wants, load, stack, args)
            except Exception as exc:
                entry[runner] = {"runner": runner, "error": f"{type(exc).__name__}: {exc}"}
                traceback.print_exc()
    return {
        **feed,
        "events_per_burst": args.events,
        "paced": {"records_per_s": args.rate, "seconds": args.seconds},
        "fetch_max_wait_ms": int(os.environ.get("FRONTDOOR_FETCH_MAX_WAIT_MS", "50")),
        "services": results,
        "total_s": round(time.time() - started, 1),
        "machine": harness.machine(),
    }


# ── the table ────────────────────────────────────────────────────────────────────────────────


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")[:160]


def _n(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def verdict(a: dict[str, Any], f: dict[str, Any]) -> str:
    """Which runner wins on each measure (aiokafka vs faust)."""

    def better(high: bool, x: float, y: float, unit: str) -> str:
        winner = "aiokafka" if (x > y) == high else "faust"
        return f"**{winner}** ({x:,.0f} vs {y:,.0f}{unit})"

    burst, paced = (a["burst"], f["burst"]), (a["paced"], f["paced"])
    rate = better(True, burst[0]["events_per_s"], burst[1]["events_per_s"], "/s")
    p99 = better(False, paced[0]["p99_ms"], paced[1]["p99_ms"], " ms")
    cpu = better(
        False,
        burst[0]["worker_cpu_us_per_event"],
        burst[1]["worker_cpu_us_per_event"],
        " µs/event",
    )
    return f"throughput {rate}; p99 {p99}; CPU {cpu}"


def table(result: dict[str, Any]) -> str:
    head = (
        "| service | runner | burst events/s | × raw | worker CPU µs/event "
        "| paced p50 ms | p99 ms | p99 × raw |\n|---|---|---:|---:|---:|---:|---:|---:|"
    )
    rows, verdicts = [head], []
    for name, entry in result["services"].items():
        raw = entry.get("yardstick") or {}
        raw_rate = (raw.get("burst") or {}).get("events_per_s")
        raw_p99 = (raw.get("paced") or {}).get("p99_ms")
        if "error" in entry:
            rows.append(f"| {name} | – | error: {_cell(entry['error'])} | | | | | |")
            continue
        if raw:
            rows.append(
                f"| {name} | raw aiokafka | {_n(raw_rate)} | 1.00 | – "
                f"| {_n(raw['paced']['p50_ms'], 1)} | {_n(raw_p99, 1)} | 1.0 |"
            )
        measured = {}
        for runner in RUNNERS:
            r = entry.get(runner)
            if r is None:
                continue
            if "error" in r:
                rows.append(f"| {name} | {runner} | error: {_cell(r['error'])} | | | | | |")
                continue
            measured[runner] = r
            rate, p99 = r["burst"]["events_per_s"], r["paced"]["p99_ms"]
            rows.append(
                f"| {name} | {runner} | {_n(rate)} | {_n(rate / raw_rate if raw_rate else None, 2)} "
                f"| {_n(r['burst']['worker_cpu_us_per_event'])} | {_n(r['paced']['p50_ms'], 1)} "
                f"| {_n(p99, 1)} | {_n(p99 / raw_p99 if raw_p99 else None, 1)} |"
            )
        if len(measured) == len(RUNNERS):
            verdicts.append(f"- {name}: {verdict(measured['aiokafka'], measured['faust'])}")
    return "\n".join([*rows, "", *verdicts])


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", default=",".join(SERVICES), help="comma-separated")
    parser.add_argument("--runners", default=",".join(RUNNERS), help="comma-separated")
    parser.add_argument("--events", type=int, default=5000, help="records in each burst")
    parser.add_argument("--rate", type=float, default=50.0, help="paced records/s")
    parser.add_argument("--seconds", type=float, default=15.0, help="paced phase length")
    parser.add_argument("--seed", type=int, default=None, help="feed seed (default: a fresh one)")
    parser.add_argument("--workdir", help="keep each stack's data and worker log under here")
    args = parser.parse_args()
    args.services = [s for s in args.services.split(",") if s]
    args.runners = [r for r in args.runners.split(",") if r]
    for name in args.services:
        if name not in SERVICES:
            parser.error(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
    for name in args.runners:
        if name not in RUNNERS:
            parser.error(f"unknown runner {name!r}; known: {', '.join(RUNNERS)}")
    configure_logging(level="WARNING", json=False)  # stdout is the table's
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1_000_000)
    # the runner under test is FRONTDOOR_RUNTIME alone: no per-service override may leak in
    for key in [k for k in os.environ if k.startswith("FRONTDOOR_") and k.endswith("_RUNTIME")]:
        del os.environ[key]
    before = uptime()
    result = asyncio.run(run(args))
    result["uptime"] = {"before": before, "after": uptime()}
    path = harness.save_result("runners", result, echo=False)
    print(table(result))
    print(f"\nuptime before: {before}\nuptime after:  {result['uptime']['after']}")
    print(f"{result['total_s']} s; seed {args.seed}; written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
