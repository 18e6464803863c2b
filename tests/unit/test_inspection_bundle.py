"""The inspection bundle (issue 13 §6): per child the timeline, allocations, case supervision,
oversight, audits and the worker's supervision compliance, computed by hand here (DOMAIN.md §7:
experienced worker at least monthly, sessions of 1½ hours uninterrupted)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from schemas.envelope import EventBase
from schemas.registry import parse_event
from services.common.calendar import WorkingCalendar
from services.workforce.domain.inspection import bundle_for
from services.workforce.policies import load_profiles
from tests.factories import envelope

AS_OF = datetime(2025, 6, 2, tzinfo=UTC)
CAL = WorkingCalendar.england_and_wales(2024, 2026)


def ev(event_type: str, payload: dict[str, Any], *, child: str, at: datetime) -> EventBase:
    return parse_event(envelope(event_type, 1, payload, child=child, at=at))


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def session(on: datetime, minutes: int, *, interrupted: bool = False, child: str | None = None,
            decision: str | None = None) -> EventBase:  # fmt: skip
    children = [{"child_id": child, "decision": decision}] if child else []
    payload = {"worker_id": "W1", "supervisor_id": "M1", "kind": "case",
               "started_at": on.isoformat(), "duration_minutes": minutes,
               "interrupted": interrupted, "children": children}  # fmt: skip
    return ev("supervision.held", payload, child="workforce", at=on)


def directory() -> list[EventBase]:
    joined = {"worker_id": "W1", "team_id": "T1", "role": "case_holder", "fte": "1.0",
              "employed_from": "2024-09-02"}  # fmt: skip
    return [
        ev("worker.joined", joined, child="workforce", at=at(2024, 9, 2)),
        session(at(2025, 3, 3), 90, child="C1", decision="Visit weekly until the review"),
        session(at(2025, 4, 7), 60),  # short: flagged, not counted
        session(at(2025, 5, 6), 120, interrupted=True, child="C1"),  # interrupted: flagged
        session(at(2024, 11, 4), 90, child="OTHER"),  # older than six months, another child
    ]


def child_events() -> list[EventBase]:
    allocated = {"worker_id": "W1", "team_id": "T1", "allocated_at": at(2025, 1, 6).isoformat(),
                 "case_type": "cp"}  # fmt: skip
    note = {"manager_id": "M1", "recorded_at": at(2025, 2, 3).isoformat(),
            "note": "Plan on track; core group attendance good."}  # fmt: skip
    audit = {"audit_id": str(uuid.uuid4()), "auditor_id": "M2",
             "completed_at": at(2025, 4, 10).isoformat(), "tool": "practice-standards-v2",
             "grade": "good", "actions": [{"action_id": "A1", "owner_id": "W1",
             "due_on": "2025-05-01", "action": "Update the chronology."}]}  # fmt: skip
    return [
        ev("child.allocated", allocated, child="C1", at=at(2025, 1, 6)),
        ev("oversight.recorded", note, child="C1", at=at(2025, 2, 3)),
        ev("audit.completed", audit, child="C1", at=at(2025, 4, 10)),
    ]


def bundle() -> Any:
    return bundle_for("C1", child_events(), directory(), as_of=AS_OF, book=load_profiles(),
                      calendar=CAL)  # fmt: skip


def test_the_bundle_lists_the_childs_record_in_event_time_order() -> None:
    b = bundle()
    assert [t.event_type for t in b.timeline] == [
        "child.allocated", "oversight.recorded", "audit.completed",
    ]  # fmt: skip
    assert b.timeline[0].what == "child allocated (case_type cp, team_id T1, worker_id W1)"
    assert b.current_worker == "W1"
    assert [(a.change, a.worker_id, a.case_type) for a in b.allocations] == [
        ("allocated", "W1", "cp")
    ]
    assert [o.manager_id for o in b.oversight] == ["M1"]
    assert [(a.stage, a.grade, a.actions) for a in b.audits] == [("completed", "good", 1)]


def test_case_supervision_entries_are_the_sessions_that_discussed_this_child() -> None:
    entries = bundle().case_supervision
    assert [(e.at.date(), e.minutes, e.interrupted) for e in entries] == [
        (date(2025, 3, 3), 90, False),
        (date(2025, 5, 6), 120, True),
    ]
    assert entries[0].decision == "Visit weekly until the review"


def test_the_workers_supervision_compliance_is_computed_by_the_profile_in_force() -> None:
    (w,) = bundle().workers
    # LGA 2020 (in force 2012-09-01 … 2027-09-01): experienced worker monthly, ≥ 90 minutes,
    # uninterrupted. Six months before 2 June 2025: 3 Mar (90 min, counts), 7 Apr (60: short),
    # 6 May (interrupted); 4 Nov 2024 is older. Next due one month after the last counted
    # session: Thu 3 Apr 2025, a working day — long passed on 2 June: overdue.
    assert w.profile == "lga2020"
    assert (w.sessions_in_six_months, w.counted_in_six_months) == (3, 1)
    assert w.flagged == {"short": 1, "interrupted": 1}
    assert w.last_counted == date(2025, 3, 3)
    assert w.next_due == date(2025, 4, 3)
    assert w.status == "overdue"


def test_a_worker_missing_from_the_directory_is_said_so_not_guessed() -> None:
    b = bundle_for("C1", child_events(), [], as_of=AS_OF, book=load_profiles(), calendar=CAL)
    (w,) = b.workers
    assert w.status == "worker not in the directory"
    assert w.next_due is None
