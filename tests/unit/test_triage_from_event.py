"""From a contact or police DA notification, plus history, to the facts triage reads."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from schemas.codes import DashRiskLevel, HighRiskMarker, TriagePriority
from schemas.events.contacts import ContactReceived, PoliceDaNotification
from services.screening.adapters.rules_file import load_rules
from services.screening.domain.from_event import (
    TriageHistory,
    age_in_years,
    incidents_in_year_before,
    triage_input_from_event,
)
from services.screening.domain.triage import triage

INCIDENT = datetime(2024, 6, 4, 23, 30, tzinfo=UTC)  # 00:30 on 5 June in London (BST)
RECEIVED = INCIDENT + timedelta(hours=9)
NO_HISTORY = TriageHistory()


def child(**changes: Any) -> dict[str, Any]:
    return {
        "family_name": "Example",
        "date_of_birth": "2016-03-01",
        "sex": "F",
        "ethnicity": "WBRI",
        **changes,
    }


def envelope(event_type: str, version: int, agency: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": version,
        "occurred_at": RECEIVED.isoformat(),
        "source": {"agency": agency, "system": "test", "ref": "R1"},
        "subject": {"child_id": f"C{uuid.uuid4().hex[:8]}"},
        "payload": payload,
    }


def da_notification(**changes: Any) -> PoliceDaNotification:
    payload: dict[str, Any] = {
        "contact_id": str(uuid.uuid4()),
        "contact_at": RECEIVED.isoformat(),
        "police_ref": "OCC-1",
        "incident_at": INCIDENT.isoformat(),
        "dash_yes_count": 6,
        "dash_risk_level": "standard",
        "children_present": True,
        "child_injured": False,
        "previous_incidents_12m": 0,
        "summary": "narrative",
        "child": child(),
        **changes,
    }
    return PoliceDaNotification.model_validate(
        envelope("police.da_notification", 1, "police", payload)
    )


def contact(**changes: Any) -> ContactReceived:
    payload: dict[str, Any] = {
        "contact_id": str(uuid.uuid4()),
        "contact_at": RECEIVED.isoformat(),
        "referral_source": "2A",
        "concern": "neglect",
        "summary": "narrative",
        "child": child(),
        **changes,
    }
    return ContactReceived.model_validate(envelope("contact.received", 2, "education", payload))


def test_a_notification_carries_its_dash_markers_and_presence() -> None:
    event = da_notification(
        dash_yes_count=11,
        dash_risk_level="high",
        officer_judgement_level="high",
        high_risk_markers=["stalking"],
        child_injured=True,
    )
    facts = triage_input_from_event(event, NO_HISTORY)
    assert facts.kind == "da_notification"
    assert facts.source_agency == "police"
    assert facts.received_at == RECEIVED
    assert facts.dash_yes_count == 11
    assert facts.dash_risk_level is DashRiskLevel.HIGH
    assert facts.officer_judgement_level is DashRiskLevel.HIGH
    assert facts.high_risk_markers == {HighRiskMarker.STALKING}
    assert facts.children_present
    assert facts.child_injured


def test_ages_are_taken_on_the_london_date_of_the_incident() -> None:
    # born 5 June 2020: 4 on the London date (5 June) though still 4 June in UTC
    event = da_notification(child=child(date_of_birth="2020-06-05"))
    assert triage_input_from_event(event, NO_HISTORY).child_ages_years == (4,)


def test_household_children_join_the_subject_child() -> None:
    event = da_notification(
        household_children=[{"date_of_birth": "2024-01-10"}, {"age_years": 15}],
    )
    assert triage_input_from_event(event, NO_HISTORY).child_ages_years == (8, 0, 15)


def test_an_unborn_child_counts_as_under_one() -> None:
    event = da_notification(child=child(date_of_birth=None, expected_birth_date="2024-09-01"))
    facts = triage_input_from_event(event, NO_HISTORY)
    assert facts.youngest_age == 0


@pytest.mark.parametrize(
    ("disabilities", "special"), [([], False), (["NONE"], False), (["AUT"], True)]
)
def test_special_needs_means_a_disability_code_other_than_none(
    disabilities: list[str], special: bool
) -> None:
    event = da_notification(child=child(disabilities=disabilities))
    assert triage_input_from_event(event, NO_HISTORY).special_needs is special


def test_previous_incidents_take_the_larger_of_police_and_our_history() -> None:
    history = TriageHistory(incidents_at=(INCIDENT - timedelta(days=30),) * 2)
    assert triage_input_from_event(da_notification(), history).previous_incidents_12m == 2
    police = da_notification(previous_incidents_12m=3)
    assert triage_input_from_event(police, history).previous_incidents_12m == 3


def test_history_counts_the_calendar_year_before_the_incident_only() -> None:
    year_before = datetime(2023, 6, 4, 23, 30, tzinfo=UTC)
    times = (
        year_before - timedelta(seconds=1),  # too old
        year_before,  # exactly one year: counted
        INCIDENT - timedelta(minutes=1),
        INCIDENT,  # this incident itself: not counted
        INCIDENT + timedelta(hours=1),  # recorded after it: not counted
    )
    assert incidents_in_year_before(times, INCIDENT) == 2


def test_a_year_before_29_february_is_28_february() -> None:
    leap = datetime(2024, 2, 29, 12, tzinfo=UTC)
    times = (datetime(2023, 2, 28, 12, tzinfo=UTC), datetime(2023, 2, 28, 11, tzinfo=UTC))
    assert incidents_in_year_before(times, leap) == 1


@pytest.mark.parametrize(
    ("born", "on", "years"),
    [
        (date(2020, 6, 5), date(2024, 6, 4), 3),
        (date(2020, 6, 5), date(2024, 6, 5), 4),
        (date(2020, 2, 29), date(2021, 2, 28), 0),
        (date(2020, 2, 29), date(2021, 3, 1), 1),
        (date(2024, 7, 1), date(2024, 6, 5), 0),
    ],
)
def test_age_in_whole_years(born: date, on: date, years: int) -> None:
    assert age_in_years(born, on) == years


def test_history_supplies_the_open_plan_and_team() -> None:
    history = TriageHistory(open_cp_plan=True, open_case_team="Team North")
    facts = triage_input_from_event(da_notification(), history)
    assert facts.open_cp_plan
    assert facts.open_case_team == "Team North"


def test_a_general_contact_has_no_dash_and_uses_the_contact_date() -> None:
    facts = triage_input_from_event(contact(), NO_HISTORY)
    assert facts.kind == "contact"
    assert facts.source_agency == "education"
    assert facts.dash_yes_count is None
    assert facts.dash_risk_level is None
    assert not facts.children_present
    assert facts.child_ages_years == (8,)


def test_professional_judgement_is_passed_through() -> None:
    facts = triage_input_from_event(
        da_notification(), NO_HISTORY, professional_judgement_level=DashRiskLevel.MEDIUM
    )
    assert facts.professional_judgement_level is DashRiskLevel.MEDIUM


def test_a_notification_about_a_school_child_triages_end_to_end() -> None:
    event = da_notification(child=child(date_of_birth="2019-01-01"), previous_incidents_12m=3)
    result = triage(
        triage_input_from_event(event, NO_HISTORY),
        load_rules(),
        calendar_due=lambda _p, received: received + timedelta(hours=24),
        out_of_hours=False,
    )
    # standard, under 7 and escalation: two raises, stopped at amber (age alone never makes red)
    assert result.priority is TriagePriority.AMBER
    assert result.starts_operation_encompass
    assert result.marac_indicated
