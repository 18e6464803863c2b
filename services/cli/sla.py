"""``frontdoor sla``: the live statutory clocks, soonest deadline first.

A table on a terminal (rich), or with ``--json`` a JSON list of objects — ``timer_id``,
``child_id``, ``kind``, ``policy``, ``subject_ref``, ``started_at``, ``due_at``, ``warn_at``,
``status`` (``open`` or ``breached``: still owed), ``warned_at``, ``breached_at``, ``team`` — with
every moment in ISO 8601 with its Europe/London offset. ``--kind`` keeps one kind of clock;
``--breaching`` keeps the clocks past their deadline or due before the end of today.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from services.common.settings import Endpoints
from services.sla.adapters.board import live_timers


async def fetch_live_timers(
    endpoints: Endpoints, *, kind: str | None, breaching: bool, now: datetime | None = None
) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        return await live_timers(conn, now=now or datetime.now(UTC), kind=kind, breaching=breaching)
    finally:
        await conn.close()


def timers_json(rows: Sequence[dict[str, Any]]) -> str:
    """The JSON form: ids as strings, moments as ISO 8601 with their offsets."""

    def plain(value: object) -> object:
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value) if value is not None and not isinstance(value, str | int) else value

    return json.dumps([{k: plain(v) for k, v in row.items()} for row in rows], indent=2)


def _until(left_hours: float) -> str:
    if abs(left_hours) < 48:
        return f"{left_hours:+.1f} h"
    return f"{left_hours / 24:+.0f} d"


def print_timers(rows: Sequence[dict[str, Any]], *, now: datetime) -> None:
    table = Table(title=f"{len(rows)} live SLA clocks (soonest first)", box=box.SIMPLE_HEAD)
    table.add_column("due (London)", min_width=16)
    table.add_column("kind", no_wrap=True)
    table.add_column("child", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("team")
    for r in rows:
        due: datetime = r["due_at"]
        hours = (due - now).total_seconds() / 3600
        style = "red" if r["status"] == "breached" or hours < 0 else "yellow" if hours < 24 else ""
        shown = "%a %d %b %H:%M" if due.year == now.year else "%a %d %b %Y %H:%M"
        table.add_row(
            f"{due.strftime(shown)}\n{_until(hours)}",
            r["kind"],
            r["child_id"],
            r["status"],
            r["team"] or "—",
            style=style,
        )
    Console().print(table)


def sla_command(endpoints: Endpoints, *, as_json: bool, kind: str | None, breaching: bool) -> None:
    """Print the live clocks (``frontdoor sla [--json] [--kind K] [--breaching]``)."""
    now = datetime.now(UTC)
    rows = asyncio.run(fetch_live_timers(endpoints, kind=kind, breaching=breaching, now=now))
    if as_json:
        typer.echo(timers_json(rows))
    else:
        print_timers(rows, now=now)
