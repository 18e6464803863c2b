"""Running a stream service: one declaration, two thin runners.

A service's ``bootstrap.py`` describes itself as a ``Service``: its name, the subscriptions it
declares (each handler is opened with the process's ``Resources``: the PostgreSQL pool and
ledger, the outbox relay) and any background tasks (the SLA scanner, the out-of-hours
handover). ``run`` opens the resources once per process and hands every subscription to the
chosen runner — the plain aiokafka batch loop (``runners.py``, the default for every service: see
the README's runner table) or faust agents (``faust_runner.py``). Both feed the same
``Pipeline``; neither holds any business logic.

The worker exits with status 75 (EX_TEMPFAIL) when the infrastructure stayed away longer than the
pipeline waits, so that its supervisor restarts it with nothing committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common import retention
from services.common.catchup import CatchUp
from services.common.db import create_pool
from services.common.kafka import new_producer, security_kwargs
from services.common.ledger import PostgresLedger
from services.common.outbox import KafkaSender, Relay
from services.common.pipeline import Pipeline, Subscription, WorkerGivesUpError
from services.common.settings import Endpoints

log = structlog.get_logger(__name__)

Runtime = Literal["aiokafka", "faust"]
EX_TEMPFAIL = 75


@dataclass
class Resources:
    """What one worker process shares between its subscriptions and tasks."""

    endpoints: Endpoints
    pool: Any
    ledger: PostgresLedger
    relay: Relay
    producer: Any


@dataclass(frozen=True)
class Service:
    name: str
    subscriptions: Sequence[Subscription]
    tasks: Callable[[Resources, asyncio.Event], Sequence[Awaitable[None]]] = field(
        default=lambda _r, _s: ()
    )
    pool_size: int = 4


@asynccontextmanager
async def open_resources(
    endpoints: Endpoints, *, pool_size: int, patience: float = 120.0
) -> AsyncIterator[Resources]:
    """Pool, producer, ledger and relay; waits up to ``patience`` s for a restarting database
    (a worker's supervisor brings it back; a CLI command passes a short patience)."""
    pool = await _connect_with_patience(endpoints.database_url, pool_size, patience=patience)
    producer = new_producer(endpoints.bootstrap_servers)
    await producer.start()
    ledger = PostgresLedger(pool)
    try:
        yield Resources(endpoints, pool, ledger, Relay(ledger, KafkaSender(producer)), producer)
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
        await pool.close()


async def _connect_with_patience(dsn: str, size: int, *, patience: float = 120.0) -> Any:
    """A pool, waiting out a database that is restarting (the supervisor brings it back)."""
    from services.common.failures import is_infrastructure

    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    delay = 0.2
    while True:
        try:
            return await create_pool(dsn, max_size=size)
        except Exception as exc:
            if not is_infrastructure(exc) or loop.time() > deadline:
                raise
            log.warning("database_unreachable_waiting", error_class=type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def default_runtime() -> Runtime:
    chosen = os.environ.get("FRONTDOOR_RUNTIME", "aiokafka")
    if chosen not in ("aiokafka", "faust"):
        raise SystemExit(f"FRONTDOOR_RUNTIME must be aiokafka or faust, not {chosen!r}")
    return chosen  # type: ignore[return-value]


def make_catchup(sub: Subscription, pipeline: Pipeline, resources: Resources) -> CatchUp:
    bootstrap = resources.endpoints.bootstrap_servers

    async def oldest(topic: str, partitions: Sequence[int]) -> dict[int, Any]:
        return await oldest_timestamps(bootstrap, topic, partitions)

    return CatchUp(
        consumer=sub.consumer,
        topic=sub.topic,
        event_types=sub.event_types,
        ledger=resources.ledger,
        oldest=oldest,
        process=pipeline.process,
        batch=sub.max_batch,
    )


async def oldest_timestamps(
    bootstrap: str, topic: str, partitions: Sequence[int], *, wait: float = 5.0
) -> dict[int, Any]:
    """Each partition's oldest record's timestamp, ``None`` when it is empty.

    Read from the first record itself (seek to the beginning, fetch): the embedded broker answers
    ``offsets_for_times`` with the time of the request, not the record's. A partition that does
    not answer within ``wait`` seconds is left out (the caller skips it this round).
    """
    from datetime import UTC, datetime

    probe = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=64 * 1024,
        **security_kwargs(),
    )
    await probe.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        probe.assign(tps)
        begins = await probe.beginning_offsets(tps)
        for tp in tps:
            probe.seek(tp, begins[tp])
        found: dict[int, Any] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while len(found) < len(tps) and loop.time() < deadline:
            batch = await probe.getmany(timeout_ms=100)
            for tp, records in batch.items():
                if records and tp.partition not in found:
                    found[tp.partition] = datetime.fromtimestamp(records[0].timestamp / 1000, UTC)
                    probe.pause(tp)
            for tp in tps:
                if tp.partition in found:
                    continue
                high = probe.highwater(tp)
                if high is not None and high <= begins[tp]:
                    found[tp.partition] = None  # answered, and empty
        return found
    finally:
        await probe.stop()


def run(service: Service, endpoints: Endpoints, runtime: Runtime | None = None) -> None:
    """Run ``service`` in this process until SIGTERM/SIGINT."""
    runtime = runtime or default_runtime()
    if runtime == "faust":
        from services.common.faust_runner import run_faust

        run_faust(service, endpoints)
        return
    try:
        asyncio.run(run_aiokafka(service, endpoints))
    except WorkerGivesUpError as exc:
        log.error("worker_giving_up", service=service.name, error=str(exc))  # noqa: TRY400
        sys.exit(EX_TEMPFAIL)


async def run_aiokafka(
    service: Service, endpoints: Endpoints, stop: asyncio.Event | None = None
) -> None:
    from services.common.runners import by_group, consume

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with open_resources(endpoints, pool_size=service.pool_size) as resources:
        jobs: list[Awaitable[None]] = [
            consume(subs, resources, stop) for subs in by_group(service.subscriptions)
        ]
        jobs.append(resources.relay.sweep_forever(stop))
        jobs.append(retention.sweep_forever(resources.pool, stop))
        jobs.extend(service.tasks(resources, stop))
        tasks = [asyncio.ensure_future(j) for j in jobs]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            stop.set()
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
