"""The scanner lease: a PostgreSQL session-level advisory lock held on a dedicated connection.

The replica whose connection holds ``pg_try_advisory_lock(SCANNER_LOCK_ID)`` is the leader. The
lock lives as long as that connection: if the connection drops (network, server restart, the
backend killed), the server releases the lock, this replica notices on its next check (a
``SELECT 1`` each round) and stops leading, and whichever replica asks next takes over — this one
too, after it reconnects. The same connection LISTENs on ``sla_wakeup`` (a trigger NOTIFYs it when
a clock or an outbox row is inserted), so the leader wakes early for a deadline nearer than its
sleep. The connection's ``application_name`` names the replica (``pg_stat_activity`` shows who
leads).
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

log = structlog.get_logger(__name__)

SCANNER_LOCK_ID = 0x736C_615F_7363_616E  # "sla_scan"
WAKEUP_CHANNEL = "sla_wakeup"
# InternalClientError: a connection the server terminated while a listener or query was in
# flight can be left mid-operation; that is a lost connection too, not a crash of the scanner.
_FAILURES = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


class PostgresLeadership:
    def __init__(
        self,
        dsn: str,
        *,
        name: str = "frontdoor-sla-scanner",
        lock_id: int = SCANNER_LOCK_ID,
        timeout: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._name = name
        self._lock_id = lock_id
        self._timeout = timeout
        self._conn: asyncpg.Connection | None = None
        self._leader = False
        self._wake = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        return self._leader

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    async def hold(self) -> bool:
        try:
            if self._conn is None or self._conn.is_closed():
                if self._leader:
                    log.warning("sla_scanner_leadership_lost", error_class="ConnectionClosed")
                await self._connect()
            assert self._conn is not None
            if self._leader:
                await self._conn.fetchval("SELECT 1", timeout=self._timeout)
                return True
            got = await self._conn.fetchval(
                "SELECT pg_try_advisory_lock($1)", self._lock_id, timeout=self._timeout
            )
        except _FAILURES as exc:
            if self._leader:
                log.warning("sla_scanner_leadership_lost", error_class=type(exc).__name__)
            self._leader = False
            await self._drop()
            return False
        if got:
            self._leader = True
            log.info("sla_scanner_leadership_acquired")
        return self._leader

    async def _connect(self) -> None:
        self._leader = False
        conn = await asyncpg.connect(
            self._dsn, timeout=self._timeout, server_settings={"application_name": self._name}
        )
        await conn.add_listener(WAKEUP_CHANNEL, self._on_notify)
        self._conn = conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self._leader = False
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(*_FAILURES):
                await conn.close(timeout=self._timeout)  # closing releases the lock
