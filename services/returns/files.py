"""Writing returns to disk: Annex A as CSV files or one workbook, and the lists of issues.

CSV: one UTF-8 file per list (``annex_a_list_1_contacts.csv`` …) with the Annex A headings as the
first row, blank cells for items the history lacks. XLSX (openpyxl): one workbook with a sheet
per list named ``List 1`` …, the headings bold, frozen and filtered, dates as real date cells.
Issues — gaps, queries and errors — go to a CSV beside the return (child id, item, severity,
DfE rule, message): ids and item names only, no personal details.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from services.returns.domain.annex_a import AnnexA, AnnexAList, Cell
from services.returns.domain.issues import Issue

ISSUE_HEADINGS = ("child_id", "item", "severity", "rule", "message")
DMY = "%d/%m/%Y"
"""The Annex A date format the lists are written in (``annex_a.dmy``)."""


def list_file_name(annex_list: AnnexAList) -> str:
    slug = annex_list.title.lower().replace(" ", "_").replace("section_47", "s47")
    return f"annex_a_list_{annex_list.number}_{slug}.csv"


def write_annex_a_csv(annex: AnnexA, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for annex_list in annex.lists:
        path = out_dir / list_file_name(annex_list)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(annex_list.headings)
            writer.writerows(["" if c is None else c for c in row] for row in annex_list.rows)
        paths.append(path)
    return paths


def is_date_heading(heading: str) -> bool:
    """Annex A names every date column with the word "date" (``Date of Contact``, ``… Date``)."""
    return "date" in heading.lower()


def _xlsx_cell(value: Cell, is_date: bool) -> Cell | date:
    """A dd/mm/yyyy cell of a date column as a real date (sortable, filterable), else as is."""
    if is_date and isinstance(value, str):
        day, month, year = (int(part) for part in value.split("/"))
        return date(year, month, day)
    return value


def write_annex_a_xlsx(annex: AnnexA, path: Path) -> Path:
    """One sheet per list: bold frozen header, autofilter, real date cells shown dd/mm/yyyy,
    columns as wide as their longest value (capped), so an analyst can sort and filter at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=False)
    book.remove(book.active)  # type: ignore[arg-type]  # a new workbook always has one sheet
    bold = Font(bold=True)
    for annex_list in annex.lists:
        sheet = book.create_sheet(f"List {annex_list.number}")
        headings = annex_list.headings
        dates = [is_date_heading(h) for h in headings]
        sheet.append(list(headings))
        for cell in sheet[1]:
            cell.font = bold
        for row in annex_list.rows:
            sheet.append([_xlsx_cell(v, d) for v, d in zip(row, dates, strict=True)])
        for index, heading in enumerate(headings, start=1):
            letter = get_column_letter(index)
            if dates[index - 1]:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = "dd/mm/yyyy"
            longest = max(
                [len(heading)] + [len(str(r[index - 1])) for r in annex_list.rows if r[index - 1]]
            )
            sheet.column_dimensions[letter].width = min(longest + 2, 60)
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(headings))}{len(annex_list.rows) + 1}"
    book.save(path)
    return path


def write_document(document: bytes, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document)
    return path


def write_issues(issues: Iterable[Issue], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(ISSUE_HEADINGS)
        for i in issues:
            writer.writerow((i.child_id, i.item, i.severity.value, i.rule or "", i.message))
    return path
