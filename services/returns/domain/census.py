"""The DfE Children in Need census records, selected from children's histories for one year.

A child is in the census for the year ending 31 March YYYY when one of their CIN episodes was open
at some point in it (referred on or before 31 March, not closed before 1 April). Within an
episode the modules the DfE rules expect are kept: assessments authorised in the year or still
open; section 47 enquiries that started in the year, held their ICPC in the year or are still
awaiting one; child protection plans open at some point in the year, with the reviews held in it.

Values come from the history only. ``InitialCPCtarget`` follows the DfE validator's convention —
15 working days from the strategy discussion that started the enquiry, counting that day as
day 1 (``WorkingCalendar.dfe_target_date``; frontdoor's own ICPC clock counts it as day 0 and so
falls due one working day later). A missing UPN is reported with ``UPNunknown`` only where the
history states the reason: ``UN7`` when every episode is a referral with no further action.
An unborn child's sex is ``U`` (DfE rule 8750) whatever was recorded. ``CINPlanDates`` are not
produced: the event contract has no CIN plan events to date them from. A child whose history
lacks sex, ethnicity or any birth date has no record; ``census_child`` returns the errors instead.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from schemas.codes import (
    AssessmentFactor,
    CategoryOfAbuse,
    Disability,
    Ethnicity,
    PrimaryNeedCode,
    ReasonForClosure,
    ReferralSource,
    Sex,
)
from services.common.calendar import WorkingCalendar
from services.returns.domain.history import ChildHistory, Episode
from services.returns.domain.issues import Issue, error
from services.returns.domain.periods import Period, london_date

ICPC_WORKING_DAYS = 15


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CensusAssessment(_Frozen):
    start: date
    authorised: date | None
    factors: tuple[AssessmentFactor, ...]


class CensusSection47(_Frozen):
    start: date
    icpc_target: date
    icpc: date | None
    icpc_not_required: bool


class CensusPlan(_Frozen):
    start: date
    end: date | None
    initial_category: CategoryOfAbuse
    latest_category: CategoryOfAbuse
    previous_plans: int
    reviews: tuple[date, ...]


class CensusEpisode(_Frozen):
    referral_date: date
    source: ReferralSource
    primary_need: PrimaryNeedCode
    closure_date: date | None
    closure_reason: ReasonForClosure | None
    referral_nfa: bool
    assessments: tuple[CensusAssessment, ...]
    s47s: tuple[CensusSection47, ...]
    plans: tuple[CensusPlan, ...]


class CensusChild(_Frozen):
    la_child_id: str
    upn: str | None
    upn_unknown: str | None
    birth_date: date | None
    expected_birth_date: date | None
    sex: Sex
    ethnicity: Ethnicity
    disabilities: tuple[Disability, ...]
    episodes: tuple[CensusEpisode, ...]


def in_census(episode: Episode, period: Period) -> bool:
    """The episode was open at some point in the census year."""
    return london_date(episode.referral_at) <= period.last and (
        episode.closed_at is None or london_date(episode.closed_at) >= period.first
    )


def census_child(
    history: ChildHistory, period: Period, calendar: WorkingCalendar
) -> tuple[CensusChild | None, tuple[Issue, ...]]:
    """The child's census record, or None with the errors that prevent one.

    ``(None, ())`` means the child had no episode open in the year and is simply not in it.
    """
    episodes = [e for e in history.episodes if in_census(e, period)]
    if not episodes:
        return None, ()
    d = history.details
    cid = history.child_id
    if d is None:
        why = "no contact or referral in the history carries the child's details"
        return None, (
            error(cid, "4180", "sex", why),
            error(cid, "4220", "ethnicity", why),
            error(cid, "8525Q", "date of birth", why),
        )
    records = tuple(_episode(history, e, period, calendar) for e in episodes)
    upn_unknown = None
    if d.upn is None and all(e.referral_nfa for e in records):
        upn_unknown = "UN7"
    child = CensusChild(
        la_child_id=cid,
        upn=d.upn,
        upn_unknown=upn_unknown,
        birth_date=d.date_of_birth,
        expected_birth_date=d.expected_birth_date,
        sex=Sex.UNKNOWN if d.unborn else d.sex,
        ethnicity=d.ethnicity,
        disabilities=d.disabilities,
        episodes=records,
    )
    return child, ()


def _episode(
    history: ChildHistory, episode: Episode, period: Period, calendar: WorkingCalendar
) -> CensusEpisode:
    closed = london_date(episode.closed_at) if episode.closed_at else None
    assessments = tuple(
        CensusAssessment(
            start=london_date(a.started_at),
            authorised=london_date(a.authorised_at) if a.authorised_at else None,
            factors=a.factors if a.authorised_at else (),
        )
        for a in episode.assessments
        if a.authorised_at is None or period.holds(a.authorised_at)
    )
    s47s = []
    for s in episode.s47s:
        not_required = s.icpc_at is None and s.icpc_required is False
        awaiting = s.icpc_at is None and not not_required
        if period.holds(s.started_at) or period.holds(s.icpc_at) or awaiting:
            strategy = london_date(s.strategy_held_at or s.started_at)
            s47s.append(
                CensusSection47(
                    start=london_date(s.started_at),
                    icpc_target=calendar.dfe_target_date(strategy, ICPC_WORKING_DAYS),
                    icpc=london_date(s.icpc_at) if s.icpc_at else None,
                    icpc_not_required=not_required,
                )
            )
    plans = []
    for plan in episode.plans:
        end = london_date(plan.ended_at) if plan.ended_at else None
        start = london_date(plan.started_at)
        if start <= period.last and (end is None or end >= period.first):
            plans.append(
                CensusPlan(
                    start=start,
                    end=end,
                    initial_category=plan.initial_category,
                    latest_category=plan.latest_category(period.ends_at),
                    previous_plans=sum(1 for p in history.plans if p.started_at < plan.started_at),
                    reviews=tuple(london_date(r.at) for r in plan.reviews if period.holds(r.at)),
                )
            )
    return CensusEpisode(
        referral_date=london_date(episode.referral_at),
        source=episode.source,
        primary_need=episode.primary_need,
        closure_date=closed,
        closure_reason=episode.closure_reason,
        referral_nfa=episode.referral_nfa,
        assessments=assessments,
        s47s=tuple(s47s),
        plans=tuple(plans),
    )
