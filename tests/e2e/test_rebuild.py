"""History is the truth: two interleavings of one history and a rebuild give the same views.

The same simulated history is replayed on the real stack (embedded broker, PostgreSQL, a worker
process per stream service) twice, shuffled differently across children (each child's own order
kept), from empty tables each time; after the second, ``frontdoor rebuild`` (the real CLI entry
point) recomputes every view from ``events``. All three must be identical row by row, leaving out
only the processing-time columns the services declare (``services/cli/rebuild.py``). The
workforce worker runs too (the simulated council publishes its teams, workers, allocations and
supervision): its tables are compared the same way, and nothing may be left parked waiting for
the directory. The views must be non-empty, and a history with one more contact must compare
different — so the comparison can fail. The view comparison is bench/faults.py's, as in tests/faults.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from services.cli.rebuild import chain, processing_time_columns
from services.cli.replay import publish_lines
from services.common.settings import Endpoints
from services.ops.adapters.kafka_lag import KafkaLagSource
from services.simulate.cli import write_feed
from tests.conftest import ROOT, Workers
from tests.factories import bench_module, put_in_history

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]

STREAM = ("intake", "screening", "sla", "outofhours", "conferences", "workforce")


def _faults() -> Any:
    return bench_module("faults")


def interleave(lines: list[bytes], seed: int) -> list[bytes]:
    """A random merge of the children's sequences: across children shuffled, per child kept."""
    per_child: dict[str, list[bytes]] = defaultdict(list)
    for line in lines:
        per_child[orjson.loads(line)["subject"]["child_id"]].append(line)
    queues = [list(reversed(q)) for _, q in sorted(per_child.items())]
    rng = random.Random(seed)
    out: list[bytes] = []
    while queues:
        i = rng.randrange(len(queues))
        out.append(queues[i].pop())
        if not queues[i]:
            queues.pop(i)
    return out


async def _reset(dsn: str, tables: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"TRUNCATE {', '.join(tables)}, events, processed_events, outbox, sla_outbox, "
            "intake_watermarks, deadletters, ooh_handovers, ooh_handover_acks"
        )
    finally:
        await conn.close()


def _subscriptions() -> list[tuple[str, str]]:
    """(group, topic) of every subscription the stream services declare."""
    from services.intake import bootstrap as intake

    services = [intake.service(), *(r.service for r in chain())]
    return [(sub.group, sub.topic) for svc in services for sub in svc.subscriptions]


async def _behind(bootstrap: str) -> list[str]:
    """The subscriptions whose group has not committed every record of its topic: a quiet
    database alone cannot tell a finished worker from one still starting or catching up."""
    wanted = _subscriptions()
    source = KafkaLagSource(bootstrap, clock=lambda: datetime.now(UTC))
    await source.start()
    try:
        seen = await source.observe()
    finally:
        await source.stop()
    committed = {g.group: g.committed for g in seen.groups}
    behind = []
    for group, topic in wanted:
        for (t, p), end in seen.log_ends.items():
            started = end > seen.log_starts.get((t, p), 0)
            if t == topic and started and committed.get(group, {}).get((t, p), -1) < end:
                behind.append(f"{group} {t}[{p}]")
    return behind


