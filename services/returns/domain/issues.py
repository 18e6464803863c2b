"""What an export has to say about a child it could not report cleanly.

An ``Issue`` names the child, the item (``ethnicity``, ``date of birth``, ``assessment 2024-05-01``
…), the DfE validation rule it corresponds to when there is one (the same code the DfE validator
prints, e.g. ``8608`` or ``8770Q``), and a severity: an ``error`` is something the DfE would
reject — the CIN census leaves that child out and lists it; a ``query`` is something the DfE
asks the council to confirm — the child stays in and the query is listed; a ``gap`` is an item
the history lacks for an Ofsted Annex A list — the cell stays blank and the gap is listed. No
issue ever turns into an invented value. Issues carry ids and item names, never personal data.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    ERROR = "error"
    QUERY = "query"
    GAP = "gap"


class Issue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    child_id: str
    item: str
    severity: Severity
    message: str
    rule: str | None = None

    def describe(self) -> str:
        rule = f" [rule {self.rule}]" if self.rule else ""
        return f"{self.child_id}: {self.item}{rule} — {self.message}"


def error(child_id: str, rule: str, item: str, message: str) -> Issue:
    return Issue(child_id=child_id, rule=rule, item=item, severity=Severity.ERROR, message=message)


def query(child_id: str, rule: str, item: str, message: str) -> Issue:
    return Issue(child_id=child_id, rule=rule, item=item, severity=Severity.QUERY, message=message)


def gap(child_id: str, item: str, message: str, rule: str | None = None) -> Issue:
    return Issue(child_id=child_id, rule=rule, item=item, severity=Severity.GAP, message=message)
