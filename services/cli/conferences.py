"""``frontdoor conferences``: the conferences not yet held, soonest target date first.

A table on a terminal (rich), or with ``--json`` a JSON list of objects — ``conference_id``,
``child_id``, ``kind`` (``icpc`` or ``rcpc``), ``sequence`` (0 for an ICPC, n for the nth review),
``policy``, ``plan_id``, ``target_date`` (ISO date: the last working day it may be held),
``conference_at`` (when booked, if known), ``reports_due_by``, ``invited_agencies``,
``reports_received``, ``reports_missing``, ``reports_late`` (shared with the parents after the
deadline), ``reports_not_shared``, ``reports_overdue`` (the deadline has passed with reports
missing), ``quorate_on_invitations`` and ``quorate_on_reports`` — moments in ISO 8601 with their
offsets. Late or missing reports show here before the conference, not after it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from services.common.calendar import to_london
from services.common.settings import Endpoints
from services.conferences.adapters.views import upcoming_conferences


async def fetch_upcoming(endpoints: Endpoints, *, now: datetime) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        return await upcoming_conferences(conn, now=now)
    finally:
        await conn.close()


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return to_london(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def conferences_json(rows: Sequence[dict[str, Any]]) -> str:
    """The JSON form: ids as strings, dates ISO, moments ISO 8601 with their London offsets."""
    return json.dumps([{k: _plain(v) for k, v in row.items()} for row in rows], indent=2)


def _agencies(values: Sequence[str]) -> str:
    return ", ".join(values) or "—"


def print_conferences(
    rows: Sequence[dict[str, Any]], *, today: date, console: Console | None = None
) -> None:
    table = Table(title=f"{len(rows)} upcoming child protection conferences (soonest first)")
    for col in ("target", "days", "kind", "child", "invited", "reports", "missing", "late",
                "quorum"):  # fmt: skip
        table.add_column(col)
    for r in rows:
        days = (r["target_date"] - today).days
        invited = len(r["invited_agencies"])
        late = [*r["reports_late"], *(f"{a} (not shared)" for a in r["reports_not_shared"])]
        quorum = (
            "yes"
            if r["quorate_on_reports"]
            else "possible"
            if r["quorate_on_invitations"]
            else "no"
        )
        kind = "ICPC" if r["kind"] == "icpc" else f"review {r['sequence']}"
        style = "red" if r["reports_overdue"] or days < 0 else "yellow" if late else ""
        table.add_row(
            r["target_date"].strftime("%a %d %b %Y"),
            f"{days:+d}",
            kind,
            r["child_id"],
            _agencies(r["invited_agencies"]),
            f"{len(r['reports_received'])}/{invited}",
            _agencies(r["reports_missing"]),
            _agencies(late),
            quorum,
            style=style,
        )
    (console or Console()).print(table)


def conferences_command(endpoints: Endpoints, *, as_json: bool) -> None:
    """Print the upcoming conferences (``frontdoor conferences [--json]``)."""
    now = datetime.now(UTC)
    rows = asyncio.run(fetch_upcoming(endpoints, now=now))
    if as_json:
        typer.echo(conferences_json(rows))
    else:
        print_conferences(rows, today=to_london(now).date())
