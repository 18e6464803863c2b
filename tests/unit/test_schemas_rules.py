"""Invariants inside one event, enforced by the models' validators."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pydantic
import pytest

from schemas.codes import DashRiskLevel, upn_check_letter
from schemas.events.contacts import ContactReceived
from schemas.registry import parse_event
from tests.unit.test_schemas_envelope import child, contact


def event(event_type: str, payload: dict[str, Any], *, agency: str = "social_care") -> Any:
    return parse_event(
        {
            "event_id": str(uuid4()),
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": "2024-06-05T10:00:00+01:00",
            "source": {"agency": agency, "system": "mosaic", "ref": "R-1"},
            "subject": {"child_id": "C-1"},
            "payload": payload,
        }
    )


def assessment(factors: list[str]) -> Any:
    return event(
        "assessment.authorised",
        {
            "assessment_id": str(uuid4()),
            "referral_id": str(uuid4()),
            "authorised_at": "2024-06-05T10:00:00+01:00",
            "child_seen": True,
            "factors": factors,
            "outcome": "cin_plan",
        },
    )


def da(count: int, level: str, judgement: str | None = None) -> Any:
    return event(
        "police.da_notification",
        {
            "contact_id": str(uuid4()),
            "contact_at": "2024-06-05T08:00:00+01:00",
            "police_ref": "14/123456/24",
            "incident_at": "2024-06-04T23:10:00+01:00",
            "dash_yes_count": count,
            "dash_risk_level": level,
            "officer_judgement_level": judgement,
            "children_present": True,
            "child_injured": False,
            "previous_incidents_12m": 1,
            "summary": "Verbal argument, neighbours called police.",
            "child": child(),
        },
        agency="police",
    )


def icpc(**overrides: Any) -> Any:
    payload = {
        "conference_id": str(uuid4()),
        "s47_id": str(uuid4()),
        "referral_id": str(uuid4()),
        "conference_at": "2024-06-26T10:00:00+01:00",
        "invited_agencies": ["police", "health", "education"],
        "plan": True,
        "plan_id": str(uuid4()),
        "category": "NEG",
    } | overrides
    return event("conference.icpc_held", payload)


def test_assessment_factor_21_must_be_used_alone() -> None:
    with pytest.raises(pydantic.ValidationError, match="21"):
        assessment(["21", "3B"])


def test_assessment_factor_21_alone_is_accepted() -> None:
    assert [f.value for f in assessment(["21"]).payload.factors] == ["21"]


def test_assessment_needs_at_least_one_factor_and_no_repeats() -> None:
    with pytest.raises(pydantic.ValidationError):
        assessment([])
    with pytest.raises(pydantic.ValidationError, match="repeat"):
        assessment(["3B", "3B"])


@pytest.mark.parametrize(
    ("count", "level"),
    [(0, "standard"), (9, "standard"), (10, "medium"), (13, "medium"), (14, "high"), (27, "high")],
)
def test_dash_level_follows_the_yes_count(count: int, level: str) -> None:
    assert da(count, level).payload.dash_risk_level == DashRiskLevel(level)


def test_dash_level_inconsistent_with_count_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="inconsistent"):
        da(15, "medium")
    with pytest.raises(pydantic.ValidationError, match="inconsistent"):
        da(3, "high")


def test_officer_judgement_may_raise_the_level() -> None:
    assert da(5, "high", judgement="high").payload.dash_risk_level is DashRiskLevel.HIGH


def test_officer_judgement_never_lowers_the_level() -> None:
    with pytest.raises(pydantic.ValidationError, match="never lower"):
        da(16, "medium", judgement="medium")


def test_recorded_level_must_match_the_raised_judgement() -> None:
    with pytest.raises(pydantic.ValidationError, match="inconsistent"):
        da(5, "standard", judgement="high")


def test_dash_count_is_at_most_27() -> None:
    with pytest.raises(pydantic.ValidationError, match="dash_yes_count"):
        da(28, "high")


def test_icpc_with_a_plan_needs_a_category_and_a_plan_id() -> None:
    with pytest.raises(pydantic.ValidationError, match="plan_id and category"):
        icpc(category=None)
    with pytest.raises(pydantic.ValidationError, match="plan_id and category"):
        icpc(plan=False)
    assert icpc(plan=False, plan_id=None, category=None).payload.plan is False


def test_conference_on_a_london_weekend_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="weekend"):
        icpc(conference_at="2024-06-29T10:00:00+01:00")  # a Saturday
    # Friday 23:30 UTC is already Saturday 00:30 in London (BST).
    with pytest.raises(pydantic.ValidationError, match="weekend"):
        icpc(conference_at="2024-06-28T23:30:00+00:00")


def test_upn_check_letter_matches_a_hand_computed_example() -> None:
    # 1 x weight 13 = 13; 13 mod 23 indexes the 14th letter of the check alphabet (no I, O, S).
    assert upn_check_letter("000000000001") == "P"


def test_upn_with_a_wrong_check_letter_is_rejected() -> None:
    body = "372123423001"
    good = upn_check_letter(body)
    wrong = "A" if good != "A" else "B"
    parse_event(contact(child=child() | {"upn": good + body}))
    with pytest.raises(pydantic.ValidationError, match="check letter"):
        parse_event(contact(child=child() | {"upn": wrong + body}))


def test_child_needs_exactly_one_of_birth_date_and_expected_birth_date() -> None:
    unborn = child() | {"date_of_birth": None, "expected_birth_date": "2024-09-01"}
    parsed = parse_event(contact(child=unborn))
    assert isinstance(parsed, ContactReceived)
    assert parsed.payload.child.expected_birth_date is not None
    with pytest.raises(pydantic.ValidationError, match="exactly one"):
        parse_event(contact(child=child() | {"expected_birth_date": "2024-09-01"}))
    with pytest.raises(pydantic.ValidationError, match="exactly one"):
        parse_event(contact(child=child() | {"date_of_birth": None}))


def test_disability_none_cannot_be_combined() -> None:
    with pytest.raises(pydantic.ValidationError, match="NONE"):
        parse_event(contact(child=child() | {"disabilities": ["NONE", "AUT"]}))


def test_referral_decision_needs_a_referral_id_and_others_do_not_have_one() -> None:
    base = {
        "contact_id": str(uuid4()),
        "decided_at": "2024-06-05T15:00:00+01:00",
        "reason": "Threshold met.",
        "team": "MASH",
    }
    with pytest.raises(pydantic.ValidationError, match="referral_id"):
        event("screening.decision_recorded", base | {"decision": "referral"})
    with pytest.raises(pydantic.ValidationError, match="referral_id"):
        event(
            "screening.decision_recorded",
            base | {"decision": "early_help", "referral_id": str(uuid4())},
        )


def test_breach_is_never_announced_before_the_deadline() -> None:
    timer = {
        "timer_id": str(uuid4()),
        "kind": "icpc",
        "policy": "wt2013",
        "started_at": "2024-06-05T10:00:00+01:00",
        "due_at": "2024-06-26T23:59:59+01:00",
    }
    with pytest.raises(pydantic.ValidationError, match="before its deadline"):
        event("sla.breached", timer | {"breached_at": "2024-06-26T23:00:00+01:00"})
    ok = event("sla.breached", timer | {"breached_at": "2024-06-27T00:00:01+01:00"})
    assert ok.payload.breached_at > ok.payload.due_at


def test_child_seen_alone_implies_child_seen() -> None:
    with pytest.raises(pydantic.ValidationError, match="seen alone"):
        event(
            "visit.recorded",
            {
                "visit_id": str(uuid4()),
                "visit_at": "2024-06-05T10:00:00+01:00",
                "kind": "cin",
                "child_seen": False,
                "seen_alone": True,
            },
        )
