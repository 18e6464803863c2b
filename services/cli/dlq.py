"""``frontdoor dlq``: list dead letters and re-send them to their original topic after a fix.

A thin translator over the dead-letter service: ``list`` reads the ``deadletters`` table;
``replay`` runs the service's one replay (``services.deadletter.bootstrap.replay``, which the ops
console runs too), audited as ``cli:<user>``, with the same filters: ``--id``, ``--reason``,
``--event-type``, ``--agency``. A refused replay — an unknown reason or id, a letter
already replayed, a letter that would loop back onto ``frontdoor.deadletter`` — is one line on
stderr and exit code 2; an unreachable database or broker is one line and exit code 1. Never a
traceback.

Letters whose value is not a JSON object (a PNG replayed as "events", bytes no partner meant) are
refused too, unless ``--raw``: no fix makes them readable, and re-sending them only puts them
back on the dead-letter topic. A filter that matches nothing waiting says so and sends nothing.
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import asyncpg
import orjson
import typer
from rich.console import Console
from rich.table import Table

from services.common.db import create_pool
from services.common.settings import Endpoints
from services.deadletter.adapters.postgres import list_letters
from services.deadletter.bootstrap import replay
from services.deadletter.domain.letters import shown
from services.deadletter.domain.replay import ReplayChoice, ReplayRefusedError, check_choice


def _fail(command: str, message: str, code: int) -> NoReturn:
    typer.secho(f"frontdoor dlq {command}: {message}", fg="red", err=True)
    raise typer.Exit(code)


@asynccontextmanager
async def _translated(command: str) -> AsyncIterator[None]:
    try:
        yield
    except ReplayRefusedError as exc:
        _fail(command, str(exc), 2)
    # a server away is services.cli.errors' one line, with what to do (exit code 1)


def _display(row: dict[str, Any]) -> dict[str, Any]:
    value: bytes | None = row.pop("record_value")
    key: bytes | None = row.pop("record_key")
    headers = row.pop("record_headers")
    row["letter_id"] = str(row["letter_id"]) if row["letter_id"] is not None else None
    row["key"] = shown(key) if key is not None else None
    row["value_bytes"] = len(value) if value else 0
    row["headers"] = orjson.loads(headers) if isinstance(headers, str | bytes) else headers
    return row


COUNT_SQL = "SELECT count(*) FROM deadletters WHERE $1 OR replayed_at IS NULL"


async def count_deadletters(endpoints: Endpoints, include_replayed: bool) -> int:
    """How many letters ``dlq list`` could show (waiting, or every one with ``--all``)."""
    async with _translated("list"):
        conn = await asyncpg.connect(endpoints.database_url)
        try:
            return int(await conn.fetchval(COUNT_SQL, include_replayed))
        finally:
            await conn.close()


async def fetch_deadletters(
    endpoints: Endpoints, include_replayed: bool, limit: int
) -> list[dict[str, Any]]:
    async with _translated("list"):
        conn = await asyncpg.connect(endpoints.database_url)
        try:
            rows = await list_letters(conn, include_replayed=include_replayed, limit=limit)
        finally:
            await conn.close()
    return [_display(r) for r in rows]


def print_deadletters(rows: Sequence[dict[str, Any]], total: int | None = None) -> None:
    """The table, and "showing N of M" when there are more than it shows."""
    shown = f"showing {len(rows):,} of {total:,}" if total is not None else f"{len(rows):,}"
    word = "dead letter" if (total if total is not None else len(rows)) == 1 else "dead letters"
    table = Table(title=f"{shown} {word} (newest first)")
    for col in ("id", "failed at", "reason", "from", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["failed_at"].isoformat(timespec="seconds"),
            r["reason"],
            f"{r['original_topic']}[{r['original_partition']}]@{r['original_offset']}",
            f"{r['exception_class'].rsplit('.', 1)[-1]}: {r['exception_message'][:90]}",
        )
    Console().print(table)


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without a passwd entry)
        return "cli"


async def replay_deadletters(
    endpoints: Endpoints,
    ids: Sequence[int] | None,
    reason: str | None,
    *,
    event_type: str | None = None,
    agency: str | None = None,
    raw: bool = False,
) -> int:
    """Re-send the chosen letters; a refusal exits with code 2 (see the module docstring)."""
    choice = ReplayChoice(
        ids=tuple(ids) if ids else None,
        reason=reason,
        event_type=event_type,
        agency=agency,
        raw=raw,
    )
    async with _translated("replay"):
        check_choice(choice)  # a usage error needs no database
        pool = await create_pool(endpoints.database_url, max_size=2)
        try:
            return await replay(pool, endpoints.bootstrap_servers, choice, actor=_actor())
        finally:
            await pool.close()
