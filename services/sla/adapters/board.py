"""What the SLA board shows: the statutory clocks and the workforce's clocks, filtered and counted.

Read by ``frontdoor sla`` (and anything else that wants the same list). Two tables are read as
one: ``sla_timers`` (this service's clocks; the team is the child's current one from
``sla_children``, else the team when the clock started) and the workforce service's
``workforce_clocks`` (next supervision, ASYE review, case oversight, referral → allocation; only
open ones exist there, in the same shape). Each branch of the ``UNION ALL`` is filtered before the
union and ordered by ``due_at`` so PostgreSQL merges two index scans and stops at the ``LIMIT``.

Statuses as the board counts them, at ``now``:

- ``open``: still running and not yet due;
- ``breached``: past its deadline and still owed — announced (``status = 'breached'``) or not yet
  (``open`` with ``due_at < now``: the scanner is about to announce it, or a replay recorded it
  already overdue). Workforce clocks past due are breached the same way;
- ``met`` / ``cancelled``: closed (``sla_timers`` only; the workforce keeps no closed clocks);
- ``live`` = open + breached (what is still owed; the default).

Filters: kinds (``known_kinds()``), child, statuses, a period (``due_at`` on those Europe/London
days) and ``due_before`` (``--breaching``). Rows come soonest deadline first (``due_at``,
``timer_id``); ``stream`` pages through every match with a server-side cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

# The board is drawn by a short-lived CLI process: the schemas package and the working calendar
# (pydantic, holidays) are imported only when a filter needs them, not to draw the default view.
LONDON = ZoneInfo("Europe/London")
WORKFORCE_KINDS: tuple[str, ...] = ("supervision", "asye_review", "case_oversight", "allocation")
"""The kinds ``services/workforce/handlers.py`` writes to ``workforce_clocks``."""


@cache
def sla_kinds() -> tuple[str, ...]:
    """The statutory clock kinds (``schemas/events/sla.py`` ``TimerKind``)."""
    from schemas.events.sla import TimerKind

    return tuple(k.value for k in TimerKind)


def known_kinds() -> tuple[str, ...]:
    return sla_kinds() + WORKFORCE_KINDS


def to_london(moment: datetime) -> datetime:
    return moment.astimezone(LONDON)


STATUSES: tuple[str, ...] = ("open", "breached", "met", "cancelled")
LIVE: tuple[str, ...] = ("open", "breached")

COLUMNS = (
    "timer_id, child_id, kind, policy, subject_ref, started_at, due_at, warn_at, status, "
    "warned_at, breached_at, team"
)


class UnknownKindError(ValueError):
    """A kind no service keeps clocks of; the message lists the known ones."""


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(kinds))
    if unknown := [k for k in chosen if k not in known_kinds()]:
        raise UnknownKindError(
            f"no clock kind {', '.join(repr(k) for k in unknown)}; the kinds are "
            f"{', '.join(known_kinds())}"
        )
    return chosen


def start_of_day(day: date) -> datetime:
    """Midnight starting ``day`` in England (an aware datetime)."""
    return datetime(day.year, day.month, day.day, tzinfo=LONDON)


@dataclass(frozen=True)
class Filters:
    """Which clocks: every field narrows; an empty tuple / ``None`` does not."""

    kinds: tuple[str, ...] = ()
    child: str | None = None
    statuses: tuple[str, ...] = LIVE
    period: tuple[date | None, date | None] = (None, None)
    """Due on these London days, both ends included; either may be open."""
    due_before: datetime | None = None

    def described(self) -> str:
        """The filters in words, for "showing N of M …"."""
        parts = [f"status {'+'.join(self.statuses)}"]
        if self.kinds:
            parts.append(f"kind {', '.join(self.kinds)}")
        if self.child:
            parts.append(f"child {self.child}")
        first, last = self.period
        if first or last:
            parts.append(f"due {first or '…'}..{last or '…'}")
        if self.due_before:
            parts.append(f"due before {to_london(self.due_before):%d %b %Y %H:%M}")
        return "; ".join(parts)


@dataclass
class _Where:
    """A WHERE clause for one branch, its parameters numbered after the shared ones."""

    params: list[Any] = field(default_factory=list)
    clauses: list[str] = field(default_factory=list)

    def add(self, template: str, *values: Any) -> None:
        names = []
        for value in values:
            self.params.append(value)
            names.append(f"${len(self.params)}")
        self.clauses.append(template.format(*names))

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


def _status_sql(statuses: tuple[str, ...], now_param: str, *, workforce: bool) -> str:
    """SQL for the board's statuses (module docstring) on one branch."""
    if not workforce and set(statuses) >= set(STATUSES):
        return "TRUE"  # every clock: no condition, so the plain due_at index orders them
    ors = []
    for s in statuses:
        if workforce:
            if s == "open":
                ors.append(f"t.due_at >= {now_param}")
            elif s == "breached":
                ors.append(f"t.due_at < {now_param}")
        elif s == "open":
            ors.append(f"(t.status = 'open' AND t.due_at >= {now_param})")
        elif s == "breached":
            ors.append(f"(t.status = 'breached' OR (t.status = 'open' AND t.due_at < {now_param}))")
        else:
            ors.append(f"t.status = '{s}'")
    if not ors:
        return "FALSE"
    if not workforce and set(statuses) >= set(LIVE):  # lets the planner use the live index
        live = [o for s, o in zip(statuses, ors, strict=True) if s not in LIVE]
        ors = ["t.status IN ('open', 'breached')", *live]
    return "(" + " OR ".join(ors) + ")"


