"""``frontdoor sla``: the statutory and workforce clocks, what is due next first.

The default view is for the person who can still do something about a clock: a duty or team
manager opening the board wants the clocks that can still be met, soonest deadline first — a
clock already breached cannot be met any more, and listing those first (thousands of old
Encompass or replayed clocks) would push every clock due today off the screen. So it shows

1. one line of totals: clocks open (not yet due) and breached (past due, still owed), and the
   breached ones by kind, biggest first (where the service is failing);
2. the next ``--limit`` (default 20) open clocks, soonest first, with "showing N of M";
3. the pointer to the breached list: ``frontdoor sla --status breached`` (longest overdue first).

Any of ``--status``, ``--child``, ``--breaching`` or ``--all`` turns it into one list of the
matching clocks, soonest deadline first, with "showing N of M" and the filters in words.
``--all`` shows every matching clock (every status unless ``--status`` says which); ``--json``
writes every matching clock (or ``--limit`` of them) as one JSON array, streamed row by row from
a server-side cursor, with the count on stderr. Statuses are the board's
(``services/sla/adapters/board.py``): ``open`` (not yet due), ``breached`` (past due, still owed,
announced or not yet), ``met``, ``cancelled``, and ``live`` = open + breached (the default).

JSON objects: ``timer_id``, ``child_id``, ``kind``, ``policy``, ``subject_ref``, ``started_at``,
``due_at``, ``warn_at``, ``status``, ``warned_at``, ``breached_at``, ``team``, ``met_at``,
``cancelled_at``, every moment ISO 8601 with its Europe/London offset. A bad option (an unknown
kind or status, a period that is not FROM..TO) is one line and exit code 2.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import IO, Any

import asyncpg
import orjson
import typer

from services.common.settings import Endpoints
from services.sla.adapters import board
from services.sla.adapters.board import LIVE, STATUSES, Filters, UnknownKindError, check_kinds

DEFAULT_ROWS = 20


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def parse_statuses(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """``--status`` values (repeatable, or comma-separated); ``None`` when not given."""
    if not values:
        return None
    chosen: list[str] = []
    for value in values:
        for s in (v.strip() for v in value.split(",")):
            if s == "live":
                chosen.extend(LIVE)
            elif s in STATUSES:
                chosen.append(s)
            else:
                raise typer.BadParameter(
                    f"no status {s!r}; the statuses are {', '.join(STATUSES)}, live "
                    "(open + breached)",
                    param_hint="--status",
                )
    return tuple(dict.fromkeys(chosen))


def parse_kinds(values: Sequence[str] | None) -> tuple[str, ...]:
    try:
        return check_kinds(k.strip() for v in values or () for k in v.split(","))
    except UnknownKindError as exc:
        raise typer.BadParameter(str(exc), param_hint="--kind") from None


# -- reading ---------------------------------------------------------------------------------


async def _connect(endpoints: Endpoints) -> asyncpg.Connection:
    return await asyncpg.connect(endpoints.database_url, timeout=10)


async def fetch_live_timers(
    endpoints: Endpoints, *, kind: str | None, breaching: bool, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Every live clock (of ``kind``; due before tonight with ``breaching``), soonest first."""
    conn = await _connect(endpoints)
    try:
        return await board.live_timers(
            conn, now=now or datetime.now(UTC), kind=kind, breaching=breaching
        )
    finally:
        await conn.close()


# -- writing ---------------------------------------------------------------------------------


def _json_bytes(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row, default=str)


def timers_json(rows: Iterable[dict[str, Any]]) -> str:
    """The JSON form of ``rows``: ids as strings, moments ISO 8601 with their offsets."""
    return "[" + ",".join(_json_bytes(r).decode() for r in rows) + "]"


async def write_json(rows: AsyncIterator[dict[str, Any] | str], out: IO[bytes]) -> int:
    """``rows`` (dicts, or JSON objects already written) as one JSON array, one object a line,
    written as they come; how many."""
    n = 0
    out.write(b"[")
    async for row in rows:
        out.write(b"\n" if n == 0 else b",\n")
        out.write(row.encode() if isinstance(row, str) else _json_bytes(row))
        n += 1
    out.write(b"\n]\n" if n else b"]\n")
    out.flush()
    return n


