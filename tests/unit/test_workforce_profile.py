"""The inspectors' workforce profile, hand-computed for a small service as of 30 September 2025.

CSC (a service, no establishment recorded) holds team T1 (manager M1, 4.0 FTE established).
In post on the day: M1 (manager, 1.0), W1 (experienced, 1.0: CP 1.5 + CIN 1 = 2.5 points, its
third child unallocated on 20 Sep, a fourth allocated on 1 Oct not yet held; a change to 0.6
FTE from 1 Oct not yet in force), N1 (NQSW at 0.5 FTE: cap 22 × 0.5 × 0.9 = 9.9, one CP case
without a co-worker, one 60-minute session: flagged, not counted, no ASYE start recorded) and
A1 (agency, 0.8 FTE, no SWE number). L1 left on 31 Aug; F1 starts on 6 Oct. T1: 4 in post,
3.3 FTE, own 2.5 → 1.5 FTE vacant; 3 children over 2.3 case-holding FTE = 1.30 per FTE.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.registry import parse_event
from services.common.calendar import WorkingCalendar
from services.workforce.domain.profile import workforce_profile
from services.workforce.policies import load_profiles
from tests.factories import envelope

BOOK, CAL = load_profiles(), WorkingCalendar.england_and_wales()
JOIN = datetime(2025, 1, 6, 9, tzinfo=UTC)


def _dir(event_type: str, payload: dict[str, Any], at: datetime = JOIN) -> Any:
    return parse_event(envelope(event_type, 1, payload, child="workforce", at=at))


def _joined(worker: str, employed_from: str, **more: Any) -> Any:
    payload = {"worker_id": worker, "team_id": "T1", "role": "case_holder", "fte": "1",
               "employed_from": employed_from, "swe_number": "SW0000000001", **more}  # fmt: skip
    return _dir("worker.joined", payload)


def _allocated(child: str, worker: str, case_type: str, at: datetime) -> Any:
    payload = {"worker_id": worker, "team_id": "T1", "allocated_at": at.isoformat(),
               "case_type": case_type}  # fmt: skip
    return parse_event(envelope("child.allocated", 1, payload, child=child, at=at))


def _history() -> list[Any]:
    sep = datetime(2025, 9, 2, 10, tzinfo=UTC)
    october = datetime(2025, 10, 1, 10, tzinfo=UTC)
    return [
        _dir("team.recorded", {"team_id": "CSC", "name": "Children's services",
                               "manager_id": "S1"}, at=JOIN - timedelta(days=2)),
        _dir("team.recorded", {"team_id": "T1", "name": "Assessment 1", "manager_id": "M1",
                               "parent_team_id": "CSC", "establishment_fte": "4"},
             at=JOIN - timedelta(days=1)),
        _joined("Z1", "2024-01-01", team_id="NOPE"),
        _allocated("C9", "W9", "cin", sep),
        _joined("M1", "2024-01-01", role="first_line_manager", case_holder=False),
        _joined("W1", "2024-01-01"),
        _joined("N1", "2025-09-01", fte="0.5", newly_qualified=True, swe_number=None),
        _joined("A1", "2025-06-01", fte="0.8", agency_worker=True, swe_number=None),
        _joined("L1", "2024-01-01"),
        _joined("F1", "2025-10-06"),
        _dir("worker.left", {"worker_id": "L1", "left_on": "2025-08-31", "reason": "1"},
             at=datetime(2025, 8, 29, 9, tzinfo=UTC)),
        _dir("worker.changed", {"worker_id": "W1", "effective_from": "2025-10-01", "fte": "0.6"},
             at=datetime(2025, 9, 15, 9, tzinfo=UTC)),
        _dir("supervision.held", {"worker_id": "W1", "supervisor_id": "M1",
                                  "kind": "professional", "duration_minutes": 90,
                                  "started_at": "2025-09-10T09:00:00+01:00"},
             at=datetime(2025, 9, 10, 11, tzinfo=UTC)),
        _dir("supervision.held", {"worker_id": "N1", "supervisor_id": "M1",
                                  "kind": "professional", "duration_minutes": 60,
                                  "started_at": "2025-09-08T09:00:00+01:00"},
             at=datetime(2025, 9, 8, 11, tzinfo=UTC)),
        _allocated("C1", "W1", "cp", sep),
        _allocated("C2", "W1", "cin", sep),
        _allocated("C3", "W1", "cin", sep),
        parse_event(envelope("child.unallocated", 1, {
            "worker_id": "W1", "unallocated_at": "2025-09-20T10:00:00+01:00",
            "reason": "case_closed"}, child="C3", at=datetime(2025, 9, 20, 9, tzinfo=UTC))),
        _allocated("C4", "N1", "cp", sep),
        _allocated("C5", "W1", "cin", october),
    ]  # fmt: skip


def test_workforce_profile_by_hand_as_of_30_september() -> None:
    profile = workforce_profile(
        reversed(_history()), as_of=date(2025, 9, 30), book=BOOK, calendar=CAL
    )
    assert profile.profile == "lga2020"
    assert profile.refused_events == 2  # Z1 into an unrecorded team, C9 to a worker never joined
    assert [(t.team_id, t.depth, t.parent_team_id) for t in profile.teams] == [
        ("CSC", 0, None),
        ("T1", 1, "CSC"),
    ]
    csc, t1 = profile.teams
    assert (t1.headcount, t1.fte, t1.agency_headcount, t1.agency_fte, t1.nqsw_headcount) == (
        4, Decimal("3.3"), 1, Decimal("0.8"), 1,
    )  # fmt: skip
    assert (t1.vacancies_fte, t1.children, t1.dfe_caseload, t1.gaps) == (
        Decimal("1.5"), 3, Decimal("1.30"), (),
    )  # fmt: skip
    assert csc.vacancies_fte is None
    assert profile.vacancies_fte is None
    assert csc.gaps == (
        "manager: not a worker in post on the day",
        "vacancies: no establishment_fte on team.recorded",
    )
    by_id = {w.worker_id: w for w in profile.workers}
    assert sorted(by_id) == ["A1", "M1", "N1", "W1"]  # L1 left, F1 not yet started
    w1, n1, a1 = by_id["W1"], by_id["N1"], by_id["A1"]
    assert (w1.fte, w1.cases, w1.weighted_load, w1.cap, w1.over_cap) == (
        Decimal(1), 2, Decimal("2.5"), Decimal("22.00"), False,
    )  # fmt: skip
    assert (w1.last_supervision, w1.next_supervision, w1.gaps) == (
        date(2025, 9, 10), date(2025, 10, 10), (),
    )  # fmt: skip
    assert (n1.newly_qualified, n1.cap, n1.cp_not_co_worked, n1.flagged_sessions) == (
        True, Decimal("9.90"), 1, 1,
    )  # fmt: skip
    assert n1.last_supervision is None
    assert n1.gaps == (
        "asye: no asye.started in the history",
        "swe_number: not in the history",
        "last_supervision: no counted session in the history (1 flagged, not counted)",
    )
    assert (a1.agency_worker, a1.gaps[0]) == (True, "swe_number: not in the history")
    assert (profile.headcount, profile.agency_headcount, profile.agency_fte) == (
        4, 1, Decimal("0.8"),
    )  # fmt: skip


def test_a_later_day_sees_the_starter_the_change_and_the_new_case() -> None:
    profile = workforce_profile(_history(), as_of=date(2025, 10, 10), book=BOOK, calendar=CAL)
    by_id = {w.worker_id: w for w in profile.workers}
    assert "F1" in by_id
    assert (by_id["W1"].fte, by_id["W1"].cases) == (Decimal("0.6"), 3)
