"""Workforce rules, hand-computed: supervision schedules, ASYE dates, caseloads, alerts."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from schemas.events.workforce import AlertRule, CaseType, SupervisionKind
from services.common.calendar import WorkingCalendar
from services.workforce.domain.caseload import (
    Allocated,
    Allocation,
    Holder,
    cap,
    check_allocation,
    dfe_caseload,
    held_before,
    weighted_load,
)
from services.workforce.domain.profiles import ProfileError, parse_profiles
from services.workforce.domain.supervision import (
    Leave,
    allocation_due,
    asye_plan,
    next_supervision,
    oversight_due,
    planned_schedule,
    session_flag,
)
from services.workforce.policies import SHIPPED, load_profiles

CAL = WorkingCalendar.england_and_wales()
BOOK = load_profiles()
LGA = BOOK.named("lga2020")
CWDC = BOOK.named("cwdc2008")
SICK = (Leave(date(2025, 12, 1), date(2025, 12, 22)),)  # 3 weeks in month 4


def test_profile_in_force_is_chosen_by_the_date() -> None:
    assert BOOK.in_force(date(2011, 9, 5)).name == "cwdc2008"
    assert BOOK.in_force(date(2025, 8, 26)).name == "lga2020"
    assert BOOK.in_force(date(2027, 9, 1)).name == "ecdp2027"
    with pytest.raises(ProfileError, match="2001-01-01"):
        BOOK.in_force(date(2001, 1, 1))


def test_profiles_with_a_gap_are_refused_naming_both() -> None:
    import tomllib

    text = SHIPPED.read_text().replace("in_force_from = 2012-09-01", "in_force_from = 2012-10-01")
    doc = tomllib.loads(text)
    with pytest.raises(ProfileError, match=r"cwdc2008.*lga2020"):
        parse_profiles(doc)


def test_nqsw_starting_in_a_bank_holiday_week_weekly_then_fortnightly_paused_by_sick_leave() -> (
    None
):
    # starts Tue 26 Aug 2025 (Mon 25 Aug a bank holiday); weekly to 7 Oct (6 weeks), fortnightly
    # to 6 months (26 Feb 2026 + 21 days of sick leave = 19 Mar 2026), monthly after; the
    # fortnight running over the leave (18 Nov → 2 Dec) moves 21 days to 23 Dec.
    plan = planned_schedule(
        LGA, CAL, employed_from=date(2025, 8, 26), nqsw=True, leaves=SICK, until=date(2026, 7, 1)
    )
    expected = [
        date(2025, 9, 2), date(2025, 9, 9), date(2025, 9, 16), date(2025, 9, 23),
        date(2025, 9, 30), date(2025, 10, 7),
        date(2025, 10, 21), date(2025, 11, 4), date(2025, 11, 18), date(2025, 12, 23),
        date(2026, 1, 6), date(2026, 1, 20), date(2026, 2, 3), date(2026, 2, 17),
        date(2026, 3, 3), date(2026, 3, 17), date(2026, 3, 31),
        date(2026, 4, 30), date(2026, 6, 1),  # 30 May 2026 is a Saturday
        date(2026, 7, 1),
    ]  # fmt: skip
    assert plan == expected


def test_nqsw_asye_end_and_reviews_extended_by_the_sick_leave() -> None:
    plan = asye_plan(LGA, date(2025, 8, 26), SICK)
    assert plan.ends_on == date(2026, 9, 16)
    assert plan.reviews == (
        (3, date(2025, 11, 26)),
        (6, date(2026, 3, 19)),
        (9, date(2026, 6, 16)),
        (12, date(2026, 9, 16)),
    )


def test_nothing_is_due_while_on_leave() -> None:
    due = next_supervision(
        LGA, CAL, employed_from=date(2025, 8, 26), nqsw=True,
        counted=[date(2025, 11, 18)], leaves=SICK, as_of=date(2025, 12, 10),
    )  # fmt: skip
    assert due.status == "paused"
    assert due.due_on is None


def test_experienced_worker_monthly_short_session_flagged_not_counted() -> None:
    assert session_flag(LGA, SupervisionKind.PROFESSIONAL, 60, False) == "short"
    assert session_flag(LGA, SupervisionKind.PROFESSIONAL, 95, True) == "interrupted"
    assert session_flag(LGA, SupervisionKind.GROUP, 120, False) == "kind_not_counted"
    assert session_flag(LGA, SupervisionKind.CASE, 90, False) is None
    # employed Tue 2 Jan 2024; counted 1 Mar → due 1 Apr = Easter Monday → Tue 2 Apr; the 60
    # minute session on 20 Mar does not count, so on 3 Apr it is overdue.
    due = next_supervision(
        LGA, CAL, employed_from=date(2024, 1, 2), nqsw=False,
        counted=[date(2024, 3, 1)], leaves=(), as_of=date(2024, 4, 3),
    )  # fmt: skip
    assert (due.due_on, due.status, due.every) == (date(2024, 4, 2), "overdue", "1m")
    first = next_supervision(
        LGA, CAL, employed_from=date(2024, 1, 2), nqsw=False, counted=[], leaves=(),
        as_of=date(2024, 1, 10),
    )  # fmt: skip
    assert (first.due_on, first.status) == (date(2024, 2, 2), "due")


def test_2011_nqsw_under_the_cwdc_profile_is_supervised_fortnightly() -> None:
    # starts Mon 5 Sep 2011; fortnightly for the programme year; 26 Dec 2011 (Boxing Day) and
    # 27 Dec (the substitute Christmas Day) are bank holidays, so that session moves to 28 Dec.
    plan = planned_schedule(
        CWDC, CAL, employed_from=date(2011, 9, 5), nqsw=True, leaves=(), until=date(2012, 1, 12)
    )
    assert plan == [
        date(2011, 9, 19), date(2011, 10, 3), date(2011, 10, 17), date(2011, 10, 31),
        date(2011, 11, 14), date(2011, 11, 28), date(2011, 12, 12), date(2011, 12, 28),
        date(2012, 1, 11),
    ]  # fmt: skip


def _team() -> tuple[list[Holder], list[Allocation]]:
    holders = [
        Holder("A", Decimal("1"), True, False),
        Holder("B", Decimal("0.5"), True, False),
        Holder("N", Decimal("1"), True, True),
        Holder("M", Decimal("1"), False, False),  # the manager holds no cases
    ]
    allocations = [
        *(Allocation(f"a{i}", "A", CaseType.CIN) for i in range(10)),
        *(Allocation(f"c{i}", "A", CaseType.CP) for i in range(4)),
        *(Allocation(f"b{i}", "B", CaseType.CLA) for i in range(5)),
        *(Allocation(f"n{i}", "N", CaseType.ASSESSMENT) for i in range(6)),
        Allocation("a0", "N", CaseType.CIN, co_worked=True),  # co-worked: one child, counted once
        Allocation("m0", "M", CaseType.CIN),
    ]
    return holders, allocations


def test_small_team_caseload_the_dfe_way() -> None:
    holders, allocations = _team()
    # distinct children held by A, B, N: 14 + 5 + 6 = 25 (a0 shared), FTE 2.5 → 10.00
    figure = dfe_caseload(LGA, holders, allocations)
    assert (figure.children, figure.fte, figure.per_fte) == (25, Decimal("2.5"), Decimal("10.00"))
    assert not figure.implausible


def test_more_than_fifty_children_per_fte_is_implausible() -> None:
    holders = [Holder("X", Decimal("0.2"), True, False)]
    allocations = [Allocation(f"x{i}", "X", CaseType.CIN) for i in range(11)]
    assert dfe_caseload(LGA, holders, allocations).implausible


def test_small_team_caseload_the_weighted_way() -> None:
    holders, allocations = _team()
    load = {h.worker_id: weighted_load(LGA, [a for a in allocations if a.worker_id == h.worker_id])
            for h in holders}  # fmt: skip
    # A: 10 CIN × 1 + 4 CP × 1.5 = 16; B: 5 CLA × 1.2 = 6; N: 6 × 1 + 1 = 7
    assert load["A"] == Decimal("16.0")
    assert load["B"] == Decimal("6.0")
    assert load["N"] == 7
    # caps: 22 × FTE, an NQSW × 0.9
    assert [cap(LGA, h) for h in holders[:3]] == [
        Decimal("22.00"),
        Decimal("11.00"),
        Decimal("19.80"),
    ]


def test_allocation_over_the_cap_alerts_when_it_crosses_only() -> None:
    holder = Holder("B", Decimal("0.5"), True, False)
    held = [Allocation(f"b{i}", "B", CaseType.CP) for i in range(7)]  # 10.5 of 11
    crossing = check_allocation(LGA, holder, held, Allocation("x", "B", CaseType.CIN))
    assert crossing.rules == (AlertRule.CASELOAD_CAP,)
    assert crossing.points_after == Decimal("11.5")
    still_over = check_allocation(
        LGA, holder, [*held, Allocation("x", "B", CaseType.CIN)], Allocation("y", "B", CaseType.CIN)
    )
    assert still_over.rules == ()


def test_the_allocation_that_crosses_the_cap_is_the_one_in_event_time_in_any_reading_order() -> (
    None
):
    """A replay reads the children's partitions in any order: an allocation's alerts are decided
    against the worker's allocations open just before it in event time, not those read before
    it (issue 12: the same history gives the same views)."""
    holder = Holder("B", Decimal("0.5"), True, False)  # cap 22 × 0.5 = 11 points
    t0 = datetime(2025, 3, 3, 9, tzinfo=UTC)

    def allocated(
        child: str, hours: int, case_type: CaseType, ended: int | None = None
    ) -> Allocated:
        at = t0 + timedelta(hours=hours)
        end = None if ended is None else t0 + timedelta(hours=ended)
        return Allocated(uuid.uuid4(), Allocation(child, "B", case_type), at, end, "T")

    history = [
        *(allocated(f"b{i}", i, CaseType.CP) for i in range(6)),  # 9 points by hour 5
        allocated("gone", 6, CaseType.CP, ended=7),  # 10.5, then ended at hour 7
        allocated("x", 8, CaseType.CIN),  # 9 + 1 = 10: under the cap (the ended one is gone)
        allocated("y", 9, CaseType.CP),  # 10 + 1.5 = 11.5: crosses
        allocated("z", 10, CaseType.CIN),  # still over: no second alert
    ]
    rng = random.Random(13)
    crossings = set()
    for _ in range(200):
        order = rng.sample(history, len(history))
        crossings.add(
            frozenset(
                a.allocation.child_id
                for a in order
                if check_allocation(LGA, holder, held_before(order, a), a.allocation).rules
            )
        )
    assert crossings == {frozenset({"y"})}


def test_child_protection_to_an_nqsw_needs_a_co_worker() -> None:
    nqsw = Holder("N", Decimal("1"), True, True)
    alone = check_allocation(LGA, nqsw, [], Allocation("c", "N", CaseType.CP))
    assert alone.rules == (AlertRule.NQSW_CP_NOT_CO_WORKED,)
    co_worked = check_allocation(LGA, nqsw, [], Allocation("c", "N", CaseType.CP, co_worked=True))
    assert co_worked.rules == ()
    experienced = Holder("A", Decimal("1"), True, False)
    assert check_allocation(LGA, experienced, [], Allocation("c", "A", CaseType.CP)).rules == ()


# -- case supervision / management oversight, and referral → allocation (issue 13 §2) --------


@pytest.mark.parametrize(
    ("case_type", "last", "due"),
    [
        (CaseType.CP, date(2025, 9, 1), date(2025, 9, 21)),  # 20 days after the last entry
        (CaseType.CIN, date(2025, 9, 1), date(2025, 10, 1)),  # 30
        (CaseType.CARE_LEAVER, date(2025, 9, 1), date(2025, 10, 31)),  # 60
    ],
)
def test_oversight_is_due_the_case_types_interval_after_the_last_entry(
    case_type: CaseType, last: date, due: date
) -> None:
    assert oversight_due(LGA, case_type, last) == due


def test_a_referral_needs_an_allocated_worker_within_five_working_days_bank_holidays_skipped() -> (
    None
):
    # referred Thu 22 May 2025: Fri 23, Tue 27 (Mon 26 is the spring bank holiday), Wed 28,
    # Thu 29, Fri 30 May
    assert allocation_due(LGA, CAL, date(2025, 5, 22)) == date(2025, 5, 30)
    # referred Tue 23 Dec 2025: Wed 24, Mon 29 (25, 26 Dec are bank holidays), Tue 30, Wed 31,
    # Fri 2 Jan 2026 (1 Jan is one)
    assert allocation_due(LGA, CAL, date(2025, 12, 23)) == date(2026, 1, 2)
    # the 2011 profile says the same (a dated rule, looked up by the referral's date)
    assert allocation_due(BOOK.in_force(date(2011, 5, 3)), CAL, date(2011, 5, 3)) == date(
        2011, 5, 10
    )


def test_the_fte_and_case_holding_in_force_on_a_day() -> None:
    """DOMAIN.md §7 caps: cap_points x the FTE of the allocation's day (not the latest)."""
    from services.workforce.domain.caseload import Term, terms_on

    def term(day: date, minute: int, fte: str | None, holder: bool | None) -> Term:
        at = datetime(2025, 9, 9, 9, minute, tzinfo=UTC)
        return Term(
            day, at, uuid.uuid5(uuid.NAMESPACE_URL, f"t{minute}"), fte and Decimal(fte), holder
        )

    joined = term(date(2025, 9, 1), 0, "0.2", True)
    full_time_later = term(date(2025, 9, 10), 1, "1", None)
    not_holding = term(date(2025, 10, 1), 2, None, False)
    terms = [not_holding, full_time_later, joined]
    current = (Decimal("1"), False)
    assert terms_on(terms, date(2025, 9, 2), current=current) == (Decimal("0.2"), True)
    assert terms_on(terms, date(2025, 9, 10), current=current) == (Decimal("1"), True)
    assert terms_on(terms, date(2025, 10, 1), current=current) == (Decimal("1"), False)
    # before any term the directory knows: the worker's current terms
    assert terms_on(terms, date(2025, 8, 1), current=current) == current
    # a correction recorded later but effective from the start wins from that day on
    correction = term(date(2025, 9, 1), 3, "0.5", None)
    assert terms_on([*terms, correction], date(2025, 9, 2), current=current) == (
        Decimal("0.5"),
        True,
    )
