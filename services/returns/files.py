"""Writing returns to disk: Annex A as CSV files or one workbook, and the lists of issues.

CSV: one UTF-8 file per list (``annex_a_list_1_contacts.csv`` …) with the Annex A headings as the
first row, blank cells for items the history lacks. XLSX (openpyxl): one workbook with a sheet
per list named ``List 1`` … and the headings in bold. Issues — gaps, queries and errors — go to
a CSV beside the return (child id, item, severity, DfE rule, message): ids and item names only,
no personal details.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from services.returns.domain.annex_a import AnnexA, AnnexAList
from services.returns.domain.issues import Issue

ISSUE_HEADINGS = ("child_id", "item", "severity", "rule", "message")


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


def write_annex_a_xlsx(annex: AnnexA, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=False)
    book.remove(book.active)  # type: ignore[arg-type]  # a new workbook always has one sheet
    bold = Font(bold=True)
    for annex_list in annex.lists:
        sheet = book.create_sheet(f"List {annex_list.number}")
        sheet.append(list(annex_list.headings))
        for cell in sheet[1]:
            cell.font = bold
        for row in annex_list.rows:
            sheet.append(list(row))
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
