"""Bringing up the infrastructure: broker, database, topics, migrations.

Shared by ``frontdoor dev``, ``frontdoor init`` and the test fixtures, so the tests start their
broker and database with exactly the code a developer runs.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import structlog

from schemas.topics import ALL_TOPICS
from services.cli.registry import migration_dirs
from services.common.db import migrate
from services.common.embedded import EmbeddedBroker, EmbeddedPostgres
from services.common.kafka import ensure_topics
from services.common.settings import Endpoints

log = structlog.get_logger(__name__)


async def ensure_database(dsn: str) -> None:
    """Create the database named in ``dsn`` if the server does not have it yet."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/") or "postgres"
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            log.info("database_created", database=name)
        finally:
            await admin.close()
    else:
        await conn.close()


async def initialise(endpoints: Endpoints) -> None:
    """Topics with explicit partition counts, then migrations. Safe to run again."""
    await ensure_topics(endpoints.bootstrap_servers, [(t.name, t.partitions) for t in ALL_TOPICS])
    await ensure_database(endpoints.database_url)
    await migrate(endpoints.database_url, migration_dirs())


@dataclass
class Infrastructure:
    """A broker and a database this process started (or was given).

    Both started ones are this process's children and die with it (``services.common.embedded``).
    """

    broker: EmbeddedBroker | None
    postgres: EmbeddedPostgres | None
    endpoints: Endpoints
    data_dir: Path
    _stopped: bool = field(default=False)

    @classmethod
    def start(
        cls, data_dir: Path, *, database_url: str | None = None, bootstrap: str | None = None
    ) -> Infrastructure:
        database_url = database_url or os.environ.get("DATABASE_URL")
        broker = None if bootstrap else EmbeddedBroker.start(data_dir)
        try:
            postgres = None if database_url else EmbeddedPostgres.start(data_dir)
        except BaseException:
            if broker is not None:
                broker.stop()
            raise
        endpoints = Endpoints(
            bootstrap_servers=bootstrap or (broker.bootstrap if broker else ""),
            database_url=database_url or (postgres.dsn() if postgres else ""),
        )
        return cls(broker=broker, postgres=postgres, endpoints=endpoints, data_dir=data_dir)

    def initialise(self) -> None:
        asyncio.run(initialise(self.endpoints))

    def restart_broker(self) -> None:
        """Tansu keeps nothing across a restart: a fresh one on the same port, topics again."""
        if self.broker is None:
            return
        port = self.broker.port
        self.broker.stop()
        self.broker = EmbeddedBroker.start(self.data_dir, port=port)
        asyncio.run(
            ensure_topics(
                self.endpoints.bootstrap_servers, [(t.name, t.partitions) for t in ALL_TOPICS]
            )
        )

    def restart_postgres(self) -> None:
        """A fresh postmaster on the same data directory: same socket, so the same URL.

        Workers are not restarted: their connections fail while it is down and they reconnect
        (or crash and are restarted by the supervisor) once it is back.
        """
        if self.postgres is None:
            return
        self.postgres.stop()
        self.postgres = EmbeddedPostgres.start(self.data_dir)
        # the socket directory is derived from pgdata, so this holds unless pgdata moved
        if self.postgres.dsn() != self.endpoints.database_url:
            raise RuntimeError(
                f"restarted PostgreSQL moved from {self.endpoints.database_url} "
                f"to {self.postgres.dsn()}"
            )

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.broker:
            self.broker.stop()
        if self.postgres:
            self.postgres.stop()
