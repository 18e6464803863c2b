"""``frontdoor returns inspection-bundle CHILD…``: what the record shows for each tracked child.

For each child id given (inspectors tracked 73 in 2012): the timeline, the allocation history,
the case-supervision entries and management-oversight notes on the child's record, the case
audits, and the supervision compliance of every worker who held the child, as of ``--as-of``
(default now) — folded from the ``events`` table by ``services/workforce/domain/inspection.py``.
Written as one JSON file for the inspection team (``--out``, it holds personal data: the
oversight notes and supervision decisions are the record), a summary per child on the terminal,
or the JSON on standard output with ``--json``. A child frontdoor has no record of is named, not
skipped; exit code 1 when any child had none.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from schemas.envelope import EventBase
from services.cli.errors import output_file, parse_day
from services.cli.options import Database, database_url
from services.common.calendar import LONDON
from services.workforce.domain.inspection import ChildBundle

DIRECTORY_TYPES = (
    "worker.joined",
    "worker.leave_started",
    "worker.leave_ended",
    "supervision.held",
)


async def _read(
    database_url: str, children: list[str], before: datetime
) -> tuple[dict[str, list[EventBase]], list[EventBase]]:
    import asyncpg
    import orjson

    from schemas.events.workforce import DIRECTORY_KEY
    from schemas.registry import parse_event

    conn = await asyncpg.connect(database_url)
    try:
        mine = await conn.fetch(
            "SELECT child_id, body::text AS body FROM events WHERE child_id = ANY($1::text[])"
            " AND occurred_at < $2 ORDER BY child_id, occurred_at, event_id",
            children,
            before,
        )
        directory = await conn.fetch(
            "SELECT body::text AS body FROM events WHERE child_id = $1"
            " AND event_type = ANY($2::text[]) AND occurred_at < $3 ORDER BY occurred_at, event_id",
            DIRECTORY_KEY,
            list(DIRECTORY_TYPES),
            before,
        )
    finally:
        await conn.close()
    by_child: dict[str, list[EventBase]] = defaultdict(list)
    for r in mine:
        by_child[r["child_id"]].append(parse_event(orjson.loads(r["body"])))
    return by_child, [parse_event(orjson.loads(r["body"])) for r in directory]


def _summary(bundles: list[ChildBundle], missing: list[str]) -> Table:
    table = Table(title="Inspection bundle")
    for column in (
        "child",
        "events",
        "worker",
        "allocations",
        "case sup.",
        "audits",
        "supervision",
    ):
        table.add_column(column)
    for b in bundles:
        current = b.current_worker
        compliance = next((w for w in b.workers if w.worker_id == current), None)
        sup = "—" if compliance is None else f"{compliance.status}, next {compliance.next_due}"
        table.add_row(b.child_id, str(len(b.timeline)), current or "unallocated",
                      str(len(b.allocations)), str(len(b.case_supervision)), str(len(b.audits)),
                      sup)  # fmt: skip
    for child in missing:
        table.add_row(child, "0", "no record in frontdoor", "", "", "", "")
    return table


def inspection_bundle_command(
    children: Annotated[list[str], typer.Argument(help="Child ids (LAchildID), one or more.")],
    *,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="As of YYYY-MM-DD, the start of that day (default: now)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="The JSON file to write.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The JSON on standard output.")] = False,
    database: Database = None,
) -> None:
    """Per child: timeline, allocations, case supervision, audits, the worker's supervision."""

    from services.common.calendar import WorkingCalendar
    from services.workforce.domain.inspection import bundle_for
    from services.workforce.domain.profiles import ProfileError
    from services.workforce.policies import load_profiles

    day = parse_day(as_of, "--as-of")
    moment = datetime.combine(day, datetime.min.time(), LONDON) if day else datetime.now(LONDON)
    target = out or Path(f"inspection-bundle-{moment:%Y-%m-%d}.json")
    if not as_json:
        output_file(target)
    url = database_url(database)
    try:
        book = load_profiles()
    except ProfileError as exc:
        raise typer.BadParameter(str(exc), param_hint="FRONTDOOR_WORKFORCE_PROFILES_FILE") from None
    by_child, directory = asyncio.run(_read(url, sorted(set(children)), moment))
    calendar = WorkingCalendar.england_and_wales()
    wanted = list(dict.fromkeys(children))
    bundles = [
        bundle_for(c, by_child[c], directory, as_of=moment, book=book, calendar=calendar)
        for c in wanted
        if c in by_child
    ]
    missing = [c for c in wanted if c not in by_child]
    document = {
        "as_of": moment.isoformat(),
        "children": [b.model_dump(mode="json") for b in bundles],
        "no_record": missing,
    }
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    else:
        target.write_text(json.dumps(document, indent=2), encoding="utf-8")
        target.chmod(0o600)  # it holds the record: oversight notes, supervision decisions
        console = Console()
        console.print(_summary(bundles, missing))
        console.print(f"wrote {target} ({len(bundles)} of {len(wanted)} children)")
    if missing:
        typer.secho(
            f"{len(missing)} of {len(wanted)} children have no record in frontdoor: "
            + ", ".join(missing[:10]) + (" …" if len(missing) > 10 else ""),
            fg="yellow", err=True,
        )  # fmt: skip
        raise typer.Exit(1)
