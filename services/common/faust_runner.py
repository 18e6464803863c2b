"""The faust-streaming runner: one agent per subscription, feeding the same pipeline.

faust keeps every topic's bytes raw (decoding belongs to our contract), acks — and so commits —
only after the pipeline returned for a batch, and runs at-least-once with the settings measured in
REFERENCE.md. Its aiokafka consumer hard-codes ``fetch_max_wait_ms=1500``, which on the embedded
broker costs up to 1.5 s per hop (Tansu answers a waiting fetch only when the wait expires): the
``frontdoor://`` transport registered here is faust's own aiokafka transport with that one value
taken from ``FRONTDOOR_FETCH_MAX_WAIT_MS`` (50 ms by default, as for the aiokafka runner).

A faust app is one consumer group, so a service on this runner reads all its subscriptions in the
group ``frontdoor-<service>-faust`` (never an aiokafka runner's group: a group cannot mix faust's
assignor with aiokafka's). Catch-up from PostgreSQL runs as an app timer over the partitions the
app holds.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import faust
import structlog
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from services.common import retention
from services.common.embedded import project_data_dir
from services.common.health import beat
from services.common.kafka import security_kwargs
from services.common.pipeline import Pipeline, Subscription, WorkerGivesUpError
from services.common.runners import CATCHUP_INTERVAL, origin_of
from services.common.runtime import EX_TEMPFAIL, Resources, Service, make_catchup, open_resources
from services.common.settings import Endpoints

log = structlog.get_logger(__name__)


class _ShortWaitThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = int(os.environ.get("FRONTDOOR_FETCH_MAX_WAIT_MS", "50"))
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _ShortWaitThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """faust's aiokafka transport with a configurable fetch wait."""

    Consumer = _Consumer


TRANSPORTS.aliases["frontdoor"] = f"{__name__}:Transport"


def faust_group(service: str) -> str:
    return f"frontdoor-{service}-faust"


def make_app(service: str, *, bootstrap: str, app_id: str | None = None) -> faust.App:
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
        app_id or faust_group(service),  # the app id is the consumer group id
        broker=[f"frontdoor://{b}" for b in bootstrap.split(",")],
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
        web_enabled=False,
        datadir=str(datadir),
        stream_buffer_maxsize=8192,
    )

    async def _heartbeat() -> None:
        beat()  # the event loop is alive (liveness for /healthz); idle streams still beat

    app.timer(5.0)(_heartbeat)
    return app


class _Shared:
    """The process's resources, opened once by whichever agent or task needs them first."""

    def __init__(self, service: Service, endpoints: Endpoints) -> None:
        self._service = service
        self._endpoints = endpoints
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()
        self.resources: Resources | None = None
        self.stop = asyncio.Event()

    async def get(self) -> Resources:
        async with self._lock:
            if self.resources is None:
                self.resources = await self._stack.enter_async_context(
                    open_resources(self._endpoints, pool_size=self._service.pool_size)
                )
            return self.resources

    async def close(self) -> None:
        self.stop.set()
        await self._stack.aclose()


def build_app(service: Service, endpoints: Endpoints) -> faust.App:
    """A faust app running every subscription ``service`` declares, and its tasks."""
    app = make_app(service.name, bootstrap=endpoints.bootstrap_servers)
    shared = _Shared(service, endpoints)
    for sub in service.subscriptions:
        _register_agent(app, shared, sub)

    async def _background() -> None:
        resources = await shared.get()
        await asyncio.gather(
            resources.relay.sweep_forever(shared.stop),
            retention.sweep_forever(resources.pool, shared.stop),
            *service.tasks(resources, shared.stop),
        )

    async def _catch_up() -> None:
        resources = await shared.get()
        assigned = app.consumer.assignment() if app.consumer else set()
        for sub in service.subscriptions:
            parts = {tp.partition for tp in assigned if tp.topic == sub.topic}
            if parts:
                # a pipeline of its own (same handler code) so that it never interleaves
                # with the agent's batch state
                async with sub.handler(resources) as handler:
                    pipeline = Pipeline(sub, handler, resources.ledger, resources.relay)
                    await make_catchup(sub, pipeline, resources).run(parts)

    async def _closing(sender: Any, *_: Any, **__: Any) -> None:
        await shared.close()  # stops the relay sweeper and tasks, closes producer and pool

    app.task(_background)
    app.timer(CATCHUP_INTERVAL)(_catch_up)
    app.on_before_shutdown.connect(_closing, weak=False)  # type: ignore[arg-type]
    return app


def _register_agent(app: faust.App, shared: _Shared, sub: Subscription) -> None:
    topic = app.topic(sub.topic, key_serializer="raw", value_serializer="raw")

    async def agent(stream: Any) -> AsyncIterator[None]:
        resources = await shared.get()
        async with sub.handler(resources) as handler:
            pipeline = Pipeline(sub, handler, resources.ledger, resources.relay)
            async for events in stream.take_events(sub.max_batch, within=sub.within):
                try:
                    await pipeline.process([origin_of(e.message) for e in events])
                except WorkerGivesUpError as exc:
                    log.error("worker_giving_up", consumer=sub.consumer, error=str(exc))  # noqa: TRY400
                    sys.stdout.flush()
                    os._exit(EX_TEMPFAIL)
                yield None

    # named by ledger *and* topic: faust keys agents by name, and one ledger may read several
    # topics (sla.timers reads four); a name shared by two subscriptions would keep only the last
    app.agent(topic, name=f"{sub.consumer}-{sub.topic}".replace(".", "-"))(agent)


def run_faust(service: Service, endpoints: Endpoints) -> None:
    app = build_app(service, endpoints)
    # override_logging=False: keep the root handler configure_logging installed (one redacting
    # chain for faust and mode too), instead of mode replacing it with a colour handler
    worker = faust.Worker(
        app, loglevel="WARNING", quiet=True, redirect_stdouts=False, override_logging=False
    )
    # no terminal spinner: even off a terminal it ends by writing "\b\x1b[?25h" to stdout, a
    # stray non-JSON fragment in front of the next log line
    worker.spinner = None
    worker.execute_from_commandline()
