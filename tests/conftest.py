"""Shared fixtures: the real embedded broker and a real PostgreSQL, started by project code.

The broker is a Tansu process per test session (``Infrastructure.start`` — the code
``frontdoor dev`` runs). PostgreSQL is the server at ``DATABASE_URL`` when set, else an
embedded server; either way each session gets its own fresh database. Under ``CI=true`` a
component that cannot start fails the run instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.cli.stack import Infrastructure, initialise
from services.common.embedded import stop_process
from services.common.settings import Endpoints

ROOT = Path(__file__).resolve().parent.parent


def _database_for_session(server_dsn: str) -> tuple[str, str]:
    name = f"frontdoor_test_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(server_dsn)
    return name, urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """Each test finds logging as the one before it found it: a CLI command run in-process
    (CliRunner) configures the process's logging for a terminal (``errors.quiet_logs``: structlog
    below ERROR dropped, aiokafka and asyncio silenced), which a later test capturing log lines
    in the same worker would otherwise inherit."""
    import logging

    import structlog

    saved = structlog.get_config()
    names = ("", "aiokafka", "asyncio")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    structlog.configure(**saved)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    # not under pytest's basetemp: pytest prunes old basetemps, and a concurrent run would
    # delete a live PostgreSQL data directory from under the server
    data_dir = Path(tempfile.mkdtemp(prefix="frontdoor-test-"))
    try:
        infra = Infrastructure.start(data_dir)
    except Exception as exc:  # pragma: no cover - environment problem
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"embedded broker/database unavailable: {exc}")
    yield infra
    infra.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def endpoints(infra: Infrastructure) -> Iterator[Endpoints]:
    """A fresh database on the session's server, topics created, migrations applied."""
    yield from _fresh(infra)


@pytest.fixture(scope="module")
def own_endpoints(infra: Infrastructure) -> Iterator[Endpoints]:
    """As ``endpoints``, but a database of the module's own: what a test counts or rebuilds
    whole is not mixed with the rest of the session's."""
    yield from _fresh(infra)


def _fresh(infra: Infrastructure) -> Iterator[Endpoints]:
    name, dsn = _database_for_session(infra.endpoints.database_url)
    eps = Endpoints(bootstrap_servers=infra.endpoints.bootstrap_servers, database_url=dsn)
    asyncio.run(initialise(eps))
    yield eps

    async def drop() -> None:
        admin = await asyncpg.connect(infra.endpoints.database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


class Workers:
    """Worker subprocesses (``frontdoor worker <name>``) started by a test; all stopped after."""

    def __init__(self, endpoints: Endpoints, log_dir: Path) -> None:
        self.endpoints = endpoints
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        log_path = self.log_dir / f"{name}-{len(self.procs)}.log"
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", "worker", name],
                env={
                    **os.environ,
                    "KAFKA_BOOTSTRAP_SERVERS": self.endpoints.bootstrap_servers,
                    "DATABASE_URL": self.endpoints.database_url,
                    "FRONTDOOR_LOG_FORMAT": "json",
                    # the session's broker carries partner.events records no intake ever reads
                    # (tests publish there directly), so intake's horizon would hold every
                    # contact; the hold is proven by its unit tests and by tests/faults
                    "FRONTDOOR_SCREENING_HISTORY_WAIT_SECONDS": "0",
                    "FRONTDOOR_FAUST_DATADIR": str(
                        self.log_dir / f"faust-{name}-{len(self.procs)}"
                    ),
                    **env,
                },
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            stop_process(proc)


@pytest.fixture
def workers(endpoints: Endpoints, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(endpoints, tmp_path)
    yield w
    w.stop_all()


async def wait_until(
    predicate: Callable[[], object], *, timeout: float = 60.0, interval: float = 0.25
) -> object:
    """Poll an async predicate until it returns something truthy; fail with its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: object = None
    while asyncio.get_running_loop().time() < deadline:
        result = predicate()
        last = await result if asyncio.iscoroutine(result) else result
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


async def read_topic(bootstrap: str, topic: str, partitions: int) -> list[Any]:
    """Every record currently on ``topic``, read to the end of each partition (no group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=300)
            got = [r for rs in batch.values() for r in rs]
            records.extend(got)
            idle = 0 if got else idle + 1
        return records
    finally:
        await consumer.stop()


def event_id_of(value: bytes | None) -> str | None:
    """The ``event_id`` of a record's value, ``None`` when it is not a JSON event: the session's
    topics and dead letters also hold other tests' hostile bytes."""
    try:
        data = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    found = data.get("event_id") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None
