"""Timer start, warning, breach, meet and cancel: never early, once only, late meets recorded."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from services.common.calendar import LONDON, WorkingCalendar
from services.sla.domain.policies import Policy
from services.sla.domain.timers import (
    Timer,
    TimerStatus,
    breach,
    cancel,
    due_for_breach,
    due_for_warning,
    meet,
    newly_breached,
    start_timer,
    timer_id_for,
    warn,
)
from services.sla.policies import load_policy


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2020, 2026)


@pytest.fixture(scope="module")
def wt2013() -> Policy:
    return load_policy("wt2013")


def _icpc(wt2013: Policy, cal: WorkingCalendar) -> Timer:
    return start_timer(
        wt2013,
        "icpc",
        child_id="child-1",
        subject_ref=str(uuid4()),
        started_at=datetime(2024, 6, 5, 10, 0, tzinfo=LONDON),
        calendar=cal,
    )


def test_icpc_due_fifteen_working_days_after_the_strategy_discussion(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    timer = _icpc(wt2013, cal)
    assert timer.due_at.isoformat() == "2024-06-26T23:59:59+01:00"
    assert timer.warn_at is not None
    assert timer.warn_at.isoformat() == "2024-06-25T23:59:59+01:00"
    assert (timer.status, timer.policy, timer.kind) == (TimerStatus.OPEN, "wt2013", "icpc")
    assert timer.timer_id == timer_id_for("child-1", "icpc", timer.subject_ref)


def test_timer_id_is_deterministic_and_names_child_kind_and_subject() -> None:
    first = timer_id_for("child-1", "icpc", "s-1")
    assert first == timer_id_for("child-1", "icpc", "s-1")
    others = {
        timer_id_for("child-2", "icpc", "s-1"),
        timer_id_for("child-1", "assessment", "s-1"),
        timer_id_for("child-1", "icpc", "s-2"),
    }
    assert first not in others
    assert len(others) == 3


def test_timer_id_does_not_depend_on_the_policy(cal: WorkingCalendar) -> None:
    def start(policy: str) -> Timer:
        return start_timer(
            load_policy(policy),
            "icpc",
            child_id="child-1",
            subject_ref="s-1",
            started_at=datetime(2024, 6, 5, 10, tzinfo=LONDON),
            calendar=cal,
        )

    a, b = start("wt2013"), start("wt2010")
    assert a.timer_id == b.timer_id
    assert (a.policy, b.policy) == ("wt2013", "wt2010")


# -- breach ---------------------------------------------------------------------------------------


def test_never_breach_at_or_before_the_deadline(wt2013: Policy, cal: WorkingCalendar) -> None:
    timer = _icpc(wt2013, cal)
    assert not due_for_breach(timer, timer.due_at - timedelta(seconds=1))
    assert not due_for_breach(timer, timer.due_at)
    with pytest.raises(ValueError, match="not due for a breach"):
        breach(timer, timer.due_at)


def test_breach_is_due_strictly_after_the_deadline(wt2013: Policy, cal: WorkingCalendar) -> None:
    timer = _icpc(wt2013, cal)
    just_after = timer.due_at + timedelta(microseconds=1)
    assert due_for_breach(timer, just_after)
    breached = breach(timer, just_after)
    assert breached.status is TimerStatus.BREACHED
    assert breached.breached_at == just_after
    assert breached.live


def test_a_timer_breaches_once(wt2013: Policy, cal: WorkingCalendar) -> None:
    later = datetime(2024, 6, 27, 0, 0, 2, tzinfo=LONDON)
    breached = breach(_icpc(wt2013, cal), later)
    assert not due_for_breach(breached, later + timedelta(days=1))
    with pytest.raises(ValueError, match="not due for a breach"):
        breach(breached, later + timedelta(days=1))


def test_breach_compares_real_instants_in_the_repeated_autumn_hour(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    # 72 h from Thursday 24 Oct 2024 01:30 BST is Sunday 27 Oct 01:30 BST (00:30 UTC); 01:15 GMT
    # later that night (fold=1, 01:15 UTC) reads earlier on the wall clock but is after it.
    timer = start_timer(
        wt2013,
        "police_protection",
        child_id="child-1",
        subject_ref="p-1",
        started_at=datetime(2024, 10, 24, 1, 30, tzinfo=LONDON),
        calendar=cal,
    )
    assert timer.due_at.isoformat() == "2024-10-27T01:30:00+01:00"
    after_in_real_time = datetime(2024, 10, 27, 1, 15, fold=1, tzinfo=LONDON)
    assert due_for_breach(timer, after_in_real_time)


def test_a_timer_cannot_claim_a_breach_at_its_deadline(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    timer = _icpc(wt2013, cal)
    with pytest.raises(ValidationError, match="strictly after due_at"):
        Timer.model_validate(
            {**timer.model_dump(), "status": "breached", "breached_at": timer.due_at}
        )


# -- warning --------------------------------------------------------------------------------------


def test_warning_is_due_from_warn_at_until_the_deadline_and_only_once(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    timer = _icpc(wt2013, cal)
    assert timer.warn_at is not None
    assert not due_for_warning(timer, timer.warn_at - timedelta(seconds=1))
    assert due_for_warning(timer, timer.warn_at)
    warned = warn(timer, timer.warn_at)
    assert warned.warned_at == timer.warn_at
    assert not due_for_warning(warned, timer.warn_at + timedelta(hours=1))


def test_an_overdue_timer_gets_its_breach_not_a_late_warning(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    timer = _icpc(wt2013, cal)
    assert not due_for_warning(timer, timer.due_at + timedelta(seconds=1))


# -- meet and cancel ------------------------------------------------------------------------------


def test_meeting_on_time_closes_the_timer_with_no_breach(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    timer = _icpc(wt2013, cal)
    met = meet(timer, datetime(2024, 6, 24, 14, tzinfo=LONDON))
    assert (met.status, met.late, met.breached_at) == (TimerStatus.MET, False, None)
    assert not newly_breached(timer, met)


def test_meeting_after_a_recorded_breach_keeps_the_breach(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    breached = breach(_icpc(wt2013, cal), datetime(2024, 6, 27, 0, 0, 1, tzinfo=LONDON))
    met = meet(breached, datetime(2024, 6, 28, 10, tzinfo=LONDON))
    assert met.status is TimerStatus.MET
    assert met.late
    assert met.breached_at == breached.breached_at
    assert not newly_breached(breached, met)


def test_a_late_meet_records_the_breach_the_loop_had_not_yet_recorded(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    timer = _icpc(wt2013, cal)
    at = datetime(2024, 6, 28, 10, tzinfo=LONDON)
    met = meet(timer, at)
    assert (met.status, met.met_at, met.breached_at) == (TimerStatus.MET, at, at)
    assert newly_breached(timer, met)


def test_closed_timers_ignore_further_transitions(wt2013: Policy, cal: WorkingCalendar) -> None:
    met = meet(_icpc(wt2013, cal), datetime(2024, 6, 20, tzinfo=LONDON))
    assert meet(met, datetime(2024, 6, 21, tzinfo=LONDON)) is met
    assert cancel(met, datetime(2024, 6, 21, tzinfo=LONDON)) is met
    assert not due_for_breach(met, datetime(2024, 7, 1, tzinfo=LONDON))


def test_cancelling_a_breached_timer_keeps_the_breach(wt2013: Policy, cal: WorkingCalendar) -> None:
    breached = breach(_icpc(wt2013, cal), datetime(2024, 6, 27, 0, 0, 1, tzinfo=LONDON))
    cancelled = cancel(breached, datetime(2024, 7, 1, tzinfo=LONDON))
    assert cancelled.status is TimerStatus.CANCELLED
    assert cancelled.breached_at == breached.breached_at
    assert not cancelled.live


def test_a_deadline_before_the_start_is_due_at_once(wt2013: Policy, cal: WorkingCalendar) -> None:
    # Invited on Wed 5 June for a conference on Thu 6 June: "2 WD before" was Tue 4 June.
    started = datetime(2024, 6, 5, 10, tzinfo=LONDON)
    timer = start_timer(
        wt2013,
        "conference_reports",
        child_id="child-1",
        subject_ref="c-1/police",
        started_at=started,
        anchor=datetime(2024, 6, 6, 10, tzinfo=LONDON),
        calendar=cal,
    )
    assert timer.due_at == started
    assert due_for_breach(timer, started + timedelta(seconds=1))


def test_anchor_id_is_the_first_part_of_the_subject_when_it_is_a_uuid(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    conference = uuid4()
    timer = _icpc(wt2013, cal).model_copy(update={"subject_ref": f"{conference}/police"})
    assert timer.anchor_id == conference
    assert timer.model_copy(update={"subject_ref": "not-a-uuid"}).anchor_id is None
    assert isinstance(_icpc(wt2013, cal).anchor_id, UUID)