def _until(due: datetime, now: datetime) -> str:
    hours = (due - now).total_seconds() / 3600
    if abs(hours) < 48:
        return f"{hours:+.1f} h"
    return f"{hours / 24:+.0f} d"


HEADINGS = ("due (London)", "in", "status", "kind", "child", "team")
WIDTH = 80
"""Every line fits 80 columns (a wider terminal gets its width): the team, last, is cut to fit."""


def _cells(row: dict[str, Any], now: datetime) -> tuple[str, ...]:
    due: datetime = row["due_at"]
    shown = "%a %d %b %H:%M" if due.year == now.year else "%d %b %Y"
    return (
        due.strftime(shown),
        _until(due, now),
        row["status"],
        row["kind"],
        row["child_id"],
        row["team"] or "—",
    )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def table_lines(rows: Sequence[dict[str, Any]], *, now: datetime) -> list[str]:
    """Fixed-width lines (the heading first), coloured by urgency on a terminal."""
    import shutil

    cells = [_cells(r, now) for r in rows]
    widths = [max(len(c[i]) for c in [HEADINGS, *cells]) for i in range(len(HEADINGS))]
    budget = max(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns)
    widths[-1] = max(4, min(widths[-1], budget - sum(widths[:-1]) - 2 * (len(widths) - 1)))
    cells = [(*c[:-1], _cut(c[-1], widths[-1])) for c in cells]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    lines = [typer.style(line(HEADINGS), bold=True)]
    for row, values in zip(rows, cells, strict=True):
        hours = (row["due_at"] - now).total_seconds() / 3600
        urgent = row["status"] == "open" and hours < 24
        colour = "red" if row["status"] == "breached" else "yellow" if urgent else None
        lines.append(typer.style(line(values), fg=colour) if colour else line(values))
    return lines


def _by_kind(counts: Iterable[board.Count], status: str, shown: int = 5) -> str:
    """The kinds with most clocks of ``status`` first: where the service is failing."""
    tally = Counter[str]()
    for c in counts:
        if c.status == status:
            tally[c.kind] += c.n
    top = tally.most_common()
    words = ", ".join(f"{kind} {n:,}" for kind, n in top[:shown])
    rest = len(top) - shown
    return words + (f" and {plural(rest, 'more kind')}" if rest > 0 else "")


def breached_command(filters: Filters) -> str:
    """The command that lists the breached clocks of the same kinds and period."""
    words = ["frontdoor sla --status breached"]
    words.extend(f"--kind {k}" for k in filters.kinds)
    first, last = filters.period
    if first or last:
        words.append(f"--period {first or ''}..{last or ''}")
    return " ".join(words)


# -- the command -----------------------------------------------------------------------------


def sla_command(
    endpoints: Endpoints,
    *,
    as_json: bool,
    kind: str | Sequence[str] | None = None,
    breaching: bool = False,
    child: str | None = None,
    status: Sequence[str] | None = None,
    period: str | None = None,
    limit: int | None = None,
    show_all: bool = False,
    now: datetime | None = None,
) -> None:
    """``frontdoor sla`` (see the module docstring); usage errors raise ``typer.BadParameter``."""
    from services.cli.errors import parse_period

    kinds = parse_kinds([kind] if isinstance(kind, str) else kind)
    statuses = parse_statuses(status)
    first_last = parse_period(period)
    if show_all and limit is not None:
        raise typer.BadParameter("--all shows every clock; leave out --limit", param_hint="--all")
    now = now or datetime.now(UTC)
    due_before = None
    if breaching:
        from services.common.calendar import end_of_day

        due_before = end_of_day(board.to_london(now).date())
    filters = Filters(
        kinds=kinds,
        child=child,
        statuses=statuses or (STATUSES if show_all else LIVE),
        period=first_last,
        due_before=due_before,
    )
    overview = not (as_json or show_all or statuses or child or breaching)
    if not (as_json or show_all):
        limit = limit or DEFAULT_ROWS
    asyncio.run(_draw(endpoints, filters, now=now, as_json=as_json, limit=limit, overview=overview))


