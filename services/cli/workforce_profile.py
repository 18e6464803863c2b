"""``frontdoor returns workforce-profile``: the organisational structure and workforce profile.

What inspectors asked for within 24 hours in 2012 (DOMAIN.md §7), as the history stood at the
end of ``--as-of`` (default today, Europe/London): the team tree (team, manager, parent) with
headcount, FTE, agency headcount and FTE, NQSWs, vacancies and the DfE caseload per team, and per
worker in post the role, FTE, agency flag, NQSW / ASYE, cases, weighted load against the cap,
last and next supervision — folded from the ``events`` table by
``services/workforce/domain/profile.py``. An item the history lacks is left blank and named per
worker or team (the Gaps sheet; ``gaps`` in JSON), never invented. Written as an xlsx workbook
(``--out``, mode 0600) with a summary on the terminal, or the JSON on standard output with
``--json``. A bad option or an unreachable database is one line and exit code 2.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.cli.errors import output_file, parse_day
from services.cli.options import Database, database_url
from services.common.calendar import LONDON
from services.workforce.domain.profile import WorkforceProfile


def _teams_table(profile: WorkforceProfile) -> Table:
    table = Table(title=f"Workforce profile at the end of {profile.as_of:%d/%m/%Y}")
    for heading in ("team", "manager", "in post", "FTE", "agency", "NQSW", "vacant FTE",
                    "per FTE", "gaps"):  # fmt: skip
        table.add_column(heading)
    for t in profile.teams:
        table.add_row(
            "  " * t.depth + t.team_id, t.manager_id or "—", str(t.headcount), str(t.fte),
            f"{t.agency_headcount} ({t.agency_fte} FTE)", str(t.nqsw_headcount),
            "—" if t.vacancies_fte is None else str(t.vacancies_fte),
            "—" if t.dfe_caseload is None else str(t.dfe_caseload), str(len(t.gaps)),
        )  # fmt: skip
    return table


def workforce_profile_command(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The day YYYY-MM-DD, as at its end (default: today)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="The xlsx file to write.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The JSON on standard output.")] = False,
    database: Database = None,
) -> None:
    """The team tree and per-worker workforce profile inspectors ask for (xlsx or --json)."""

    from services.common.calendar import WorkingCalendar
    from services.workforce.adapters.history import read_workforce_history
    from services.workforce.adapters.profile_xlsx import write_profile_xlsx
    from services.workforce.domain.profile import workforce_profile
    from services.workforce.domain.profiles import ProfileError
    from services.workforce.policies import load_profiles

    day = parse_day(as_of, "--as-of") or datetime.now(LONDON).date()
    target = out or Path(f"workforce-profile-{day:%Y-%m-%d}.xlsx")
    if not as_json:
        if target.suffix.lower() != ".xlsx":
            raise typer.BadParameter(f"{str(target)!r} must end in .xlsx", param_hint="--out")
        output_file(target)
    url = database_url(database)
    try:
        book = load_profiles()
    except ProfileError as exc:
        raise typer.BadParameter(str(exc), param_hint="FRONTDOOR_WORKFORCE_PROFILES_FILE") from None
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), LONDON)
    history = asyncio.run(read_workforce_history(url, end))  # unreachable: one line, errors.run
    profile = workforce_profile(
        history, as_of=day, book=book, calendar=WorkingCalendar.england_and_wales()
    )
    if as_json:
        typer.echo(json.dumps(profile.model_dump(mode="json"), indent=2))
        return
    write_profile_xlsx(profile, target)
    target.chmod(0o600)  # SWE registration numbers and supervision records
    gaps = sum(len(t.gaps) for t in profile.teams) + sum(len(w.gaps) for w in profile.workers)
    console = Console()
    console.print(_teams_table(profile))
    console.print(
        f"wrote {target}: {len(profile.teams)} teams, {profile.headcount} workers in post "
        f"({profile.agency_headcount} agency), {gaps} items not in the history (Gaps sheet)"
    )
