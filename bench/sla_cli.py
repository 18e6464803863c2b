"""`frontdoor sla` draw time on a database with ≥100,000 timers (issue 14: it took 8 s).

Starts its own embedded PostgreSQL (the code `frontdoor dev` runs; no broker: the SLA board needs
none) unless ``--database`` names one, applies every service's migrations, then seeds with SQL:

- ``--timers`` rows in ``sla_timers`` (default 150,000) over ``--children`` children: 55 % met,
  5 % cancelled, 25 % open and due over the next 60 days, 15 % breached and still owed (the
  demo's stressed board), every TimerKind, started over the last two years;
- a current team in ``sla_children`` for four children in five;
- ``--workforce`` open rows in ``workforce_clocks`` (supervision, ASYE review, case oversight,
  allocation), about a third already past due.

Then times, as whole processes (start-up included), each view a user asks for:
``frontdoor sla`` (the default view), ``--kind icpc``, ``--child ID``, ``--status breached``,
``--period FROM..TO``, ``--all --json > /dev/null`` (every clock, streamed). With ``farm-bench``
on the PATH each is run by it (median of ``--runs``); otherwise by subprocess here (median of
``--runs``). As a yardstick, ``python -c "import services.cli.main"`` (the CLI's start-up alone).
Prints a JSON summary and writes it to bench/results/sla_cli.json (``--out``).

Usage: python bench/sla_cli.py [--timers N] [--workforce W] [--runs R] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg

from schemas.events.sla import TimerKind
from services.cli.registry import migration_dirs
from services.cli.stack import ensure_database
from services.common.db import migrate
from services.common.embedded import EmbeddedPostgres

PREFIX = "BENCHSLA"

SEED_TIMERS = """
INSERT INTO sla_timers (timer_id, child_id, kind, policy, subject_ref, started_at, due_at,
                        warn_at, status, warned_at, met_at, breached_at, cancelled_at, team)
SELECT md5($1 || i)::uuid, child, kinds[1 + i % array_length(kinds, 1)], 'wt2023', 'ref-' || i,
       started, due, due - interval '1 day', status,
       CASE WHEN status IN ('breached', 'met') THEN due - interval '1 day' END,
       CASE WHEN status = 'met' THEN started + (due - started) / 2 END,
       CASE WHEN status = 'breached' THEN due + interval '1 hour' END,
       CASE WHEN status = 'cancelled' THEN started + interval '1 hour' END,
       'team-' || (i % 12)
FROM (
    SELECT i, $1 || (i % $3) AS child, $4::text[] AS kinds, bucket,
           CASE WHEN bucket < 55 THEN 'met' WHEN bucket < 60 THEN 'cancelled'
                WHEN bucket < 85 THEN 'open' ELSE 'breached' END AS status,
           CASE WHEN bucket BETWEEN 60 AND 84
                THEN now() + (i % 86400) * interval '1 minute'
                ELSE now() - interval '2 days' - (i % 700) * interval '1 day' END AS due
    FROM (SELECT i, (i * 7919) % 100 AS bucket FROM generate_series(1, $2) AS i) s
) t, LATERAL (SELECT due - interval '20 days' AS started) st
"""
SEED_CHILDREN = """
INSERT INTO sla_children (child_id, team, team_as_of)
SELECT $1 || i, 'team-' || (i % 9), now() - interval '30 days'
FROM generate_series(0, $2 - 1) AS i WHERE i % 5 <> 0
ON CONFLICT (child_id) DO NOTHING
"""
SEED_WORKFORCE = """
INSERT INTO workforce_clocks (timer_id, child_id, kind, policy, subject_ref, started_at, due_at,
                              team)
SELECT md5($1 || 'wf' || i)::uuid, CASE WHEN i % 4 < 2 THEN 'directory' ELSE $1 || i END,
       (ARRAY['supervision', 'asye_review', 'case_oversight', 'allocation'])[1 + i % 4],
       'local', 'wf-' || i, now() - interval '40 days',
       now() + ((i % 90) - 30) * interval '1 day', 'team-' || (i % 12)
