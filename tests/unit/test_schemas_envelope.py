"""The envelope and its rules: frozen, unknown fields rejected, aware times, safe child ids."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pydantic
import pytest

from schemas.events.contacts import ContactReceived
from schemas.registry import parse_event


def child() -> dict[str, Any]:
    return {
        "given_name": "Amy",
        "family_name": "Smith",
        "date_of_birth": "2016-03-01",
        "sex": "F",
        "ethnicity": "WBRI",
    }


def contact(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "contact_id": str(uuid4()),
        "contact_at": "2024-06-05T09:30:00+01:00",
        "referral_source": "2A",
        "concern": "neglect",
        "summary": "Child arrives hungry most mornings.",
        "child": child(),
    }
    data: dict[str, Any] = {
        "event_id": str(uuid4()),
        "event_type": "contact.received",
        "schema_version": 2,
        "occurred_at": "2024-06-05T09:31:00+01:00",
        "source": {"agency": "education", "system": "cpoms", "ref": "CP-1"},
        "subject": {"child_id": "C-1001", "family_id": "F-77"},
        "payload": payload,
    }
    for key, value in overrides.items():
        if key in payload:
            payload[key] = value
        else:
            data[key] = value
    return data


def test_valid_contact_parses_into_its_model() -> None:
    event = parse_event(contact())
    assert isinstance(event, ContactReceived)
    assert event.subject.child_id == "C-1001"
    assert event.payload.child.family_name == "Smith"


def test_unknown_top_level_field_is_rejected() -> None:
    data = contact()
    data["priority"] = "high"
    with pytest.raises(pydantic.ValidationError, match="priority"):
        parse_event(data)


def test_unknown_payload_field_is_rejected() -> None:
    data = contact()
    data["payload"]["address"] = "1 High Street"
    with pytest.raises(pydantic.ValidationError, match="address"):
        parse_event(data)


def test_unknown_nested_field_is_rejected() -> None:
    data = contact()
    data["source"]["password"] = "x"
    with pytest.raises(pydantic.ValidationError, match="password"):
        parse_event(data)


def test_events_are_frozen() -> None:
    event = parse_event(contact())
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        event.event_type = "case.closed"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        event.subject.child_id = "C-2"  # type: ignore[misc]


def test_naive_occurred_at_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="timezone"):
        parse_event(contact(occurred_at="2024-06-05T09:31:00"))


def test_naive_payload_time_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="timezone"):
        parse_event(contact(contact_at="2024-06-05T09:30:00"))


@pytest.mark.parametrize("child_id", ["", "C 1", "../etc", "C1;drop", "x" * 65, "-C1"])
def test_child_id_must_be_1_to_64_safe_characters(child_id: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="child_id"):
        parse_event(contact(subject={"child_id": child_id}))


def test_child_id_of_64_safe_characters_is_accepted() -> None:
    child_id = "C" + "a1._:-" * 10 + "abc"
    assert len(child_id) == 64
    assert parse_event(contact(subject={"child_id": child_id})).subject.child_id == child_id


def test_unknown_agency_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="agency"):
        parse_event(contact(source={"agency": "army", "system": "x", "ref": "1"}))


def test_unknown_census_code_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="referral_source"):
        parse_event(contact(referral_source="11"))


def test_event_round_trips_through_its_json() -> None:
    event = parse_event(contact())
    again = parse_event(event.model_dump(mode="json"))
    assert again == event
