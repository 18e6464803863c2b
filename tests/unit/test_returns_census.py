"""CIN census records and the export's own DfE-rule checks, from hand-written histories.

The census year ending 31 March 2025 runs from 1 April 2024 to 31 March 2025.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from schemas.codes import (
    AssessmentFactor,
    CategoryOfAbuse,
    Disability,
    Ethnicity,
    PrimaryNeedCode,
    ReferralSource,
    Sex,
    upn_check_letter,
)
from services.common.calendar import WorkingCalendar
from services.returns.domain.census import (
    CensusAssessment,
    CensusEpisode,
    CensusPlan,
    CensusSection47,
)
from services.returns.domain.census_return import CensusReturn, census_return
from services.returns.domain.history import fold_child
from services.returns.domain.issues import Severity
from services.returns.domain.periods import census_year
from tests.unit.test_returns_annex_a import plan_ended
from tests.unit.test_returns_story import Story, at, details

CALENDAR = WorkingCalendar.england_and_wales(2020, 2030)
YEAR = 2025


def census(*stories: Story, keep_invalid: bool = False) -> CensusReturn:
    until = census_year(YEAR).ends_at
    histories = [fold_child(s.child_id, s.events, until=until) for s in stories]
    return census_return(histories, year=YEAR, calendar=CALENDAR, keep_invalid=keep_invalid)


def rules(result: CensusReturn) -> list[tuple[str, str | None, str]]:
    return [(i.child_id, i.rule, i.severity.value) for i in result.issues]


def upn(body: str) -> str:
    return upn_check_letter(body) + body


def test_the_census_record_of_a_child_whose_plan_ended_in_the_year() -> None:
    result = census(plan_ended())
    (child,) = result.children
    assert (child.la_child_id, child.upn, child.upn_unknown) == ("BILAL2", None, None)
    assert (child.birth_date, child.sex, child.ethnicity) == (
        date(2012, 11, 3),
        Sex.MALE,
        Ethnicity.PAKISTANI,
    )
    assert child.disabilities == (Disability.AUTISM,)
    assert child.episodes == (  # the 2023 episode closed before the year: not in this census
        CensusEpisode(
            referral_date=date(2024, 10, 7),
            source=ReferralSource.POLICE,
            primary_need=PrimaryNeedCode.ABUSE_OR_NEGLECT,
            closure_date=None,
            closure_reason=None,
            referral_nfa=False,
            assessments=(
                CensusAssessment(
                    start=date(2024, 10, 8),
                    authorised=date(2024, 11, 20),
                    factors=(AssessmentFactor.DOMESTIC_ABUSE_PARENT,),
                ),
            ),
            s47s=(
                CensusSection47(
                    start=date(2024, 10, 8),
                    icpc_target=date(2024, 10, 28),  # 15 working days, 8 October being day 1
                    icpc=date(2024, 10, 24),
                    icpc_not_required=False,
                ),
            ),
            plans=(
                CensusPlan(
                    start=date(2024, 10, 24),
                    end=date(2025, 3, 12),
                    initial_category=CategoryOfAbuse.NEGLECT,
                    latest_category=CategoryOfAbuse.EMOTIONAL,
                    previous_plans=1,
                    reviews=(date(2025, 1, 22), date(2025, 3, 12)),
                ),
            ),
        ),
    )
    # born 2012, open for further action, no UPN and no recorded reason: a DfE query, not an error
    assert rules(result) == [("BILAL2", "8770Q", "query")]


def test_a_referral_closed_with_no_further_action_is_reported_with_upn_unknown_un7() -> None:
    s = Story("NFA1")
    referral = s.referral(at(date(2024, 6, 3)))
    s.closed(referral, at(date(2024, 6, 4)), reason="RC8", nfa=True)
    result = census(s)
    (child,) = result.children
    assert child.upn_unknown == "UN7"
    (episode,) = child.episodes
    assert (episode.referral_nfa, episode.assessments, episode.closure_date) == (
        True,
        (),
        date(2024, 6, 4),
    )


def test_an_unborn_child_is_reported_with_sex_u_whatever_was_recorded() -> None:
    s = Story(
        "UNBORN2",
        details(date_of_birth=None, expected_birth_date="2025-05-10", sex="F", disabilities=[]),
    )
    s.referral(at(date(2025, 2, 3)))
    (child,) = census(s).children
    assert (child.sex, child.birth_date, child.expected_birth_date) == (
        Sex.UNKNOWN,
        None,
        date(2025, 5, 10),
    )


def test_an_assessment_authorised_before_it_started_is_rule_8608_and_leaves_the_child_out() -> None:
    s = Story("BROKEN3", details(upn=upn("372200012345")))
    referral = s.referral(at(date(2024, 9, 2)))
    s.assessment(referral, at(date(2024, 9, 20)), at(date(2024, 9, 10)))
    result = census(s)
    assert result.children == ()
    assert result.left_out == ("BROKEN3",)
    assert rules(result) == [("BROKEN3", "8608", "error")]
    kept = census(s, keep_invalid=True)
    assert [c.la_child_id for c in kept.children] == ["BROKEN3"]


def test_a_child_without_disability_information_is_left_out_as_rule_8540() -> None:
    s = Story("NODIS4", details(disabilities=[], upn=upn("372200012346")))
    s.referral(at(date(2024, 11, 4)))
    result = census(s)
    assert (result.children, result.left_out) == ((), ("NODIS4",))
    (issue,) = result.issues
    assert (issue.rule, issue.item, issue.severity) == ("8540", "disability", Severity.ERROR)


def test_a_upn_recorded_for_two_children_leaves_both_out_as_rule_1520() -> None:
    shared = upn("372200012347")
    stories = [Story(f"TWIN{n}", details(upn=shared)) for n in (1, 2)]
    for s in stories:
        s.referral(at(date(2024, 11, 4)))
    result = census(*stories)
    assert result.left_out == ("TWIN1", "TWIN2")
    assert rules(result) == [("TWIN1", "1520", "error"), ("TWIN2", "1520", "error")]


def test_work_finished_before_the_census_year_is_not_reported() -> None:
    s = Story("OLD5", details(upn=upn("372200012348")))
    gone = s.referral(at(date(2023, 5, 2)))
    s.closed(gone, at(date(2024, 3, 28)))
    referral = s.referral(at(date(2024, 3, 4)))
    s.assessment(referral, at(date(2024, 3, 5)), at(date(2024, 3, 27)))
    s.assessment(referral, at(date(2024, 4, 2)))
    (child,) = census(s).children
    (episode,) = child.episodes
    assert episode.referral_date == date(2024, 3, 4)
    assert episode.assessments == (
        CensusAssessment(start=date(2024, 4, 2), authorised=None, factors=()),
    )


def test_a_child_with_two_open_episodes_is_rule_8815() -> None:
    s = Story("TWO6", details(upn=upn("372200012349")))
    s.referral(at(date(2024, 5, 1)))
    s.referral(at(date(2024, 8, 1)))
    assert ("TWO6", "8815", "error") in rules(census(s))


def test_an_event_the_history_cannot_place_is_an_error_not_a_silent_drop() -> None:
    s = Story("ODD7", details(upn=upn("372200012340")))
    referral = s.referral(at(date(2024, 5, 1)))
    s.assessment(referral, at(date(2024, 5, 2)), at(date(2024, 6, 2)))
    s.raw = [e for e in s.raw if e["event_type"] != "assessment.started"]
    result = census(s)
    assert rules(result) == [("ODD7", "history", "error")]
    assert "never started" in result.issues[0].message


def test_casework_whose_referral_is_missing_is_listed_not_silently_dropped() -> None:
    s = Story("NOREF8")
    referral = s.referral(at(date(2024, 5, 1)))
    s.raw = []  # the referral predates the system: only later casework is in the history
    s.assessment(referral, at(date(2024, 5, 2)))
    result = census(s)
    assert result.children == ()
    assert result.left_out == ("NOREF8",)
    assert rules(result) == [("NOREF8", "history", "error")]


def test_a_history_without_personal_details_names_each_missing_item() -> None:
    referral = Story("NODETAIL9")
    referral.referral(at(date(2024, 5, 1)))
    folded = fold_child("NODETAIL9", referral.events, until=census_year(YEAR).ends_at)
    history = replace(folded, details=None)
    result = census_return([history], year=YEAR, calendar=CALENDAR)
    assert result.left_out == ("NODETAIL9",)
    assert [(i.rule, i.item) for i in result.issues] == [
        ("4180", "sex"),
        ("4220", "ethnicity"),
        ("8525Q", "date of birth"),
    ]
