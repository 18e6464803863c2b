"""faust, configured the way that works on both Apache Kafka and the embedded broker.

``make_app`` applies the settings measured in REFERENCE.md (at-least-once, earliest reset, short
rebalance and commit intervals, in-memory tables, no leader topic, no web server unless asked)
and keeps every topic's bytes raw: decoding belongs to our pydantic contract, not to faust.
``batch_agent`` registers an agent that hands batches of records to one handler; acks (and so
offset commits) happen only after the handler returned. A handler failure is retried with
backoff; if it keeps failing the worker crashes rather than silently stopping, so a supervisor
restarts it and the uncommitted records are delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import faust
import structlog

from services.common.deadletter import Origin
from services.common.embedded import project_data_dir
from services.common.health import beat
from services.common.kafka import security_kwargs

log = structlog.get_logger(__name__)

BatchHandler = Callable[[Sequence[Origin]], Awaitable[object]]
HandlerFactory = Callable[[], AbstractAsyncContextManager[BatchHandler]]


def make_app(
    service: str, *, bootstrap: str, web_port: int | None = None, app_id: str | None = None
) -> faust.App:
    rebalance = float(os.environ.get("FRONTDOOR_REBALANCE_TIMEOUT", "3"))
    datadir = Path(
        os.environ.get("FRONTDOOR_FAUST_DATADIR") or project_data_dir() / "faust" / service
    )
    datadir.mkdir(parents=True, exist_ok=True)
    security = security_kwargs()
    credentials = None
    if "sasl_mechanism" in security:
        credentials = faust.SASLCredentials(
            username=security["sasl_plain_username"],
            password=security["sasl_plain_password"],
            mechanism=security["sasl_mechanism"],
            ssl_context=security.get("ssl_context"),
        )
    app = faust.App(
        app_id or f"frontdoor-{service}",  # the app id is the consumer group id
        broker=f"kafka://{bootstrap}",
        broker_credentials=credentials,
        autodiscover=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_rebalance_timeout=rebalance,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=0.5,
        broker_commit_interval=0.5,
        broker_max_poll_records=2000,
        producer_linger=0,
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_allow_declare=False,
        topic_disable_leader=True,
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
        stream_buffer_maxsize=8192,
        datadir=str(datadir),
    )

    async def _heartbeat() -> None:
        beat()  # the event loop is alive (liveness for /healthz); idle streams still beat

    app.timer(5.0)(_heartbeat)

    return app


def origin_of(message: Any) -> Origin:
    headers = message.headers or ()
    if isinstance(headers, dict):
        headers = tuple(headers.items())
    return Origin(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple((str(k), bytes(v) if v is not None else b"") for k, v in headers),
    )


def batch_agent(
    app: faust.App,
    topic_name: str,
    factory: HandlerFactory,
    *,
    name: str,
    max_batch: int = 1000,
    within: float = 0.05,
    retries: int = 5,
) -> None:
    """Register an agent on ``topic_name`` that feeds batches to the handler ``factory`` opens."""
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")

    async def agent(stream: Any) -> AsyncIterator[None]:
        async with factory() as handle:
            async for events in stream.take_events(max_batch, within=within):
                origins = [origin_of(e.message) for e in events]
                await _with_retries(handle, origins, retries=retries, app=app)
                yield None

    app.agent(topic, name=name)(agent)


async def _with_retries(
    handle: BatchHandler, origins: Sequence[Origin], *, retries: int, app: faust.App
) -> None:
    try:
        await _with_retries_plain(handle, origins, retries=retries, exit_process=False)
    except Exception as exc:
        with contextlib.suppress(Exception):
            await app.crash(exc)
        os._exit(70)


async def _with_retries_plain(
    handle: BatchHandler,
    origins: Sequence[Origin],
    *,
    retries: int,
    exit_process: bool = True,
) -> None:
    """Call the handler; retry with backoff; then crash the process (nothing was committed).

    Crashing rather than skipping is deliberate: a batch that keeps failing (the database is
    down, say) must be delivered again after a restart, never acknowledged. Records that are
    bad in themselves never reach this point: handlers dead-letter them.
    """
    delay = 0.2
    for attempt in range(1, retries + 1):
        try:
            await handle(origins)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "batch_failed",
                attempt=attempt,
                error_class=type(exc).__name__,
                first_offset=origins[0].offset if origins else None,
            )
            if attempt == retries:
                log.exception("worker_crashing_after_retries", error_class=type(exc).__name__)
                if exit_process:
                    os._exit(70)  # EX_SOFTWARE: the supervisor restarts us
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def run_worker(app: faust.App) -> None:
    """Run a faust worker in this process until SIGTERM/SIGINT."""
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
