"""The dashboard's workforce section and lane-refusal panel from hand-made read-model values.

One team, T1 (manager M1), on Monday 2 March 2026, 09:00: M1 holds no cases and was due
supervision on 28 Feb (overdue, last on the manager's list); N1 is newly
qualified, supervised last by S2 (interrupted, so not counted), due 27 Feb (overdue), holding a
child protection case without a co-worker; E1 (0.5 FTE) is over the cap. C1 was referred on Mon
23 Feb and is past the allocation clock (5 working days: 24, 25, 26, 27 Feb, 2 Mar); C2 was
referred this morning (0 days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from services.common.calendar import WorkingCalendar
from services.ops.domain.lanes import AgencyRefusals, LaneRefusal, lane_panel
from services.ops.domain.workforce import workforce_board, working_days_waiting

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CALENDAR = WorkingCalendar.england_and_wales(2024, 2028)


def worker(worker_id: str, **over: Any) -> dict[str, Any]:
    row = {
        "worker_id": worker_id, "team_id": "T1", "role": "case_holder", "fte": "1",
        "agency": False, "case_holder": True, "nqsw": False, "cases": 0,
        "weighted_load": "0", "cap": "22.00", "over_cap": False, "nqsw_cp_not_co_worked": 0,
        "last_supervision": None, "next_supervision": "2026-03-20T23:59:59+00:00",
        "flagged_sessions": 0,
    }  # fmt: skip
    return {**row, **over}


def facts() -> dict[str, Any]:
    return {
        "profile": "lga2020",
        "as_of": "2026-03-02",
        "teams": [
            {
                "team_id": "T1",
                "name": "Team One",
                "manager_id": "M1",
                "parent_team_id": None,
                "children": 3,
                "case_holding_fte": "1.5",
                "dfe_caseload": "2.00",
                "implausible": False,
            },
        ],
        "workers": [
            worker(
                "E1",
                fte="0.5",
                cases=2,
                weighted_load="12",
                cap="11.00",
                over_cap=True,
                last_supervision="2026-02-10T09:00:00+00:00",
            ),
            worker(
                "M1",
                role="first_line_manager",
                case_holder=False,
                next_supervision="2026-02-28T23:59:59+00:00",
            ),
            worker(
                "N1",
                nqsw=True,
                cases=1,
                weighted_load="3",
                cap="19.80",
                nqsw_cp_not_co_worked=1,
                last_supervision="2026-02-13T09:00:00+00:00",
                next_supervision="2026-02-27T23:59:59+00:00",
                flagged_sessions=2,
            ),
        ],
        "overdue": [],
        "sessions": [
            {
                "worker_id": "E1",
                "supervisor_id": "M1",
                "counted": 1,
                "short": 0,
                "interrupted": 0,
                "other_kind": 0,
                "last_at": "2026-02-10T09:00:00+00:00",
            },
            {
                "worker_id": "N1",
                "supervisor_id": "M1",
                "counted": 2,
                "short": 1,
                "interrupted": 0,
                "other_kind": 0,
                "last_at": "2026-02-13T09:00:00+00:00",
            },
            {
                "worker_id": "N1",
                "supervisor_id": "S2",
                "counted": 0,
                "short": 0,
                "interrupted": 1,
                "other_kind": 0,
                "last_at": "2026-02-20T09:00:00+00:00",
            },
        ],
        "unallocated": [
            {
                "child_id": "C1",
                "team": "T1",
                "referral_at": "2026-02-23T09:00:00+00:00",
                "due_at": "2026-02-27T23:59:59+00:00",
            },
            {
                "child_id": "C2",
                "team": "T1",
                "referral_at": "2026-03-02T08:00:00+00:00",
                "due_at": "2026-03-06T23:59:59+00:00",
            },
        ],
        "alerts": [
            {
                "alert_id": "6b3c8a7e-4a55-5d0e-9f1e-2b9a3c1d0e11",
                "rule": "nqsw_cp_not_co_worked",
                "team_id": "T1",
                "manager_id": "M1",
                "worker_id": "N1",
                "child_id": "C9",
                "raised_at": "2026-02-16T10:00:00+00:00",
                "still_allocated": True,
            },
        ],
        "alerts_raised": 1,
        "alerts_still_allocated": 1,
    }


def test_a_team_manager_reads_the_nqsw_first_then_caps_then_waiting_children() -> None:
    board = workforce_board(facts(), now=NOW, calendar=CALENDAR)
    assert [(a.kind, a.worker_id or a.child_id, a.manager_id) for a in board.attention] == [
        ("nqsw_supervision_overdue", "N1", "M1"),
        ("nqsw_cp_not_co_worked", "N1", "M1"),
        ("over_cap", "E1", "M1"),
        ("allocation_overdue", "C1", "M1"),
        ("supervision_overdue", "M1", "M1"),
    ]
    assert board.attention[1].detail == (
        "newly qualified: 1 child protection case without a co-worker"
    )
    assert board.attention[3].detail == "waiting 5 working days for a worker"
    t = board.totals
    assert (t.workers, t.nqsws, t.supervision_overdue, t.nqsw_supervision_overdue) == (3, 1, 2, 1)
    assert (t.nqsw_cp_not_co_worked, t.over_cap, t.unallocated, t.unallocated_overdue) == (
        1,
        1,
        2,
        1,
    )


def test_supervision_compliance_per_team_and_per_supervisor() -> None:
    board = workforce_board(facts(), now=NOW, calendar=CALENDAR)
    (team,) = board.supervision_by_team
    assert (team.name, team.manager_id, team.workers) == ("T1", "M1", 3)
    assert (team.on_time, team.overdue, team.not_due, team.nqsw_overdue) == (1, 2, 0, 1)
    assert (team.sessions.counted, team.sessions.short, team.sessions.interrupted) == (3, 1, 1)
    assert team.sessions.not_counted == 2
    by_sup = {c.name: c for c in board.supervision_by_supervisor}
    assert set(by_sup) == {"M1", "S2"}
    # N1's latest session was S2's; E1's M1's; M1, never supervised, counts for nobody but M1
    assert (by_sup["M1"].workers, by_sup["M1"].on_time, by_sup["M1"].overdue) == (1, 1, 0)
    assert (by_sup["S2"].workers, by_sup["S2"].overdue, by_sup["S2"].nqsw_overdue) == (1, 1, 1)
    assert (by_sup["M1"].sessions.counted, by_sup["M1"].sessions.short) == (3, 1)
    assert (by_sup["S2"].sessions.counted, by_sup["S2"].sessions.interrupted) == (0, 1)


def test_caseloads_nqsw_protections_and_waiting_children() -> None:
    board = workforce_board(facts(), now=NOW, calendar=CALENDAR)
    (team,) = board.caseload_by_team
    assert (team.children, team.dfe_caseload) == (3, Decimal("2.00"))
    # case holders only: E1 12 + N1 3 against 11.00 + 19.80 (M1 holds no cases)
    assert (team.weighted_load, team.cap, team.workers_over_cap) == (
        Decimal(15),
        Decimal("30.80"),
        1,
    )
    assert [w.worker_id for w in board.caseload_by_worker] == ["E1", "N1", "M1"]
    (n,) = board.nqsw
    assert (n.worker_id, n.reduced_caseload, n.cp_not_co_worked, n.supervision) == (
        "N1",
        True,
        1,
        "overdue",
    )
    assert n.protected is False
    assert [(c.child_id, c.working_days, c.overdue) for c in board.unallocated] == [
        ("C1", 5, True),
        ("C2", 0, False),
    ]
    (alert,) = board.alerts
    assert (alert.rule, alert.manager_id, alert.still_allocated) == (
        "nqsw_cp_not_co_worked",
        "M1",
        True,
    )


def test_working_days_skip_weekends_and_bank_holidays() -> None:
    # Thu 17 Apr 2025 → Tue 22 Apr: Good Friday and Easter Monday do not count
    assert working_days_waiting(CALENDAR, date(2025, 4, 17), date(2025, 4, 22)) == 1
    assert working_days_waiting(CALENDAR, date(2025, 4, 22), date(2025, 4, 22)) == 0


def lane_refusal(at: datetime) -> LaneRefusal:
    """An education record on its own lane, of a type education may not publish."""
    return LaneRefusal(
        id=1,
        refused_at=at,
        topic="partner.events.education",
        event_type="conference.icpc_held",
        claimed_agency="education",
        via="lane",
        speaker="education",
        rules=("event_type_not_permitted",),
    )


def test_lane_panel_lists_every_agency_and_flags_an_incident() -> None:
    quiet = lane_panel([], [], at=NOW)
    assert quiet.incident is False
    assert quiet.total == 0
    assert {c.agency for c in quiet.by_agency} >= {"police", "education", "health"}
    refusal = lane_refusal(NOW)
    panel = lane_panel([AgencyRefusals(agency="education", total=2, latest=NOW)], [refusal], at=NOW)
    assert (panel.incident, panel.total) == (True, 2)
    assert panel.by_agency[0].agency == "education"
    assert all(c.total == 0 for c in panel.by_agency[1:])
