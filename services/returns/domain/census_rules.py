"""The CIN census export's own checks, named by the DfE validation rule each one mirrors.

Each check reads a census record the way the DfE rule (the ``csc-validator-be-cin`` cin2024_25
rule set) reads the XML, and reports the same rule code — an assessment authorised before it
started is ``8608`` here and there. Errors (the DfE would reject the record) keep the child out
of the return; queries (the DfE asks for a reason) are listed and the child stays in. Most of
these are invariants the event model is meant to keep (nothing before the referral, plan start
= ICPC date, no two open plans, nothing after an NFA referral or a closure); a history that
breaks one is reported here instead of being exported. Events the history could not place
(``ChildHistory.anomalies``) are errors too. Return-level: a UPN shared by two children (1520).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from functools import cache

from schemas.codes import AssessmentFactor, ReasonForClosure
from services.common.calendar import WorkingCalendar, shift_months
from services.returns.domain.census import ICPC_WORKING_DAYS, CensusChild, CensusEpisode
from services.returns.domain.details import age_in_years
from services.returns.domain.history import ChildHistory
from services.returns.domain.issues import Issue, error, query
from services.returns.domain.periods import Period

CLOSED_AFTER_ASSESSMENT = {
    ReasonForClosure.CLOSED_AFTER_ASSESSMENT_NFA,
    ReasonForClosure.CLOSED_AFTER_ASSESSMENT_EARLY_HELP,
}
_FORTY_WEEKS = timedelta(days=280)
ASSESSMENT_WORKING_DAYS = 45


def check_child(
    child: CensusChild, history: ChildHistory, period: Period, calendar: WorkingCalendar
) -> tuple[Issue, ...]:
    """Every issue the DfE rules would raise about this child's record."""
    cid = child.la_child_id
    found = [error(cid, "history", "history", text) for text in history.anomalies]
    found.extend(_identity(child, period))
    found.extend(_episodes_together(child, period))
    for episode in child.episodes:
        found.extend(_episode(cid, episode, period, calendar))
    return tuple(found)


def check_return(children: Iterable[CensusChild]) -> tuple[Issue, ...]:
    """Issues that involve more than one child: a UPN recorded for two children (rule 1520)."""
    by_upn: dict[str, list[str]] = defaultdict(list)
    for child in children:
        if child.upn is not None:
            by_upn[child.upn].append(child.la_child_id)
    return tuple(
        error(cid, "1520", "UPN", f"the same UPN is recorded for {len(ids)} children")
        for ids in by_upn.values()
        if len(ids) > 1
        for cid in ids
    )


def _identity(child: CensusChild, period: Period) -> Iterator[Issue]:
    cid = child.la_child_id
    if len(cid) > 20:
        yield error(cid, "1570", "LAchildID", "the child's id is longer than 20 characters")
    if not cid.isalnum():
        yield error(cid, "1580", "LAchildID", "the child's id has non-alphanumeric characters")
    born, expected = child.birth_date, child.expected_birth_date
    if born is not None and born > period.last:
        yield error(cid, "8520", "date of birth", "the date of birth is after the census year")
    birth = born or expected
    if birth is not None and any(e.referral_date < birth - _FORTY_WEEKS for e in child.episodes):
        yield error(cid, "8606", "referral date", "a referral is more than 40 weeks before birth")
    if expected is not None and not (
        period.last - timedelta(days=30) <= expected <= shift_months(period.last, 9)
    ):
        yield query(
            cid, "8530Q", "date of birth",
            f"only an expected birth date ({expected.isoformat()}) is recorded, outside the "
            "census range: the child's date of birth is missing from the history",
        )  # fmt: skip
    if born is not None and age_in_years(born, period.last) > 25:
        yield query(cid, "8775Q", "date of birth", "the child is over 25")
    further_action = any(not e.referral_nfa for e in child.episodes)
    if born is not None and further_action and not child.disabilities:
        yield error(cid, "8540", "disability", "no disability information (or NONE) is recorded")
    # the validator's cut-off: children born by 31 August six years before the census year's end
    school_age_born_by = shift_months(shift_months(period.last, 4) + timedelta(days=31), -72)
    if (
        child.upn is None
        and child.upn_unknown is None
        and further_action
        and born is not None
        and born <= school_age_born_by
    ):
        yield query(cid, "8770Q", "UPN", "a school-age child has no UPN and no recorded reason")


