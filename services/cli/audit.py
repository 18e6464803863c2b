"""``frontdoor audit sample``: which case files to audit, drawn reproducibly from the history.

Reads only the ``events`` table (teams, allocations, completed audits), folds it as of
``--as-of`` (default today) and draws a sample (``services/returns/domain/audit_sample.py``):
``random``, ``quota`` (each team manager, files of other teams), ``thematic`` (one case type)
or ``stratified`` (team × stage). The same history, date, seed and options always give the same
files. A table on a terminal, ``--json`` for a script; one-line errors, exit code 2 for usage,
1 for a database that cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from schemas.envelope import EventBase
from services.cli.errors import parse_day
from services.cli.options import Database, database_url
from services.common.calendar import LONDON
from services.returns.domain.audit_sample import (
    Mode,
    Pick,
    Pool,
    SampleError,
    as_of_start,
    audit_pool,
    draw,
)

audit_app = typer.Typer(no_args_is_help=True, help="Case-file audits: reproducible samples.")


async def _history(database_url: str, before: datetime) -> list[EventBase]:
    import asyncpg
    import orjson

    from schemas.registry import parse_event
    from services.returns.domain.audit_sample import SAMPLE_EVENT_TYPES

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT body::text AS body FROM events WHERE event_type = ANY($1::text[])"
            " AND occurred_at < $2 ORDER BY occurred_at, event_id",
            list(SAMPLE_EVENT_TYPES),
            before,
        )
    finally:
        await conn.close()
    return [parse_event(orjson.loads(r["body"])) for r in rows]


def sample_json(pool: Pool, picks: tuple[Pick, ...], *, mode: Mode, seed: int) -> dict[str, object]:
    return {
        "as_of": pool.as_of.isoformat(),
        "mode": mode.value,
        "seed": seed,
        "pool": len(pool.files),
        "excluded_audited_in_last_12_months": len(pool.excluded),
        "sample": [
            {
                "child_id": p.file.child_id,
                "team_id": p.file.team_id,
                "worker_id": p.file.worker_id,
                "stage": p.file.stage,
                "allocated_since": p.file.allocated_since.isoformat(),
                "last_audited": p.file.last_audited.isoformat() if p.file.last_audited else None,
                "auditor_id": p.auditor_id,
                "stratum": p.stratum,
            }
            for p in picks
        ],
    }


@audit_app.command("sample")
def sample_command(
    *,
    mode: Annotated[
        Mode, typer.Option("--mode", help="random, quota (per manager), thematic, stratified.")
    ] = Mode.RANDOM,
    size: Annotated[int, typer.Option("--size", help="Files to draw (not for quota).")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="The same seed draws the same files.")] = 1,
    theme: Annotated[
        str | None, typer.Option("--theme", help="Case type for a thematic sample (cp, cin …).")
    ] = None,
    per_manager: Annotated[
        int, typer.Option("--per-manager", help="Files per team manager (quota).")
    ] = 2,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Sample as of YYYY-MM-DD (default: today).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    database: Database = None,
) -> None:
    """A reproducible sample of case files to audit, never one audited in the last 12 months."""
    day = parse_day(as_of, "--as-of") or datetime.now(LONDON).date()
    start = as_of_start(day)
    events = asyncio.run(_history(database_url(database), start))  # unreachable: errors.run
    pool = audit_pool(events, as_of=start)
    try:
        picks = draw(pool, mode=mode, seed=seed, size=size, theme=theme, per_manager=per_manager)
    except SampleError as exc:
        raise typer.BadParameter(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(sample_json(pool, picks, mode=mode, seed=seed), indent=2))
        return
    table = Table(
        title=f"Audit sample ({mode.value}, seed {seed}) as of {day:%d %b %Y}",
        caption=(
            f"{len(picks)} of {len(pool.files)} files; "
            f"{len(pool.excluded)} audited in the last 12 months left out"
        ),
    )
    for column in ("child", "team", "worker", "stage", "auditor"):
        table.add_column(column)
    for p in picks:
        f = p.file
        table.add_row(f.child_id, f.team_id, f.worker_id, f.stage, p.auditor_id or "—")
    Console().print(table)