FROM generate_series(1, $2) AS i
"""


async def seed(dsn: str, timers: int, children: int, workforce: int) -> dict[str, int]:
    await ensure_database(dsn)
    await migrate(dsn, migration_dirs())
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM sla_timers WHERE child_id LIKE $1", PREFIX + "%")
        await conn.execute("DELETE FROM sla_children WHERE child_id LIKE $1", PREFIX + "%")
        await conn.execute("DELETE FROM workforce_clocks WHERE subject_ref LIKE 'wf-%'")
        await conn.execute(SEED_TIMERS, PREFIX, timers, children, [k.value for k in TimerKind])
        await conn.execute(SEED_CHILDREN, PREFIX, children)
        await conn.execute(SEED_WORKFORCE, PREFIX, workforce)
        await conn.execute("ANALYZE sla_timers; ANALYZE sla_children; ANALYZE workforce_clocks")
        rows = await conn.fetch("SELECT status, count(*) AS n FROM sla_timers GROUP BY 1")
        counts = {r["status"]: r["n"] for r in rows}
        counts["total"] = sum(counts.values())
        counts["workforce_clocks"] = await conn.fetchval("SELECT count(*) FROM workforce_clocks")
        return counts
    finally:
        await conn.close()


def _median_by_subprocess(argv: list[str], runs: int) -> dict[str, float]:
    subprocess.run(argv, capture_output=True, check=True)  # warm-up
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        walls.append(time.perf_counter() - started)
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls)}


def _median_by_farm_bench(argv: list[str], runs: int) -> dict[str, float] | None:
    done = subprocess.run(
        ["farm-bench", "-n", str(runs), "--timeout", "600", "--", *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    text = done.stdout + done.stderr
    found: dict[str, float] = {}
    for line in text.splitlines():  # "A wall s   <min>   <median>   <max>" (seconds)
        if match := re.match(r"\s*A (wall|cpu) s\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", line):
            what, low, median, high = match.groups()
            if what == "wall":
                found.update(median=float(median), min=float(low), max=float(high))
            else:
                found["cpu_median"] = float(median)
    if "median" in found and "exit 0" in text:
        return found
    print(text, file=sys.stderr)
    return None


def time_command(argv: list[str], runs: int) -> dict[str, Any]:
    if shutil.which("farm-bench"):
        found = _median_by_farm_bench(argv, runs)
        if found is not None:
            return {"by": "farm-bench", **found}
    return {"by": "subprocess", **_median_by_subprocess(argv, runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=150_000)
    parser.add_argument("--children", type=int, default=30_000)
    parser.add_argument("--workforce", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", help="an existing PostgreSQL URL (else an embedded one)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sla_cli.json")
    args = parser.parse_args()

    server = None
    data_dir = None
    dsn = args.database
    if dsn is None:
        data_dir = Path(tempfile.mkdtemp(prefix="frontdoor-bench-sla-"))
        server = EmbeddedPostgres.start(data_dir)
        dsn = server.dsn("frontdoor_bench")
    try:
        counts = asyncio.run(seed(dsn, args.timers, args.children, args.workforce))
        cli = [sys.executable, "-m", "services.cli.main"]
        views = {
            "sla (default view)": ["sla"],
            "sla --kind icpc": ["sla", "--kind", "icpc"],
            "sla --child ID": ["sla", "--child", f"{PREFIX}17"],
            "sla --status breached": ["sla", "--status", "breached"],
            "sla --period (last 30 days)": ["sla", "--period", _last_30_days()],
            "sla --all --json (every clock)": ["sla", "--all", "--json"],
        }
        results: dict[str, Any] = {
            "timers": counts,
            "startup only (python -c 'import services.cli.main')": time_command(
                [sys.executable, "-c", "import services.cli.main"], args.runs
            ),
        }
        for name, extra in views.items():
            results[name] = time_command([*cli, *extra, "--database", dsn], args.runs)
            print(f"{name}: {results[name]['median']:.3f} s (median)", file=sys.stderr)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
    finally:
        if server is not None:
            server.stop()
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


def _last_30_days() -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Europe/London")).date()
    return f"{today - timedelta(days=30)}..{today}"


if __name__ == "__main__":
    main()
