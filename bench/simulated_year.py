"""A simulated year on the real stack: no dead letters, every held conference has its reports,
breach rates of a stressed but working service, and a CIN census the DfE validator accepts.

Starts its own embedded broker and PostgreSQL (``bench/faults.py``'s ``Stack``), runs every stream
worker, publishes ``--days`` of ``frontdoor simulate`` (seed ``--seed``, from ``--start``), waits
until the views are quiet, then measures (issue 12 §5 and its tests):

- dead letters, by reason and consumer (the simulator injects no poison here: all must be 0);
- conferences held whose invited agencies (other than social care) have not all reported;
- per clock kind, the share of clocks due inside the window that were breached or met late
  (clocks still open when the window ends are left out: against the wall clock every one of them
  would breach, which says nothing about the simulated service);
- with ``--census``, the CIN census for the year ending 31 March inside the window, judged by the
  DfE validator (``csc-validator-be-cin`` in ``.venv-cin``): child-level errors must be 0.

``python bench/simulated_year.py --days 365`` is the year; the suite runs a short form
(``tests/e2e/test_simulated_year.py``). Results go to ``bench/results/simulated_year.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _faults() -> Any:
    spec = importlib.util.spec_from_file_location("bench_faults", ROOT / "bench" / "faults.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_faults"] = module
    spec.loader.exec_module(module)
    return module


DEAD_LETTERS_SQL = """
SELECT reason, consumer_group, exception_class, count(*) AS n FROM deadletters
GROUP BY 1, 2, 3 ORDER BY n DESC
"""

UNREPORTED_SQL = """
SELECT c.kind, count(*) AS held,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM unnest(c.invited_agencies) AS a(agency)
            WHERE a.agency <> 'social_care' AND NOT EXISTS (
                SELECT 1 FROM conference_reports r
                 WHERE r.conference_id = c.conference_id AND r.agency = a.agency))) AS missing
FROM conferences c WHERE c.status = 'held' GROUP BY c.kind ORDER BY c.kind
"""

BREACHES_SQL = """
SELECT kind, count(*) AS due,
       count(*) FILTER (WHERE status = 'breached' OR (status = 'met' AND met_at > due_at)) AS late,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM sla_timers WHERE due_at < $1 GROUP BY kind ORDER BY kind
"""


async def measure(dsn: str, window_end: datetime) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        letters = [dict(r) for r in await conn.fetch(DEAD_LETTERS_SQL)]
        conferences = {r["kind"]: dict(r) for r in await conn.fetch(UNREPORTED_SQL)}
        clocks = {}
        for r in await conn.fetch(BREACHES_SQL, window_end):
            decided = r["due"] - r["cancelled"]
            clocks[r["kind"]] = {
                "due_in_window": r["due"],
                "cancelled": r["cancelled"],
                "late": r["late"],
                "late_share": round(r["late"] / decided, 4) if decided else None,
            }
        events = await conn.fetchval("SELECT count(*) FROM events")
        return {
            "events_recorded": events,
            "dead_letters": letters,
            "dead_letter_total": sum(d["n"] for d in letters),
            "conferences_held": conferences,
            "clocks": clocks,
        }
    finally:
        await conn.close()


def census(dsn: str, year: int, out_dir: Path) -> dict[str, Any]:
    """The CIN census for the year ending 31 March ``year``, judged by the DfE validator."""
    from services.common.calendar import WorkingCalendar
    from services.returns.adapters.events import PostgresEventSource
    from services.returns.config import ReturnsSettings
    from services.returns.dfe_validator import run_dfe_validator
    from services.returns.handlers import export_cin_census

    target = out_dir / f"cin_census_{year}.xml"
    result = asyncio.run(
        export_cin_census(
            PostgresEventSource(dsn), year=year, out=target, settings=ReturnsSettings(),
            made_at=datetime.now(UTC), calendar=WorkingCalendar.england_and_wales(),
        )
    )  # fmt: skip
    report = run_dfe_validator(target)
    errors = [f for f in report.child_issues if f.type == "ERROR"]
    return {
        "year": year,
        "children": len(result.census.children),
        "left_out": len(result.census.left_out),
        "child_level_errors": len(errors),
        "error_rules": sorted({f.rule for f in errors}),
    }


async def run_stack(
    *, days: int, seed: int, start: date, timeout: float, base: Path
) -> tuple[dict[str, Any], str, Any]:
    faults = _faults()
    from services.simulate.cli import write_feed

    path = base / "feed.jsonl"
    write_feed(path, days=days, seed=seed, start=start)
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    postgres = faults.EmbeddedPostgres.start(base)
    stack = faults.Stack(base, postgres, f"year_{seed}", 1, {})
    stack.log_dir = base / "logs"
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    stack.start_broker()
    await stack.create_topics()
    await faults.ensure_database(stack.endpoints.database_url)
    await faults.initialise(stack.endpoints)
    stack.start_all()
    started = time.monotonic()
    try:
        await faults.publish_lines(stack.endpoints.bootstrap_servers, lines)
        await faults.wait_quiet(stack, quiet_for=10, timeout=timeout)
        seconds = round(time.monotonic() - started, 1)
        window_end = datetime.combine(start + timedelta(days=days), datetime.min.time(), UTC)
        facts = await measure(stack.endpoints.database_url, window_end)
        facts |= {"days": days, "seed": seed, "start": start.isoformat(),
                  "events_in_feed": len(lines), "seconds_to_quiet": seconds}  # fmt: skip
        return facts, stack.endpoints.database_url, (stack, postgres)
    except BaseException:
        _stop(stack, postgres)
        raise


def _stop(stack: Any, postgres: Any) -> None:
    stack.stop_all()
    if stack.broker is not None:
        stack.broker.stop()
    if postgres.alive():
        postgres.stop()


def run(
    *, days: int, seed: int, start: date, timeout: float, census_year: int | None
) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="frontdoor-year-"))
    try:
        facts, dsn, running = asyncio.run(
            run_stack(days=days, seed=seed, start=start, timeout=timeout, base=base)
        )
        try:
            if census_year is not None:
                try:
                    facts["census"] = census(dsn, census_year, base)
                except Exception as error:  # the measurements above still count
                    facts["census"] = {"failed": f"{type(error).__name__}: {error}"}
        finally:
            _stop(*running)
        return facts
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=12)
    # the census year 2025-26: every clock in force, Operation Encompass's statutory duty
    # included from 7 Nov 2025 (DOMAIN.md §2), so its clocks are measured too
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 4, 1))
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--census", type=int, default=None, help="census year (ends 31 March)")
    args = parser.parse_args()
    result = run(days=args.days, seed=args.seed, start=args.start, timeout=args.timeout,
                 census_year=args.census)  # fmt: skip
    out = ROOT / "bench" / "results" / "simulated_year.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))
    sys.exit(0 if result["dead_letter_total"] == 0 else 1)


if __name__ == "__main__":
    main()
