"""The workforce profile as one workbook for inspectors: Teams, Workers and Gaps sheets.

Each sheet has a bold header row, frozen and filtered; dates are real date cells (dd/mm/yyyy),
FTE and points real numbers; a team's name is indented by its depth in the tree. An item the
history lacks is a blank cell, and the Gaps sheet says which (team or worker, the item, why).
Ids, roles and SWE numbers only — no names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from services.workforce.domain.profile import WorkforceProfile

Value = str | int | bool | Decimal | date | None

TEAM_HEADINGS = ("Team", "Team name", "Manager", "Parent team", "Headcount", "FTE",
                 "Agency headcount", "Agency FTE", "NQSW headcount", "Establishment FTE",
                 "Vacancies FTE", "Children allocated", "DfE caseload per FTE")  # fmt: skip
WORKER_HEADINGS = ("Worker", "Team", "Role", "CSWW OrgRole", "FTE", "Agency worker", "NQSW",
                   "ASYE", "Employment start date", "Case holder", "On long leave since date",
                   "SWE number", "Cases", "CP cases not co-worked (NQSW)", "Weighted load",
                   "Cap", "Over cap", "Last supervision date", "Next supervision date",
                   "Supervision status", "Sessions flagged (not counted)")  # fmt: skip
GAP_HEADINGS = ("Kind", "Id", "Item and reason")


def _sheet(book: Workbook, title: str, headings: Sequence[str], rows: list[list[Value]]) -> None:
    sheet: Worksheet = book.create_sheet(title)
    sheet.append(list(headings))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(["yes" if v is True else "no" if v is False else v for v in row])
    for index, heading in enumerate(headings, start=1):
        column = get_column_letter(index)
        if "date" in heading.lower():
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "dd/mm/yyyy"
        widest = max([len(heading), *(len(str(r[index - 1])) for r in rows)])
        sheet.column_dimensions[column].width = min(widest + 2, 50)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headings))}{len(rows) + 1}"


def write_profile_xlsx(profile: WorkforceProfile, path: Path) -> Path:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]  # a new workbook always has one sheet
    teams: list[list[Value]] = [
        [
            t.team_id,
            "  " * t.depth + t.name,
            t.manager_id,
            t.parent_team_id,
            t.headcount,
            t.fte,
            t.agency_headcount,
            t.agency_fte,
            t.nqsw_headcount,
            t.establishment_fte,
            t.vacancies_fte,
            t.children,
            t.dfe_caseload,
        ]
        for t in profile.teams
    ]
    workers: list[list[Value]] = [
        [
            w.worker_id,
            w.team_id,
            w.role,
            w.org_role,
            w.fte,
            w.agency_worker,
            w.newly_qualified,
            w.asye,
            w.employed_from,
            w.case_holder,
            w.on_leave_since,
            w.swe_number,
            w.cases,
            w.cp_not_co_worked,
            w.weighted_load,
            w.cap,
            w.over_cap,
            w.last_supervision,
            w.next_supervision,
            w.supervision_status,
            w.flagged_sessions,
        ]
        for w in profile.workers
    ]
    gaps: list[list[Value]] = [["team", t.team_id, g] for t in profile.teams for g in t.gaps]
    gaps += [["worker", w.worker_id, g] for w in profile.workers for g in w.gaps]
    _sheet(book, "Teams", TEAM_HEADINGS, teams)
    _sheet(book, "Workers", WORKER_HEADINGS, workers)
    _sheet(book, "Gaps", GAP_HEADINGS, gaps)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
