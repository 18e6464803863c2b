"""Returns export time on a simulated year for a borough: Annex A and the CIN census.

Starts its own embedded PostgreSQL (the code `frontdoor dev` uses), applies the migrations,
simulates a year of partner traffic for a Rotherham-sized borough (`frontdoor simulate`, scale 1)
and bulk-loads it straight into `events` with COPY, in intake's layout (body = the validated,
upcast event). No broker is needed. Then, in one run:

1. yardstick: a raw read of every `events` body a return needs (the floor for any export);
2. `returns annex-a --as-of <day after the year>` (CSV) and `returns cin-census --year <year>`,
   each run as the command line runs it (a fresh process) and in-process through the handlers.

Prints a JSON summary and writes bench/results/returns_export.json. Target: under 10 s each.
The machine is shared, so beside wall-clock seconds each export's CPU seconds are reported (the
time it would take on an idle core), with the 1-minute load average at the end of the run.
Usage: python bench/returns_export.py [--days 365] [--seed 7] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas.registry import parse_event
from services.cli.registry import migration_dirs
from services.cli.stack import ensure_database
from services.common.calendar import WorkingCalendar
from services.common.db import migrate
from services.common.embedded import EmbeddedPostgres
from services.returns.adapters.events import (
    RETURN_EVENT_TYPES,
    STREAM_SQL,
    PostgresEventSource,
)
from services.returns.config import ReturnsSettings
from services.returns.domain.periods import census_year
from services.returns.handlers import export_annex_a, export_cin_census

COLUMNS = (
    "event_id", "event_type", "schema_version", "occurred_at", "child_id", "family_id",
    "source_agency", "content_hash", "source_topic", "source_partition", "source_offset", "body",
)  # fmt: skip


def simulated_rows(days: int, seed: int, start: date, scale: float) -> list[tuple[object, ...]]:
    """The feed as `events` rows, each body the canonical JSON of its validated, upcast model."""
    from services.simulate.cli import write_feed

    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        path = Path(f.name)
    write_feed(path, days=days, seed=seed, start=start, scale=scale)
    rows: list[tuple[object, ...]] = []
    offsets: dict[int, int] = {}
    for line in path.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        canonical = event.model_dump_json()
        partition = zlib.crc32(event.subject.child_id.encode()) % 8
        offsets[partition] = offsets.get(partition, -1) + 1
        rows.append(
            (
                event.event_id, event.event_type, event.schema_version, event.occurred_at,
                event.subject.child_id, event.subject.family_id, event.source.agency.value,
                hashlib.sha256(canonical.encode()).digest(), "partner.events", partition,
                offsets[partition], canonical,
            )
        )  # fmt: skip
    path.unlink()
    return rows


async def load(dsn: str, rows: list[tuple[object, ...]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("events", records=rows, columns=COLUMNS)
        await conn.execute("VACUUM ANALYZE events")
    finally:
        await conn.close()


async def raw_read(dsn: str, until: datetime) -> tuple[float, int]:
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    count = 0
    try:
        async with conn.transaction(readonly=True):
            async for _ in conn.cursor(STREAM_SQL, until, list(RETURN_EVENT_TYPES), prefetch=5000):
                count += 1
    finally:
        await conn.close()
    return time.perf_counter() - started, count


def run_cli(args: list[str], dsn: str, out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command's process) for one command-line run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable, "-c",
            "from services.cli.returns import returns_app; returns_app(prog_name='frontdoor returns')",
            *args, "--database", dsn,
        ],
        check=True, cwd=out, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


async def in_process(dsn: str, as_of: date, year: int, out: Path) -> dict[str, object]:
    source = PostgresEventSource(dsn)
    started, cpu = time.perf_counter(), time.process_time()
    annex = await export_annex_a(source, as_of=as_of, out_dir=out / "annex")
    annex_s, annex_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    census = await export_cin_census(
        source,
        year=year,
        out=out / "census.xml",
        settings=ReturnsSettings(),
        made_at=datetime.now(UTC),
        calendar=WorkingCalendar.england_and_wales(),
    )
    census_s, census_cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "annex_a_seconds": round(annex_s, 2),
        "annex_a_cpu_seconds": round(annex_cpu, 2),
        "annex_a_rows": {f"list_{x.number}": len(x.rows) for x in annex.annex.lists},
        "annex_a_gaps": len(annex.annex.issues),
        "cin_census_seconds": round(census_s, 2),
        "cin_census_cpu_seconds": round(census_cpu, 2),
        "cin_census_children": len(census.census.children),
        "cin_census_left_out": len(census.census.left_out),
        "cin_census_queries": len(census.census.queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--start", default="2024-04-01")
    args = parser.parse_args()
    start = date.fromisoformat(args.start)
    as_of = start + timedelta(days=args.days)
    last = as_of - timedelta(days=1)
    year = last.year + 1 if last.month > 3 else last.year  # the census year holding the last day

    data_dir = Path(tempfile.mkdtemp(prefix="frontdoor-bench-returns-"))
    postgres = EmbeddedPostgres.start(data_dir)
    try:
        dsn = postgres.dsn("frontdoor_bench_returns")
        asyncio.run(ensure_database(dsn))
        asyncio.run(migrate(dsn, migration_dirs()))
        t = time.perf_counter()
        rows = simulated_rows(args.days, args.seed, start, args.scale)
        simulate_s = time.perf_counter() - t
        t = time.perf_counter()
        asyncio.run(load(dsn, rows))
        load_s = time.perf_counter() - t
        raw_s, raw_n = asyncio.run(raw_read(dsn, census_year(year).ends_at))
        out = data_dir / "out"
        (out / "cli").mkdir(parents=True)
        cli_annex, cli_annex_cpu = run_cli(
            ["annex-a", "--as-of", as_of.isoformat()], dsn, out / "cli"
        )
        cli_census, cli_census_cpu = run_cli(["cin-census", "--year", str(year)], dsn, out / "cli")
        inproc = asyncio.run(in_process(dsn, as_of, year, out))
    finally:
        postgres.stop()
    result = {
        "benchmark": "returns_export",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "feed": {"days": args.days, "seed": args.seed, "scale": args.scale, "start": args.start},
        "events_loaded": len(rows),
        "events_read_by_a_return": raw_n,
        "simulate_and_canonicalise_seconds": round(simulate_s, 1),
        "copy_load_seconds": round(load_s, 1),
        "yardstick_raw_read_seconds": round(raw_s, 2),
        "cli_annex_a_seconds": round(cli_annex, 2),
        "cli_annex_a_cpu_seconds": round(cli_annex_cpu, 2),
        "cli_cin_census_seconds": round(cli_census, 2),
        "cli_cin_census_cpu_seconds": round(cli_census_cpu, 2),
        **inproc,
        "annex_a_vs_raw_read": round(float(inproc["annex_a_seconds"]) / raw_s, 1),  # type: ignore[arg-type]
        "cin_census_vs_raw_read": round(float(inproc["cin_census_seconds"]) / raw_s, 1),  # type: ignore[arg-type]
        "as_of": as_of.isoformat(),
        "census_year": year,
        "target_seconds": 10,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "returns_export.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
