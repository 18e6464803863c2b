"""``frontdoor returns``: Ofsted Annex A lists and the DfE CIN census from the event history.

``annex-a --as-of DATE`` writes lists 1, 3, 4, 5 and 7 (CSV files, or one workbook with
``--format xlsx``) for the six months before DATE (default today), and a CSV of the gaps found.
``cin-census --year YYYY`` writes the census XML for the year ending 31 March YYYY (default the
year in progress) and a CSV of the children left out and the queries; ``--strict`` makes a
left-out child fail the command.
Both read only the ``events`` table, found like every command: ``--database``, else
``DATABASE_URL``, else the running ``frontdoor dev`` stack. Returns need no broker.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from services.cli.options import Database, database_url
from services.common.calendar import LONDON
from services.returns.domain.issues import Issue

returns_app = typer.Typer(
    help="Statutory returns from the event history: Ofsted Annex A and the DfE CIN census.",
    no_args_is_help=True,
)


class RichProgress:
    """The handlers' ``Progress`` drawn as rich bars on standard error."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def stage(self, label: str, total: int | None) -> None:
        for task in self._progress.tasks:  # the previous stage is done: show it full
            if task.id == self._task:
                self._progress.update(task.id, total=task.total or 1, completed=task.total or 1)
        self._task = self._progress.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)


def _bars(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def _issue_table(issues: Iterable[Issue], title: str) -> Table:
    table = Table(title=title)
    for heading in ("severity", "rule", "item", "children"):
        table.add_column(heading)
    counts = Counter((i.severity.value, i.rule or "", i.item.split(" ")[0]) for i in issues)
    for (severity, rule, item), n in sorted(counts.items()):
        table.add_row(severity, rule, item, str(n))
    return table


def _today() -> date:
    """Today in England (a return's dates are Europe/London dates)."""
    return datetime.now(LONDON).date()


@returns_app.command("annex-a")
def annex_a_command(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Inspection date YYYY-MM-DD (excluded) (default: today)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("annex-a"),
    fmt: Annotated[
        Literal["csv", "xlsx"], typer.Option("--format", help="csv (one file per list) or xlsx.")
    ] = "csv",
    database: Database = None,
) -> None:
    """Ofsted Annex A lists 1, 3, 4, 5 and 7 for the six months before --as-of."""
    from services.cli.errors import output_folder, parse_day
    from services.returns.adapters.events import PostgresEventSource
    from services.returns.handlers import export_annex_a

    day = parse_day(as_of, "--as-of") or _today()
    output_folder(out)
    source = PostgresEventSource(database_url(database))
    console = Console(stderr=True)
    started = time.perf_counter()
    with _bars(console) as bars:
        result = asyncio.run(
            export_annex_a(source, as_of=day, out_dir=out, fmt=fmt, progress=RichProgress(bars))
        )
    for annex_list in result.annex.lists:
        console.print(f"List {annex_list.number} ({annex_list.title}): {len(annex_list.rows)} rows")
    if result.annex.issues:
        console.print(_issue_table(result.annex.issues, "Gaps in the history (cells left blank)"))
    console.print(f"wrote {', '.join(str(p) for p in result.files)}; gaps in {result.issues_file}")
    console.print(f"done in {time.perf_counter() - started:.1f} s")


@returns_app.command("cin-census")
def cin_census_command(
    year: Annotated[
        int | None,
        typer.Option(
            "--year", help="Census year ending 31 March YYYY (default: the year in progress)."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output XML file.")] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 1) when any child had to be left out.")
    ] = False,
    database: Database = None,
) -> None:
    """The DfE Children in Need census XML for the year ending 31 March --year."""
    from services.common.calendar import WorkingCalendar
    from services.returns.adapters.events import PostgresEventSource
    from services.returns.config import ReturnsSettings
    from services.returns.handlers import EmptyCensusError, export_cin_census

    if year is None:
        today = _today()
        year = today.year + 1 if today.month > 3 else today.year
    from services.cli.errors import output_file

    target = out or Path(f"cin_census_{year}.xml")
    output_file(target, overwrite=True)  # the year's return is regenerated in place
    source = PostgresEventSource(database_url(database))
    console = Console(stderr=True)
    started = time.perf_counter()
    try:
        with _bars(console) as bars:
            result = asyncio.run(
                export_cin_census(
                    source,
                    year=year,
                    out=target,
                    settings=ReturnsSettings(),
                    made_at=datetime.now().astimezone(),
                    calendar=WorkingCalendar.england_and_wales(),
                    progress=RichProgress(bars),
                )
            )
    except EmptyCensusError as exc:
        console.print(_issue_table(exc.census.issues, "Errors (child left out) and queries"))
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    census = result.census
    console.print(f"{len(census.children)} children in the return, {len(census.left_out)} left out")
    if census.issues:
        console.print(_issue_table(census.issues, "Errors (child left out) and queries"))
    console.print(f"wrote {result.file}; issues in {result.issues_file}")
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    if strict and census.left_out:
        sys.exit(1)


def _mount() -> None:
    from services.cli.inspection import inspection_bundle_command

    returns_app.command("inspection-bundle")(inspection_bundle_command)
    from services.cli.csww import csww_command

    returns_app.command("csww")(csww_command)
    from services.cli.workforce_profile import workforce_profile_command

    returns_app.command("workforce-profile")(workforce_profile_command)


_mount()
