"""Conference rules as data: loading, overrides, quorum, invitees, dates, and agreement with SLA."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from schemas.envelope import Agency
from services.common.calendar import LONDON, WorkingCalendar
from services.conferences.adapters.rules import load_rules, shipped_rules_names
from services.conferences.domain.rules import QuorumRule, RulesError
from services.conferences.domain.schedule import (
    icpc_target,
    last_working_day_on_or_before,
    reports_due_by,
    review_target,
)
from services.sla.domain.deadlines import Deadline
from services.sla.policies import load_policy, shipped_policy_names

CALENDAR = WorkingCalendar.england_and_wales(2010, 2030)
A = Agency


def test_there_are_conference_rules_for_every_shipped_sla_policy() -> None:
    assert set(shipped_rules_names()) == set(shipped_policy_names())


@pytest.mark.parametrize("name", shipped_policy_names())
def test_conference_rules_agree_with_the_sla_policy_of_the_same_name(name: str) -> None:
    rules, policy = load_rules(name), load_policy(name)
    assert rules.name == policy.name
    assert policy.rule("icpc").deadline == Deadline(working_days=rules.icpc_working_days)
    assert policy.rule("first_review").deadline == Deadline(
        calendar_months=rules.first_review_months
    )
    assert policy.rule("review").deadline == Deadline(calendar_months=rules.review_months)


def test_wt2013_and_wt2010_reports_reach_parents_two_working_days_before() -> None:
    for name in ("wt2013", "wt2010"):
        rules = load_rules(name)
        assert rules.reports_before_working_days == 2
        deadline = load_policy(name).rule("conference_reports").deadline
        assert deadline == Deadline(working_days=-rules.reports_before_working_days)


def test_local_example_overrides_only_what_it_writes() -> None:
    rules = load_rules("local-example")
    assert rules.reports_before_working_days == 3
    assert A.EDUCATION in rules.invitations.always
    assert rules.icpc_working_days == 15
    assert rules.quorum == load_rules("wt2013").quorum


def test_a_council_file_is_laid_over_the_chosen_rules(tmp_path: Path) -> None:
    mine = tmp_path / "rotherham.toml"
    mine.write_text(
        'name = "rotherham"\nreports_before_working_days = 5\n[quorum]\nothers_at_least = 3\n'
    )
    rules = load_rules("wt2013", mine)
    assert (rules.name, rules.reports_before_working_days) == ("rotherham", 5)
    assert rules.quorum.others_at_least == 3
    assert rules.quorum.required == (A.SOCIAL_CARE,)


def test_a_council_file_must_name_itself(tmp_path: Path) -> None:
    mine = tmp_path / "x.toml"
    mine.write_text("reports_before_working_days = 5\n")
    with pytest.raises(RulesError, match="must set its own name"):
        load_rules("wt2013", mine)


def test_unknown_policy_and_invalid_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no conference rules for policy 'wt1999'"):
        load_rules("wt1999")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[quorum]\nrequired = ["martians"]\n')
    with pytest.raises(RulesError, match="bad"):
        load_rules("wt2013", bad)


# -- quorum and invitations -----------------------------------------------------------------------


def test_quorum_needs_social_care_plus_two_other_agencies() -> None:
    quorum = QuorumRule()
    assert quorum.is_met([A.SOCIAL_CARE, A.POLICE, A.HEALTH])
    assert not quorum.is_met([A.SOCIAL_CARE, A.POLICE])
    assert not quorum.is_met([A.POLICE, A.HEALTH, A.EDUCATION])  # no social care
    assert not quorum.is_met([A.SOCIAL_CARE, A.POLICE, A.PUBLIC])  # the public does not count
    assert quorum.describe() == "social_care plus at least 2 other agencies"


def test_invitees_are_the_usual_agencies_plus_those_named_never_the_excluded() -> None:
    rule = load_rules("wt2013").invitations
    assert rule.invitees([A.EDUCATION, A.OOH, A.PUBLIC]) == (
        A.POLICE,
        A.HEALTH,
        A.EDUCATION,
        A.SOCIAL_CARE,
    )


# -- dates ----------------------------------------------------------------------------------------


def test_icpc_target_counts_working_days_from_the_london_date() -> None:
    rules = load_rules()
    # 00:30 on Tuesday 22 April 2025 in London is still Easter Monday in UTC; day 0 is the
    # Tuesday, and 15 WD on (over the early May bank holiday) is Wednesday 14 May.
    just_after_midnight = datetime(2025, 4, 22, 0, 30, tzinfo=LONDON)
    assert icpc_target(just_after_midnight, rules, CALENDAR) == date(2025, 5, 14)


def test_review_target_moves_back_from_a_weekend_or_bank_holiday_never_forward() -> None:
    assert review_target(datetime(2025, 11, 25, 10, tzinfo=LONDON), 6, CALENDAR) == date(
        2026, 5, 22
    )  # 25 May 2026 is the spring bank holiday, 23-24 a weekend
    assert review_target(datetime(2025, 8, 1, 10, tzinfo=LONDON), 6, CALENDAR) == date(
        2026, 1, 30
    )  # 1 February 2026 is a Sunday
    assert review_target(datetime(2025, 11, 30, 10, tzinfo=LONDON), 3, CALENDAR) == date(
        2026, 2, 27
    )  # 30 February does not exist: 28th, a Saturday → Friday 27th
    assert last_working_day_on_or_before(date(2025, 12, 28), CALENDAR) == date(2025, 12, 24)


def test_reports_are_due_at_the_end_of_the_working_day_n_before_the_target() -> None:
    rules = load_rules()
    issued = datetime(2025, 4, 30, 9, tzinfo=LONDON)
    # Target Wednesday 7 May 2025; Monday 5 May is a bank holiday → Friday 2 May.
    due = reports_due_by(date(2025, 5, 7), issued, rules, CALENDAR)
    assert due == datetime(2025, 5, 2, 23, 59, 59, tzinfo=LONDON)


def test_reports_for_a_conference_booked_at_short_notice_are_due_at_once() -> None:
    rules = load_rules()
    issued = datetime(2025, 5, 6, 9, tzinfo=LONDON)
    assert reports_due_by(date(2025, 5, 7), issued, rules, CALENDAR) == issued
