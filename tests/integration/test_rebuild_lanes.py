"""The rebuild's lanes against a real PostgreSQL: what processes of their own make is what one
process makes, and a lane that fails changes nothing.

A simulated year (bench/rebuild.py's history at a small scale, COPYed into ``events``) is
rebuilt three ways: in one process, in a lane (a spawned process) per service with the SLA
service's children shared between two lanes (``frontdoor rebuild``'s default), and in two lanes
of consecutive services (``--jobs 2``). Every view must be identical row by row after each (the
processing-time columns the services declare left out), the views must not be empty, and the
three reports must count the same records fed to every subscription. A contact committed while
the lanes read the history (after its snapshot) is fed at the swap and is in the views. Then a
chain whose SLA handler cannot open in a spawned lane (it opens here) must fail the rebuild with
the lane named, leave every view as it was and drop the shadow schema.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import orjson
import pytest

from services.cli.rebuild import NAMES, chain, processing_time_columns
from services.common.pipeline import Handler
from services.common.rebuild import SHADOW, Apart, Rebuildable, Report, rebuild
from services.common.settings import Endpoints
from services.intake.domain.routing import route
from tests.factories import bench_module, put_in_history

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

EVENTS = 6000


def _fails_in_a_lane(
    factory: Callable[[Any], AbstractAsyncContextManager[Handler]],
) -> Callable[[Any], AbstractAsyncContextManager[Handler]]:
    @asynccontextmanager
    async def opened(resources: Any) -> AsyncIterator[Handler]:
        if multiprocessing.parent_process() is not None:  # a spawned lane, not the coordinator
            raise RuntimeError("the SLA handler cannot open in this lane")
        async with factory(resources) as handler:
            yield handler

    return opened


def failing_chain() -> list[Rebuildable]:
    """The chain, its SLA subscriptions' handlers failing to open in a spawned lane (module-level:
    the lane's process imports it by name)."""
    out = []
    for link in chain():
        if link.name != "sla":
            out.append(link)
            continue
        subscriptions = tuple(
            dataclasses.replace(s, handler=_fails_in_a_lane(s.handler))
            for s in link.service.subscriptions
        )
        service = dataclasses.replace(link.service, subscriptions=subscriptions)
        out.append(dataclasses.replace(link, service=service))
    return out


async def _rebuild(dsn: str, apart: Apart | None, links: list[Rebuildable]) -> Report:
    conn, reader = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        return await rebuild(
            conn, reader, links, list(NAMES), route=route, ledger_days=7, apart=apart
        )
    finally:
        await reader.close()
        await conn.close()


@pytest.fixture(scope="module")
def history(own_endpoints: Endpoints) -> str:
    """The simulated history in ``events`` of a database of the module's own."""
    bench = bench_module("rebuild")
    asyncio.run(bench._load(own_endpoints.database_url, bench._rows(EVENTS, 11)))
    return own_endpoints.database_url


async def test_lanes_in_processes_of_their_own_make_the_views_one_process_makes(
    history: str,
) -> None:
    dsn, faults = history, bench_module("faults")
    excluded = processing_time_columns()
    tables = list(excluded)

    alone = await _rebuild(dsn, None, chain())
    one = await faults.snapshot(dsn, tables, excluded)
    lanes = await _rebuild(dsn, Apart(dsn, chain), chain())
    apart = await faults.snapshot(dsn, tables, excluded)
    two = await _rebuild(dsn, Apart(dsn, chain, jobs=2), chain())
    paired = await faults.snapshot(dsn, tables, excluded)

    assert set(lanes.lanes) == {
        "screening", "conferences", "outofhours", "sla[1/2]", "sla[2/2]", "workforce",
    }  # fmt: skip
    assert set(two.lanes) == {"screening+conferences+outofhours", "sla+workforce"}
    assert alone.events == lanes.events == two.events == EVENTS
    assert alone.fed == lanes.fed == two.fed
    assert alone.derived == lanes.derived == two.derived > 0
    assert alone.dead_letters == lanes.dead_letters == two.dead_letters
    for view in ("screening_results", "sla_timers", "conferences", "ooh_crisis_items",
                 "workforce_allocations", "workforce_clocks"):  # fmt: skip
        assert sum(one[view].values()) > 0, view
    assert faults.diff(one, apart, tables) == {}
    assert faults.diff(one, paired, tables) == {}


async def test_a_contact_committed_during_the_rebuild_is_fed_at_the_swap(history: str) -> None:
    dsn = history
    conn = await asyncpg.connect(dsn)
    try:
        body = await conn.fetchval(
            "SELECT body::text FROM events WHERE event_type = 'contact.received' LIMIT 1"
        )
        late = orjson.loads(body)
        late["event_id"] = str(uuid.uuid4())
        late["subject"]["child_id"] = "S5C9999999"
        committing: list[asyncio.Task[None]] = []

        def while_reading(_total: int) -> None:  # the history's snapshot has been taken
            committing.append(asyncio.get_running_loop().create_task(put_in_history(conn, late)))

        writer, reader = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        try:
            report = await rebuild(
                writer, reader, chain(), list(NAMES), route=route, ledger_days=7,
                apart=Apart(dsn, chain), on_total=while_reading,
            )  # fmt: skip
        finally:
            await reader.close()
            await writer.close()
        await committing[0]
        assert report.delta_events == 1
        assert report.events == EVENTS  # the history's snapshot: without it
        stored = await conn.fetchval(
            "SELECT child_id FROM screening_results WHERE event_id = $1",
            uuid.UUID(late["event_id"]),
        )
        assert stored == "S5C9999999"
    finally:
        await conn.close()


async def test_a_lane_that_fails_fails_the_rebuild_and_changes_no_view(history: str) -> None:
    dsn, faults = history, bench_module("faults")
    excluded = processing_time_columns()
    tables = list(excluded)
    await _rebuild(dsn, None, chain())
    before = await faults.snapshot(dsn, tables, excluded)

    refused = r"the rebuild lane sla\[[12]/2\] failed: RuntimeError: .*cannot open"
    with pytest.raises(RuntimeError, match=refused):
        await _rebuild(dsn, Apart(dsn, failing_chain), failing_chain())

    assert faults.diff(before, await faults.snapshot(dsn, tables, excluded), tables) == {}
    conn = await asyncpg.connect(dsn)
    try:
        left = await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", SHADOW)
    finally:
        await conn.close()
    assert left == 0
