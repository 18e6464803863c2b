"""``frontdoor workforce``: teams, workers, caseloads, supervision and NQSW protections.

Read-only over the workforce service's tables: per team its manager, parent and DfE caseload
(children ÷ FTE of case-holding workers); per worker role, FTE, NQSW, open cases, weighted load
against the cap of the profile in force today, last counted and next supervision, and the NQSW
protections (child protection cases without a co-worker, over the cap); then every overdue
workforce clock (supervision, ASYE review, case oversight, referral → allocation; unallocated
children oldest first). ``--team`` keeps one team; an unknown team is a one-line error with exit
code 2. A table on a terminal, ``--json`` for a script. The queries and the folding are the
workforce service's read model (``services/workforce/adapters/summary.py``), which the ops
dashboard's workforce section reads too.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from services.common.settings import Endpoints
from services.workforce.adapters.summary import london_day, read_rows, summarise


class WorkforceUsageError(ValueError):
    """A bad option: one line for the user."""


async def fetch(endpoints: Endpoints, *, now: datetime, team: str | None) -> dict[str, Any]:
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        rows = await read_rows(conn, now=now)
    finally:
        await conn.close()
    if team is not None and team not in {t["team_id"] for t in rows.teams}:
        raise WorkforceUsageError(
            f"no team {team!r} in the workforce directory; see `frontdoor workforce`"
        )
    return summarise(rows, today=london_day(now), team=team)


def print_summary(data: dict[str, Any]) -> None:
    console = Console()
    teams = Table(title=f"Teams (profile {data['profile']}, {data['as_of']})")
    for col in ("team", "manager", "parent", "children", "FTE", "DfE caseload"):
        teams.add_column(col)
    for t in data["teams"]:
        teams.add_row(
            t["team_id"],
            t["manager_id"] or "—",
            t["parent_team_id"] or "—",
            str(t["children"]),
            t["case_holding_fte"],
            (t["dfe_caseload"] or "—") + (" implausible" if t["implausible"] else ""),
        )
    console.print(teams)
    workers = Table(title="Workers")
    for col in (
        "worker",
        "team",
        "role",
        "FTE",
        "NQSW",
        "cases",
        "load/cap",
        "last supervision",
        "next supervision",
        "protections",
    ):
        workers.add_column(col)
    for w in data["workers"]:
        flags = []
        if w["over_cap"]:
            flags.append("over cap")
        if w["nqsw_cp_not_co_worked"]:
            flags.append(f"{w['nqsw_cp_not_co_worked']} CP not co-worked")
        workers.add_row(
            w["worker_id"],
            w["team_id"],
            w["role"],
            w["fte"],
            "yes" if w["nqsw"] else "",
            str(w["cases"]),
            f"{w['weighted_load']}/{w['cap']}",
            (w["last_supervision"] or "—")[:10],
            (w["next_supervision"] or "—")[:10],
            ", ".join(flags),
            style="red" if flags else "",
        )
    console.print(workers)
    overdue = Table(
        title=f"{len(data['overdue'])} overdue (unallocated children first, oldest first)"
    )
    for col in ("kind", "worker / child", "team", "due"):
        overdue.add_column(col)
    for o in data["overdue"]:
        overdue.add_row(o["kind"], o["subject_ref"], o["team"] or "—", (o["due_at"] or "")[:16])
    console.print(overdue)


def workforce_command(endpoints: Endpoints, *, as_json: bool, team: str | None) -> None:
    try:
        data = asyncio.run(fetch(endpoints, now=datetime.now(UTC), team=team))
    except WorkforceUsageError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        print_summary(data)