def _branches(filters: Filters, now: datetime) -> tuple[str, str, list[Any]]:
    """(sla_timers WHERE, workforce_clocks WHERE, parameters); $1 is ``now``."""
    where = _Where(params=[now])
    if filters.kinds:
        where.add("t.kind = ANY({}::text[])", list(filters.kinds))
    if filters.child is not None:
        where.add("t.child_id = {}", filters.child)
    first, last = filters.period
    if first is not None:
        where.add("t.due_at >= {}", start_of_day(first))
    if last is not None:
        where.add("t.due_at < {}", start_of_day(last + timedelta(days=1)))
    if filters.due_before is not None:
        where.add("t.due_at <= {}", filters.due_before)
    shared = where.sql()
    sla = f"{shared} AND {_status_sql(filters.statuses, '$1', workforce=False)}"
    wf_statuses = tuple(s for s in filters.statuses if s in LIVE)
    workforce = f"{shared} AND t.status = 'open' AND " + _status_sql(
        wf_statuses, "$1", workforce=True
    )
    if filters.kinds and not set(filters.kinds) & set(sla_kinds()):
        sla = "FALSE"
    if (filters.kinds and not set(filters.kinds) & set(WORKFORCE_KINDS)) or not wf_statuses:
        workforce = "FALSE"
    return sla, workforce, where.params


def _board_status(now_param: str) -> str:
    return (
        f"CASE WHEN t.status = 'open' AND t.due_at < {now_param} THEN 'breached' ELSE t.status END"
    )


def _rows_sql(filters: Filters, now: datetime, limit: int | None) -> tuple[str, list[Any]]:
    sla, workforce, params = _branches(filters, now)
    limit_sql = ""
    if limit is not None:
        params.append(limit)
        limit_sql = f" LIMIT ${len(params)}"
    sql = f"""
SELECT b.timer_id, b.child_id, b.kind, b.policy, b.subject_ref, b.started_at, b.due_at, b.warn_at,
       b.board_status AS status, b.warned_at, b.breached_at, b.team, b.met_at, b.cancelled_at
FROM (
    (SELECT t.timer_id, t.child_id, t.kind, t.policy, t.subject_ref, t.started_at, t.due_at,
            t.warn_at, t.status, t.warned_at, t.breached_at, COALESCE(c.team, t.team) AS team,
            t.met_at, t.cancelled_at, {_board_status("$1")} AS board_status
     FROM sla_timers t LEFT JOIN sla_children c ON c.child_id = t.child_id
     WHERE {sla} ORDER BY t.due_at, t.timer_id{limit_sql})
    UNION ALL
    (SELECT t.timer_id, t.child_id, t.kind, t.policy, t.subject_ref, t.started_at, t.due_at,
            NULL::timestamptz, 'open', NULL::timestamptz,
            CASE WHEN t.due_at < $1 THEN t.due_at END, t.team, NULL::timestamptz,
            NULL::timestamptz, CASE WHEN t.due_at < $1 THEN 'breached' ELSE 'open' END
     FROM workforce_clocks t
     WHERE {workforce} ORDER BY t.due_at, t.timer_id{limit_sql})
) b
ORDER BY b.due_at, b.timer_id{limit_sql}
"""
    return sql, params