def _episodes_together(child: CensusChild, period: Period) -> Iterator[Issue]:
    cid = child.la_child_id
    episodes = child.episodes
    open_ = [e for e in episodes if e.closure_date is None and not e.referral_nfa]
    if len(open_) > 1:
        yield error(cid, "8815", "CIN episode", "more than one open episode")
    # 8816 reads the episodes in file order: the latest is the FIRST with the latest referral date
    # (pandas idxmax), so of two episodes referred the same day only the first may be open.
    latest = max(range(len(episodes)), key=lambda i: (episodes[i].referral_date, -i))
    if any(e is not episodes[latest] for e in open_):
        yield error(cid, "8816", "CIN episode", "an open episode is not the latest referral")
    # 8820: no episode may be referred on or after another's referral date and before that one
    # ends (its closure, or the end of the year while it is open and not NFA): same-day
    # referrals overlap; one ending the day the next starts does not.
    overlaps = sorted(
        {
            b.referral_date
            for a in episodes
            for b in episodes
            if a is not b
            and (end := a.closure_date or (None if a.referral_nfa else period.last)) is not None
            and a.referral_date <= b.referral_date < end
        }
    )
    for day in overlaps:
        yield error(cid, "8820", "CIN episode", f"episodes overlap at {day}")
    plans = [p for e in episodes for p in e.plans]
    if sum(1 for p in plans if p.end is None) > 1:
        yield error(cid, "8935", "child protection plan", "more than one open plan")
    for p in plans:
        for q in plans:
            if p is not q and p.start <= q.start < (p.end or period.last + timedelta(days=1)):
                if p.start == q.start and id(p) > id(q):
                    continue
                yield error(cid, "8940", "child protection plan", f"plans overlap at {q.start}")


def _episode(
    cid: str, e: CensusEpisode, period: Period, calendar: WorkingCalendar
) -> Iterator[Issue]:
    ref, closed = e.referral_date, e.closure_date
    item = f"episode referred {ref.isoformat()}"
    if closed is not None and closed < ref:
        yield error(cid, "8630", item, "closed before it was referred")
    if e.referral_nfa and (e.assessments or e.s47s):
        yield error(cid, "8831", item, "activity recorded on a referral with no further action")
    if e.referral_nfa and e.plans:
        yield error(cid, "8832", item, "a protection plan on a referral with no further action")
    if e.closure_reason in CLOSED_AFTER_ASSESSMENT and (e.s47s or e.plans):
        yield error(cid, "2990", item, "section 47 or plan on a case closed after assessment")
    if e.closure_reason in CLOSED_AFTER_ASSESSMENT and not e.assessments:
        yield query(cid, "8825Q", item, "closed after assessment but no assessment in the year")
    if e.s47s and not e.assessments:
        yield query(cid, "2991Q", item, "a section 47 enquiry and no assessment on the episode")
    if (
        len(e.assessments) == 1
        and e.assessments[0].factors == (AssessmentFactor.NO_FACTORS,)
        and e.closure_reason not in CLOSED_AFTER_ASSESSMENT
    ):
        yield query(cid, "8873Q", item, "factor 21 only, but not closed as RC8 or RC9")
    yield from _assessments(cid, e, period, calendar)
    yield from _enquiries(cid, e, period, calendar)
    yield from _plans(cid, e, period)
    if closed is not None and any(d > closed for d in _activity(e)):
        yield error(cid, "8565", item, "activity is recorded after the episode closed")
    if e.referral_nfa and ref < _dfe_days_before(calendar, period.first, 1):
        yield query(cid, "8569Q", item, "an NFA referral from before the census year")


@cache
def _dfe_days_before(calendar: WorkingCalendar, day: date, n: int) -> date:
    """The DfE counts the start day as day 1: "N working days ago" is N - 1 working days back."""
    return calendar.add_working_days(day, -(n - 1))


