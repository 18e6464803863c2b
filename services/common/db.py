"""PostgreSQL access shared by every service: the connection pool and the migration runner.

Each service keeps its SQL migrations in ``services/<name>/migrations/NNN_description.sql`` and
owns the tables they create. The runner applies unapplied files in order inside one transaction
each, under a PostgreSQL advisory lock so that several workers starting at once migrate exactly
once. It is a few dozen lines rather than a migration framework because the project's migrations
are plain SQL with no down-migrations, and the popular tools (alembic, yoyo) would bring an ORM or
a synchronous driver the services do not otherwise use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

MIGRATION_LOCK_ID = 0x6672_6F6E_7464  # "frontd"


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 5) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=60)
    if pool is None:  # pragma: no cover - asyncpg returns None only when not awaited
        raise RuntimeError("asyncpg returned no pool")
    return pool


def migration_files(directories: Sequence[Path]) -> list[tuple[str, Path]]:
    """(migration id, file) in apply order: directories in the order given, files by name."""
    found: list[tuple[str, Path]] = []
    for directory in directories:
        service = directory.parent.name
        found.extend((f"{service}/{f.name}", f) for f in sorted(directory.glob("*.sql")))
    return found


async def migrate(dsn: str, directories: Sequence[Path]) -> list[str]:
    """Apply every migration not yet applied; return the ids applied now."""
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   id text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {
            r["id"]: r["checksum"]
            for r in await conn.fetch("SELECT id, checksum FROM schema_migrations")
        }
        for mig_id, path in migration_files(directories):
            sql = path.read_text()
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if mig_id in done:
                if done[mig_id] != checksum:
                    log.warning("migration_changed_after_apply", migration=mig_id)
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (id, checksum) VALUES ($1, $2)", mig_id, checksum
                )
            applied_now.append(mig_id)
            log.info("migration_applied", migration=mig_id)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
        await conn.close()
    return applied_now