def _counts_sql(filters: Filters, now: datetime) -> tuple[str, list[Any]]:
    sla, workforce, params = _branches(filters, now)
    return (
        f"""
SELECT kind, board_status, count(*) AS n, min(due_at) AS first_due FROM (
    SELECT t.kind, t.due_at, {_board_status("$1")} AS board_status
    FROM sla_timers t WHERE {sla}
    UNION ALL
    SELECT t.kind, t.due_at, CASE WHEN t.due_at < $1 THEN 'breached' ELSE 'open' END
    FROM workforce_clocks t WHERE {workforce}
) b GROUP BY 1, 2
""",
        params,
    )


def _plain(row: asyncpg.Record) -> dict[str, Any]:
    """A row as the board shows it: moments in London time, ``status`` as the board counts it."""
    return {
        key: value.astimezone(LONDON) if isinstance(value, datetime) else value
        for key, value in row.items()
    }


@dataclass(frozen=True)
class Count:
    kind: str
    status: str
    n: int
    first_due: datetime


async def counts(conn: asyncpg.Connection, filters: Filters, *, now: datetime) -> list[Count]:
    """How many clocks match, per kind and board status (with the earliest deadline of each)."""
    sql, params = _counts_sql(filters, now)
    return [
        Count(r["kind"], r["board_status"], r["n"], to_london(r["first_due"]))
        for r in await conn.fetch(sql, *params)
    ]


async def clocks(
    conn: asyncpg.Connection, filters: Filters, *, now: datetime, limit: int | None
) -> list[dict[str, Any]]:
    """The matching clocks, soonest deadline first, at most ``limit`` (``None``: every one)."""
    sql, params = _rows_sql(filters, now, limit)
    return [_plain(r) for r in await conn.fetch(sql, *params)]


async def stream(
    conn: asyncpg.Connection, filters: Filters, *, now: datetime, chunk: int = 2000
) -> AsyncIterator[dict[str, Any]]:
    """Every matching clock, soonest first, read through a cursor ``chunk`` rows at a time."""
    sql, params = _rows_sql(filters, now, None)
    if conn.is_in_transaction():  # a cursor lives in a transaction: the caller's, else its own
        async for row in conn.cursor(sql, *params, prefetch=chunk):
            yield _plain(row)
        return
    async with conn.transaction(readonly=True):
        async for row in conn.cursor(sql, *params, prefetch=chunk):
            yield _plain(row)


async def stream_json(
    conn: asyncpg.Connection, filters: Filters, *, now: datetime, chunk: int = 5000
) -> AsyncIterator[str]:
    """Every matching clock as a JSON object (the keys of ``clocks``), written by PostgreSQL.

    ``row_to_json`` in the session's time zone set to Europe/London gives every moment ISO 8601
    with its London offset, so 100,000 clocks are not converted one datetime at a time in Python.
    Must run inside a transaction (``SET LOCAL`` and the cursor live there).
    """
    sql, params = _rows_sql(filters, now, None)
    await conn.execute("SET LOCAL TimeZone = 'Europe/London'")
    wrapped = f"SELECT row_to_json(r)::text AS j FROM ({sql}) r"
    async for row in conn.cursor(wrapped, *params, prefetch=chunk):
        yield row["j"]


async def live_timers(
    conn: asyncpg.Connection,
    *,
    now: datetime,
    kind: str | None = None,
    breaching: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Live clocks (open or breached), soonest first; ``breaching``: due before tonight."""
    from services.common.calendar import end_of_day

    filters = Filters(
        kinds=(kind,) if kind else (),
        due_before=end_of_day(to_london(now).date()) if breaching else None,
    )
    return await clocks(conn, filters, now=now, limit=limit)