async def _quiet(
    faults: Any, endpoints: Endpoints, *, expected_events: int, timeout: float = 150
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    behind: list[str] = []
    since = loop.time()
    while loop.time() < deadline:
        # with the workforce's own progress: the facts it holds and what it has parked (an
        # allocation read before its worker.joined, fed again by the worker's refeed task)
        now = (await faults.fingerprint(endpoints.database_url), await _workforce(endpoints))
        if now != last:
            last, since = now, loop.time()
        # quiet: nothing changed for 2 s, no outbox row waits, and no clock is open past its
        # deadline (the scanner breaches a clock recorded late only after its grace; the CI run
        # compared one replay snapshotted before that round with one snapshotted after it)
        elif (
            now[0][0] >= expected_events
            and now[0][-3] == 0
            and now[0][-1] == 0
            and now[1][-1] == 0
            and loop.time() - since >= 2
        ):
            behind = await _behind(endpoints.bootstrap_servers)
            if not behind:
                return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the stack never went quiet: {last}, behind: {behind[:5]}")


async def _workforce(endpoints: Endpoints) -> tuple[int, ...]:
    """Rows of the workforce's facts and clocks, and (last) of its parked events."""
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        return tuple(
            [
                await conn.fetchval(f"SELECT count(*) FROM {table}")
                for table in ("workforce_allocations", "workforce_clocks", "workforce_parked")
            ]
        )
    finally:
        await conn.close()


async def _drain(endpoints: Endpoints, workers: Workers, *, timeout: float = 240) -> None:
    """Let the workers consume what earlier tests left on the session's broker (hostile corpora,
    other feeds), so none of it lands after the reset and counts in one run but not the other:
    the CI run compared a first replay that had also processed another test's records."""
    for name in STREAM:
        workers.start(name, FRONTDOOR_OOH_AUTO_HANDOVER="false")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    behind = await _behind(endpoints.bootstrap_servers)
    while behind and loop.time() < deadline:
        await asyncio.sleep(1)
        behind = await _behind(endpoints.bootstrap_servers)
    assert not behind, f"the workers never caught up with the broker: {behind[:5]}"
    workers.stop_all()
    workers.procs.clear()


async def _replay(
    faults: Any, endpoints: Endpoints, workers: Workers, lines: list[bytes], tables: list[str]
) -> None:
    workers.stop_all()
    workers.procs.clear()
    await _drain(endpoints, workers)
    await _reset(endpoints.database_url, tables)
    for name in STREAM:
        workers.start(name, FRONTDOOR_OOH_AUTO_HANDOVER="false")
    await publish_lines(endpoints.bootstrap_servers, lines)
    accepted = len({orjson.loads(line)["event_id"] for line in lines})
    await _quiet(faults, endpoints, expected_events=accepted * 9 // 10)


def _rebuild(endpoints: Endpoints, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli.main",
            "rebuild",
            *args,
            "--bootstrap",
            endpoints.bootstrap_servers,
            "--database",
            endpoints.database_url,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


async def test_two_interleavings_and_a_rebuild_give_identical_views(
    endpoints: Endpoints, workers: Workers, tmp_path: Path
) -> None:
    faults = _faults()
    excluded = processing_time_columns()
    tables = list(excluded)
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, days=30, seed=41, start=date(2025, 2, 3), scale=0.3)
    lines = [line for line in feed.read_bytes().splitlines() if line.strip()]

    await _replay(faults, endpoints, workers, interleave(lines, 1), tables)
    first = await faults.snapshot(endpoints.database_url, tables, excluded)
    await _replay(faults, endpoints, workers, interleave(lines, 2), tables)
    second = await faults.snapshot(endpoints.database_url, tables, excluded)

    done = _rebuild(endpoints)
    assert done.returncode == 0, done.stderr
    rebuilt = await faults.snapshot(endpoints.database_url, tables, excluded)

    for view in (
        "screening_results",
        "sla_timers",
        "conferences",
        "ooh_crisis_items",
        "workforce_allocations",
        "workforce_sessions",
        "workforce_clocks",
        "workforce_referrals",
    ):
        assert sum(first[view].values()) > 0, view
    # settled, nothing waits for the directory, in either replay or after the rebuild
    for views in (first, second, rebuilt):
        assert sum(views["workforce_parked"].values()) == 0
    replays = faults.diff(first, second, tables)
    assert replays == {}, replays
    rebuilt_diff = faults.diff(second, rebuilt, tables)
    assert rebuilt_diff == {}, rebuilt_diff

    # a different history (one more contact, not through Kafka) must compare different
    contact = orjson.loads(next(line for line in lines if b'"contact.received"' in line))
    contact["event_id"] = str(uuid.uuid4())
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        await put_in_history(conn, contact)
    finally:
        await conn.close()
    done = _rebuild(endpoints, "--view", "screening")
    assert done.returncode == 0, done.stderr
    different = await faults.snapshot(endpoints.database_url, tables, excluded)
    assert set(faults.diff(rebuilt, different, tables)) == {"screening_results"}


def test_an_unknown_view_is_refused_with_the_known_names(endpoints: Endpoints) -> None:
    done = _rebuild(endpoints, "--view", "nonsense")
    assert done.returncode == 2
    assert "screening, conferences, outofhours, sla, workforce" in done.stderr
    assert "Traceback" not in done.stderr