async def _draw(
    endpoints: Endpoints,
    filters: Filters,
    *,
    now: datetime,
    as_json: bool,
    limit: int | None,
    overview: bool,
) -> None:
    conn = await _connect(endpoints)
    try:
        # one snapshot: "showing N of M" counts the rows it shows
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await _draw_in(conn, filters, now=now, as_json=as_json, limit=limit, overview=overview)
    finally:
        await conn.close()


async def _draw_in(
    conn: asyncpg.Connection,
    filters: Filters,
    *,
    now: datetime,
    as_json: bool,
    limit: int | None,
    overview: bool,
) -> None:
    counts = await board.counts(conn, filters, now=now)
    total = sum(c.n for c in counts)
    if as_json:
        rows = (
            _listed(await board.clocks(conn, filters, now=now, limit=limit))
            if limit is not None
            else board.stream_json(conn, filters, now=now)
        )
        n = await write_json(rows, sys.stdout.buffer)
        typer.echo(f"wrote {n:,} of {plural(total, 'clock')} ({filters.described()})", err=True)
    elif overview:
        await _overview(conn, filters, counts, now=now, limit=limit or DEFAULT_ROWS)
    else:
        await _listing(conn, filters, total, now=now, limit=limit)


async def _listed(rows: Sequence[dict[str, Any]]) -> AsyncIterator[dict[str, Any] | str]:
    for row in rows:
        yield row


def _period_words(filters: Filters) -> str:
    rest = [p for p in filters.described().split("; ") if not p.startswith("status ")]
    return f" ({'; '.join(rest)})" if rest else ""


async def _overview(
    conn: asyncpg.Connection,
    filters: Filters,
    counts: Sequence[board.Count],
    *,
    now: datetime,
    limit: int,
) -> None:
    open_n = sum(c.n for c in counts if c.status == "open")
    breached = [c for c in counts if c.status == "breached"]
    breached_n = sum(c.n for c in breached)
    narrowed = _period_words(filters)
    typer.echo(
        f"SLA clocks{narrowed}: {open_n:,} open (not yet due), "
        + typer.style(f"{breached_n:,} breached and still owed", fg="red" if breached_n else None)
    )
    rows = await board.clocks(conn, replace(filters, statuses=("open",)), now=now, limit=limit)
    typer.echo()
    if rows:
        typer.echo("Due next (can still be met), soonest first:")
        for line in table_lines(rows, now=now):
            typer.echo(line)
    typer.echo(f"showing {len(rows):,} of {plural(open_n, 'open clock')}{narrowed}", nl=False)
    typer.echo(
        "; more with --limit N, every one with --status open --all" if len(rows) < open_n else ""
    )
    if breached_n:
        oldest = board.to_london(min(c.first_due for c in breached))
        typer.echo()
        typer.echo(
            typer.style(f"{plural(breached_n, 'breached clock')}", fg="red")
            + f", overdue since {oldest:%d %b %Y} at the oldest: {_by_kind(breached, 'breached')}"
        )
        typer.echo(f"list them (longest overdue first): {breached_command(filters)}")


async def _listing(
    conn: asyncpg.Connection, filters: Filters, total: int, *, now: datetime, limit: int | None
) -> None:
    """One list, soonest first: ``limit`` rows, or every row streamed (``None``: ``--all``)."""
    shown = 0
    if limit is not None:
        rows = await board.clocks(conn, filters, now=now, limit=limit)
        if rows:
            for line in table_lines(rows, now=now):
                typer.echo(line)
        shown = len(rows)
    else:
        page: list[dict[str, Any]] = []
        async for row in board.stream(conn, filters, now=now):
            page.append(row)
            if len(page) == 2000:
                typer.echo("\n".join(table_lines(page, now=now)[shown > 0 :]))
                shown += len(page)
                page = []
        if page:
            typer.echo("\n".join(table_lines(page, now=now)[shown > 0 :]))
            shown += len(page)
    more = "; more with --limit N or --all" if shown < total else ""
    typer.echo(f"showing {shown:,} of {plural(total, 'clock')} ({filters.described()}){more}")
