"""The CSWW census (DfE, 2022 specification): one record per worker for the year to 30 September.

Folded from the workforce events of the history (``worker.joined`` / ``changed`` / ``left``,
leave, allocations, ASYE) as of the reference date. Invariants: nothing is invented — a missing
mandatory item is an issue naming the worker and the item, and that worker is left out; the
export's own ``check`` applies liiatools' workforce rules (read from
``liiatools/datasets/social_work_workforce/SWFtools/dataprocessing/validation/validator.py``,
re-run here because that module needs ``xmlschema``, which is not installed): mandatory tags for
non-agency workers, ``StartOrigin`` exactly when ``RoleStartDate``, a leaver's ``FTE`` is 0 and
a leaver (only) has ``ReasonLeave`` and ``LeaverDestination``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from schemas.envelope import LONDON, EventBase
from schemas.events.workforce import Role

NON_AGENCY_MANDATORY = (
    "PersonBirthDate",
    "GenderCurrent",
    "Ethnicity",
    "QualInst",
    "StepUpGrad",
    "OrgRole",
    "RoleStartDate",
    "StartOrigin",
    "FTE30",
    "WorkingDaysLost",
    "FrontlineGrad",
)


@dataclass
class _Worker:
    joined: Any
    role: Role
    fte: Decimal
    left: Any = None
    leaves: list[tuple[date, date | None, str]] = field(default_factory=list)
    asye: tuple[date, date | None] | None = None


def _fte(value: Decimal) -> str:
    return f"{value:.6f}"


def worker_records(  # noqa: PLR0912, PLR0915 - one fold of the history, read top to bottom
    events: list[EventBase], year: int
) -> tuple[list[dict[str, str]], list[str]]:
    """(records in XSD order, issues) for the census year ending 30 September ``year``."""
    start, ref = date(year - 1, 10, 1), date(year, 9, 30)
    workers: dict[str, _Worker] = {}
    cases: dict[str, str] = {}  # child → worker holding it at the reference date
    for e in sorted(events, key=lambda e: (e.occurred_at, str(e.event_id))):
        p: Any = e.payload
        day = e.occurred_at.astimezone(LONDON).date()
        if day > ref:
            continue
        w = workers.get(getattr(p, "worker_id", ""))
        match e.event_type:
            case "worker.joined":
                workers[p.worker_id] = _Worker(p, p.role, p.fte)
            case "worker.changed" if w is not None:
                w.role, w.fte = p.role or w.role, p.fte if p.fte is not None else w.fte
            case "worker.left" if w is not None:
                w.left = p
            case "worker.leave_started" if w is not None:
                w.leaves.append((p.starts_on, None, p.reason.value))
            case "worker.leave_ended" if w is not None and w.leaves:
                s, _, r = w.leaves[-1]
                w.leaves[-1] = (s, p.returned_on, r)
            case "asye.started" if w is not None:
                w.asye = (p.starts_on, None)
            case "asye.completed" if w is not None and w.asye:
                w.asye = (w.asye[0], p.completed_on)
            case "child.allocated" | "child.reallocated":
                cases[e.subject.child_id] = p.worker_id
            case "child.unallocated":
                cases.pop(e.subject.child_id, None)
    records, issues = [], []
    for wid, w in sorted(workers.items()):
        j = w.joined
        if j.employed_from > ref or (w.left is not None and w.left.left_on < start):
            continue
        if j.swe_number is None:
            issues.append(f"worker {wid}: SWENo is not in the history (mandatory); left out")
            continue
        leaver = w.left is not None
        rec: dict[str, str] = {
            "AgencyWorker": "1" if j.agency_worker else "0",
            "SWENo": j.swe_number.upper(),
            "FTE": _fte(Decimal(0) if leaver else w.fte),
        }
        c = j.census
        if c is not None:
            for tag, value in (
                ("PersonBirthDate", c.birth_date),
                ("GenderCurrent", c.gender),
                ("Ethnicity", c.ethnicity),
                ("QualInst", c.qualification_institution),
                ("QualLevel", c.qualification_level),
                ("StepUpGrad", c.step_up_graduate),
            ):
                if value is not None:
                    rec[tag] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        rec["OrgRole"] = str(w.role.org_role)
        rec["RoleStartDate"] = j.employed_from.isoformat()
        if j.start_origin is not None:
            rec["StartOrigin"] = j.start_origin.value
        if leaver:
            rec["RoleEndDate"] = w.left.left_on.isoformat()
            if w.left.destination is not None:
                rec["LeaverDestination"] = w.left.destination.value
            rec["ReasonLeave"] = w.left.reason.value
        rec["FTE30"] = _fte(Decimal(0) if leaver else w.fte)
        rec["Cases30"] = str(sum(1 for held in cases.values() if held == wid))
        lost = sum(
            max(0, ((b or ref) - max(a, start)).days + (0 if b else 1))
            for a, b, _ in w.leaves
            if (b is None or b > start) and a <= ref
        )
        rec["WorkingDaysLost"] = f"{lost:.2f}"
        if c is not None and c.frontline_graduate is not None:
            rec["FrontlineGrad"] = "1" if c.frontline_graduate else "0"
        away = [r for a, b, r in w.leaves if a <= ref and (b is None or b > ref)]
        rec["Absat30Sept"] = "1" if away and not leaver else "0"
        if away and not leaver:
            rec["ReasonAbsence"] = away[0]
        if w.asye is not None and w.asye[0] <= ref and (w.asye[1] is None or w.asye[1] > ref):
            rec["CFKSSstatus"] = "1"
        problems = check(rec)
        if problems:
            issues.extend(f"worker {wid}: {p}" for p in problems)
            continue
        records.append(rec)
    return records, issues


def check(rec: dict[str, str]) -> list[str]:
    """liiatools' workforce rules on one record; each problem names the tag and the rule."""
    out = []
    if rec.get("AgencyWorker") != "1":
        out += [
            f"{t}: mandatory for a non-agency worker, not in the history"
            for t in NON_AGENCY_MANDATORY
            if t not in rec
        ]
    elif "QualInst" not in rec:  # the 2022 XSD asks every worker's (minOccurs 1), agency too
        out.append("QualInst: mandatory for every worker (the XSD), not in the history")
    if ("RoleStartDate" in rec) != ("StartOrigin" in rec):
        out.append("StartOrigin: present exactly when RoleStartDate is")
    leaver = "RoleEndDate" in rec
    if leaver and Decimal(rec.get("FTE", "0")) != 0:
        out.append("FTE: must be 0 for leavers")
    for tag in ("ReasonLeave", "LeaverDestination"):
        if leaver != (tag in rec):
            out.append(f"{tag}: {'mandatory for' if leaver else 'unexpected except for'} leavers")
    return out
