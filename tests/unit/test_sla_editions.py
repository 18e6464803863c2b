"""Dated policies: each clock takes the Working Together edition in force on its start's date.

DOMAIN.md §2 ("Which rules apply is decided by the date of the event that starts a clock"):
hand-computed weeks under wt2010 (May 2011, June 2012), wt2013 (May 2014), wt2018 (September
2022, May 2023) and across the Working Together 2023 date (15 December 2023), each with bank
holidays inside the windows; the arithmetic is written beside each expected value. Also: the
book refuses gaps and overlaps naming the file, the Operation Encompass clock exists only from
its statutory date, and a later strategy discussion moves the ICPC clock.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.common.calendar import LONDON, WorkingCalendar
from services.sla.domain.lifecycle import TimerChange, apply_event
from services.sla.domain.policies import PolicyBook, PolicyError
from services.sla.domain.timers import Timer, TimerStatus
from services.sla.policies import load_book, load_policy

CAL = WorkingCalendar.england_and_wales(2010, 2027)
BOOK = load_book()


def t(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def eod(y: int, m: int, d: int) -> datetime:
    """23:59:59 London: when a working-day deadline falls due (DOMAIN.md §2)."""
    return datetime(y, m, d, 23, 59, 59, tzinfo=LONDON)


def event(event_type: str, at: datetime, **payload: Any) -> dict[str, Any]:
    return {
        "event_id": uuid4(),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at,
        "source": {"agency": "social_care", "system": "test", "ref": "r"},
        "subject": {"child_id": "child-1"},
        "payload": payload,
    }


class Store:
    def __init__(self, book: PolicyBook = BOOK) -> None:
        self.book = book
        self.timers: dict[UUID, Timer] = {}

    def apply(self, ev: dict[str, Any]) -> list[TimerChange]:
        live = [x for x in self.timers.values() if x.live]
        changes = apply_event(self.book, ev, live_timers=live, calendar=CAL)
        for change in changes:
            if change.before is not None or change.after.timer_id not in self.timers:
                self.timers[change.after.timer_id] = change.after
        return changes

    def only(self, kind: str) -> Timer:
        found = [x for x in self.timers.values() if x.kind == kind]
        assert len(found) == 1, found
        return found[0]

    def kinds(self) -> set[str]:
        return {x.kind for x in self.timers.values()}


def _da(at: datetime, born: date) -> dict[str, Any]:
    return event(
        "police.da_notification",
        at,
        contact_id=uuid4(),
        contact_at=at,
        incident_at=at,
        child={"date_of_birth": born},
    )


def _referral(at: datetime) -> dict[str, Any]:
    return event("referral.accepted", at, referral_id=uuid4(), referral_at=at)


def _strategy(at: datetime, strategy: UUID | None = None) -> dict[str, Any]:
    return event(
        "strategy_discussion.held",
        at,
        strategy_id=strategy or uuid4(),
        referral_id=uuid4(),
        held_at=at,
        outcome="section_47",
    )


# -- which edition, by date ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "edition"),
    [
        (date(2011, 5, 3), "wt2010"),
        (date(2013, 4, 14), "wt2010"),  # DOMAIN.md §2: WT 2010 until 14 April 2013
        (date(2013, 4, 15), "wt2013"),  # WT 2013 from 15 April 2013
        (date(2022, 9, 19), "wt2018"),
        (date(2023, 12, 14), "wt2018"),
        (date(2023, 12, 15), "wt2023"),  # WT 2023 published 15 Dec 2023
    ],
)
def test_the_edition_in_force_is_the_one_of_the_date_domain_s2(day: date, edition: str) -> None:
    policy = BOOK.in_force(day)
    assert policy is not None
    assert policy.name == edition


def test_the_editions_tile_time_without_gap_or_overlap() -> None:
    policies = BOOK.policies
    for before, after in itertools.pairwise(policies):
        assert before.in_force_until is not None
        assert after.in_force_from is not None
        assert (after.in_force_from - before.in_force_until).days == 1
    assert policies[-1].in_force_until is None


def test_a_gap_between_editions_is_refused_naming_the_file() -> None:
    a = load_policy("wt2010").model_copy(
        update={"in_force_from": date(2010, 3, 26), "in_force_until": date(2013, 4, 13)}
    )
    b = load_policy("wt2013").model_copy(update={"in_force_from": date(2013, 4, 15)})
    with pytest.raises(PolicyError, match=r"wt2010\.toml: policy wt2010 ends 2013-04-13"):
        PolicyBook.dated((("wt2010.toml", a), ("wt2013.toml", b)))


def test_an_overlap_between_editions_is_refused_naming_the_file() -> None:
    a = load_policy("wt2010").model_copy(
        update={"in_force_from": date(2010, 3, 26), "in_force_until": date(2013, 4, 20)}
    )
    b = load_policy("wt2013").model_copy(update={"in_force_from": date(2013, 4, 15)})
    with pytest.raises(PolicyError, match=r"wt2010\.toml: .* overlaps wt2013\.toml"):
        PolicyBook.dated((("wt2010.toml", a), ("wt2013.toml", b)))


def test_a_local_override_applies_from_its_own_start_date(tmp_path: Path) -> None:
    local = tmp_path / "council.toml"
    local.write_text(
        'extends = "wt2018"\nname = "council"\nversion = 1\n'
        "in_force = { from = 2020-01-06 }\n"
        "[timers.cp_visit]\ndeadline = { weeks = 2 }\n",
        encoding="utf-8",
    )
    book = load_book(local)
    assert [p.name for p in book.policies if p.name in ("wt2018", "council")] == [
        "wt2018",
        "council",
    ]
    assert book.in_force(date(2020, 1, 5)).name == "wt2018"  # type: ignore[union-attr]
    assert book.in_force(date(2020, 1, 6)).name == "council"  # type: ignore[union-attr]
    assert book.in_force(date(2023, 12, 15)).name == "wt2023"  # type: ignore[union-attr]


def test_a_local_override_starting_outside_its_edition_is_refused(tmp_path: Path) -> None:
    local = tmp_path / "council.toml"
    local.write_text(
        'extends = "wt2010"\nname = "council"\nversion = 1\nin_force = { from = 2014-01-01 }\n',
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match=r"council\.toml: starts 2014-01-01, outside wt2010"):
        load_book(local)


# -- hand-computed weeks ---------------------------------------------------------------------------


def test_may_2011_week_is_wt2010_with_no_encompass_clock_domain_s2() -> None:
    store = Store()
    # Thursday 28 April 2011: a DA notification about a 10-year-old, and a referral
    store.apply(_da(t(2011, 4, 28), date(2001, 1, 1)))
    store.apply(_referral(t(2011, 4, 28)))
    # no Operation Encompass clock in 2011 (its duty commenced 7 Nov 2025); wt2010 has no single
    # assessment but an initial one
    assert store.kinds() == {"screening_decision", "initial_assessment"}
    # decision, 1 WD: day 0 Thu 28 Apr; Fri 29 Apr royal wedding, Sat, Sun, Mon 2 May early May
    # bank holiday → day 1 is Tue 3 May
    decision = store.only("screening_decision")
    assert (decision.policy, decision.due_at) == ("wt2010", eod(2011, 5, 3))
    # initial assessment, 10 WD: Tue 3 (1), Wed 4 (2), Thu 5 (3), Fri 6 (4), Mon 9 .. Fri 13
    # (5..9), Mon 16 May (10)
    assert store.only("initial_assessment").due_at == eod(2011, 5, 16)


def test_june_2012_jubilee_week_icpc_under_wt2010_domain_s2() -> None:
    store = Store()
    store.apply(_strategy(t(2012, 6, 1)))  # Friday 1 June 2012
    # 15 WD: Mon 4 Jun (moved spring holiday) and Tue 5 Jun (diamond jubilee) are not working
    # days; Wed 6 (1), Thu 7 (2), Fri 8 (3), 11-15 (4..8), 18-22 (9..13), Mon 25 (14), Tue 26 (15)
    icpc = store.only("icpc")
    assert (icpc.policy, icpc.due_at) == ("wt2010", eod(2012, 6, 26))


def test_may_2014_week_is_wt2013_single_assessment_domain_s2() -> None:
    store = Store()
    store.apply(_referral(t(2014, 5, 2)))  # Friday 2 May 2014
    assert store.kinds() == {"assessment"}  # wt2013: single assessment, no initial assessment
    # 45 WD, holidays Mon 5 May and Mon 26 May: May 6-9 (4), 12-16 (9), 19-23 (14), 27-30 (18),
    # Jun 2-6 (23), 9-13 (28), 16-20 (33), 23-27 (38), Mon 30 Jun (39), Jul 1-4 (43), Mon 7 (44),
    # Tue 8 Jul (45)
    assessment = store.only("assessment")
    assert (assessment.policy, assessment.due_at) == ("wt2013", eod(2014, 7, 8))


def test_state_funeral_and_coronation_days_are_not_working_days_domain_s2() -> None:
    store = Store()
    # Fri 16 Sep 2022 + 1 WD: Mon 19 Sep state funeral → Tue 20 Sep
    store.apply(
        event("contact.received", t(2022, 9, 16), contact_id=uuid4(), contact_at=t(2022, 9, 16))
    )
    # Fri 5 May 2023 + 1 WD: Mon 8 May coronation → Tue 9 May
    store.apply(
        event("contact.received", t(2023, 5, 5), contact_id=uuid4(), contact_at=t(2023, 5, 5))
    )
    due = sorted(x.due_at for x in store.timers.values())
    assert due == [eod(2022, 9, 20), eod(2023, 5, 9)]
    assert {x.policy for x in store.timers.values()} == {"wt2018"}


def test_a_week_spanning_working_together_2023_domain_s2() -> None:
    thursday, friday = Store(), Store()
    thursday.apply(_strategy(t(2023, 12, 14)))  # the day before WT 2023
    friday.apply(_strategy(t(2023, 12, 15)))  # WT 2023's first day
    # Thu 14 Dec + 15 WD, holidays 25, 26 Dec and 1 Jan: Fri 15 (1), 18-22 (2..6), 27-29 (7..9),
    # Jan 2-5 (10..13), Mon 8 (14), Tue 9 Jan 2024 (15)
    before = thursday.only("icpc")
    assert (before.policy, before.due_at) == ("wt2018", eod(2024, 1, 9))
    # Fri 15 Dec + 15 WD: 18-22 (1..5), 27-29 (6..8), Jan 2-5 (9..12), 8, 9, Wed 10 Jan (15)
    after = friday.only("icpc")
    assert (after.policy, after.due_at) == ("wt2023", eod(2024, 1, 10))


def test_a_clock_keeps_its_own_edition_when_closed_under_the_next_domain_s2() -> None:
    store = Store()
    referral = uuid4()
    # Fri 12 Apr 2013 (wt2010): initial assessment, 10 WD → 15-19 (1..5), 22-26 (6..10): Fri 26
    store.apply(
        event("referral.accepted", t(2013, 4, 12), referral_id=referral, referral_at=t(2013, 4, 12))
    )
    # authorised Mon 22 Apr 2013, under wt2013's dates: still meets wt2010's clock, in time
    store.apply(
        event(
            "assessment.authorised",
            t(2013, 4, 22),
            assessment_id=uuid4(),
            referral_id=referral,
            authorised_at=t(2013, 4, 22),
        )
    )
    clock = store.only("initial_assessment")
    assert (clock.policy, clock.status, clock.late) == ("wt2010", TimerStatus.MET, False)


# -- the triage windows and Operation Encompass ---------------------------------------------------


def test_red_triage_out_of_hours_counts_from_the_notification_domain_s2() -> None:
    store = Store()
    # Saturday 8 June 2024 02:00, red: 4 elapsed hours → 06:00 the same morning (not Monday 13:00)
    at = t(2024, 6, 8, 2)
    store.apply(event("screening.triaged", at, contact_id=uuid4(), triaged_at=at, priority="red"))
    assert store.only("triage").due_at == t(2024, 6, 8, 6)


def test_encompass_covers_reception_to_17_domain_s2() -> None:
    at = t(2026, 6, 11, 2)  # Thursday 11 June 2026, after the duty commenced
    seventeen, eighteen, four, three = Store(), Store(), Store(), Store()
    seventeen.apply(_da(at, date(2008, 6, 12)))  # 17 the day before turning 18
    eighteen.apply(_da(at, date(2008, 6, 11)))  # 18 today
    four.apply(_da(at, date(2022, 6, 11)))  # 4 today (reception)
    three.apply(_da(at, date(2022, 6, 12)))  # 3
    assert "operation_encompass" in seventeen.kinds()
    assert "operation_encompass" in four.kinds()
    assert "operation_encompass" not in eighteen.kinds() | three.kinds()


def test_encompass_clock_is_met_by_the_school_notified_event() -> None:
    store = Store()
    da = _da(t(2026, 6, 11, 2), date(2015, 1, 1))
    store.apply(da)
    contact = da["payload"]["contact_id"]
    store.apply(
        event(
            "education.encompass_notified",
            t(2026, 6, 11, 7),
            contact_id=contact,
            notified_at=t(2026, 6, 11, 7),
        )
    )
    clock = store.only("operation_encompass")
    assert (clock.status, clock.late) == (TimerStatus.MET, False)


# -- ICPC: a later strategy discussion ------------------------------------------------------------


@pytest.mark.parametrize("order", ["in_order", "reversed"])
def test_a_later_strategy_discussion_moves_the_icpc_clock_domain_s2(order: str) -> None:
    store = Store()
    first, later = _strategy(t(2024, 6, 3)), _strategy(t(2024, 6, 10))
    events = [first, later] if order == "in_order" else [later, first]
    for ev in events:
        store.apply(ev)
    if order == "reversed":  # the kept cancel of the later discussion closes the earlier clock
        # (ChildClocks keeps it as an early event; here we re-apply it as the service would)
        store.apply(later)
    by_status = {x.status: x for x in store.timers.values() if x.kind == "icpc"}
    assert set(by_status) == {TimerStatus.CANCELLED, TimerStatus.OPEN}
    assert by_status[TimerStatus.CANCELLED].cancelled_at == t(2024, 6, 10)
    # Mon 10 Jun 2024 + 15 WD: 11-14 (1..4), 17-21 (5..9), 24-28 (10..14), Mon 1 Jul (15)
    assert by_status[TimerStatus.OPEN].due_at == eod(2024, 7, 1)