def _activity(e: CensusEpisode) -> Iterator[date]:
    for a in e.assessments:
        yield from (d for d in (a.start, a.authorised) if d is not None)
    for s in e.s47s:
        yield from (d for d in (s.start, s.icpc) if d is not None)
    for p in e.plans:
        yield from (d for d in (p.start, p.end) if d is not None)


def _assessments(
    cid: str, e: CensusEpisode, period: Period, calendar: WorkingCalendar
) -> Iterator[Issue]:
    late = _dfe_days_before(calendar, period.last, ASSESSMENT_WORKING_DAYS)
    open_assessments = 0
    for a in e.assessments:
        what = f"assessment started {a.start.isoformat()}"
        if a.start < e.referral_date:
            yield error(cid, "1103", what, "the assessment starts before the referral")
        if a.authorised is not None and a.start > a.authorised:
            yield error(cid, "8608", what, f"authorised on {a.authorised}, before it started")
        if a.authorised is None:
            open_assessments += 1
            if e.closure_date is not None:
                yield error(cid, "8867", what, "the episode is closed but the assessment is open")
            if a.start < period.first:
                yield error(cid, "8736", what, "open assessment started before the census year")
            elif a.start < late:
                yield query(cid, "8670Q", what, "started over 45 working days ago, not authorised")
        for other in e.assessments:
            if other is not a and other.start <= a.start <= (other.authorised or period.last):
                if a.start == other.start and id(a) < id(other):
                    continue
                yield query(cid, "8863Q", what, "starts while another assessment is ongoing")
    if open_assessments > 1:
        yield error(cid, "8896", f"episode referred {e.referral_date}", "two open assessments")


def _enquiries(
    cid: str, e: CensusEpisode, period: Period, calendar: WorkingCalendar
) -> Iterator[Issue]:
    late = _dfe_days_before(calendar, period.last, ICPC_WORKING_DAYS)
    awaiting = 0
    for s in e.s47s:
        what = f"section 47 started {s.start.isoformat()}"
        if s.start < e.referral_date:
            yield error(cid, "2889", what, "the enquiry starts before the referral")
        if s.icpc is not None and s.icpc < e.referral_date:
            yield error(cid, "1104", what, "the ICPC is before the referral")
        if s.icpc is not None and s.start > s.icpc:
            yield error(cid, "8615", what, "the enquiry starts after its ICPC")
        if s.icpc is None and not s.icpc_not_required:
            awaiting += 1
            if e.closure_date is not None:
                yield error(cid, "8868", what, "the episode is closed but no ICPC or decision")
            if s.start < period.first:
                yield error(cid, "8740", what, "awaiting ICPC since before the census year")
            elif s.start < late:
                yield query(cid, "8675Q", what, "over 15 working days old and no ICPC date")
        for other in e.s47s:
            other_open = other.icpc is None and not other.icpc_not_required
            other_end = other.icpc or (period.last if other_open else None)
            if other is not s and other_end is not None and other.start <= s.start <= other_end:
                yield error(cid, "8890", what, "starts while another enquiry is ongoing")
    if awaiting > 1:
        yield error(cid, "8839", f"episode referred {e.referral_date}", "two enquiries await ICPCs")


def _plans(cid: str, e: CensusEpisode, period: Period) -> Iterator[Issue]:
    icpcs = {s.icpc for s in e.s47s if s.icpc is not None}
    for p in e.plans:
        what = f"plan started {p.start.isoformat()}"
        if p.start < e.referral_date:
            yield error(cid, "1105", what, "the plan starts before the referral")
        if period.holds_date(p.start) and p.start not in icpcs:
            yield error(cid, "2885", what, "the plan does not start on an ICPC date")
        if p.end is not None and p.end < p.start:
            yield error(cid, "8925", what, "the plan ends before it starts")
        if p.end is not None and p.end == p.start:
            yield error(cid, "8840", what, "the plan starts and ends on the same day")
        if any(r <= p.start for r in p.reviews):
            yield error(cid, "8841", what, "a review is on or before the plan's start")
