"""The registry: lookup by (event_type, schema_version), upcasting, and its error contract."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

import orjson
import pydantic
import pytest

import schemas.registry as registry
from schemas import upcasting
from schemas.events.contacts import ContactReceived
from schemas.registry import (
    EVENT_MODELS,
    INBOUND_TYPES,
    OUTBOUND_TYPES,
    UnknownEventType,
    event_key,
    latest_model,
    latest_version,
    parse_event,
    parse_event_json,
)
from tests.unit.test_schemas_envelope import contact


def contact_v1(name: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid4()),
        "event_type": "contact.received",
        "schema_version": 1,
        "occurred_at": "2019-02-01T10:00:00+00:00",
        "source": {"agency": "health", "system": "systmone", "ref": "HV-9"},
        "subject": {"child_id": "C-9"},
        "payload": {
            "contact_id": str(uuid4()),
            "contact_at": "2019-02-01T09:55:00+00:00",
            "referral_source": "3B",
            "concern": "neglect",
            "summary": "Home conditions poor at new birth visit.",
            "child": {
                "name": name,
                "date_of_birth": "2019-01-20",
                "sex": "M",
                "ethnicity": "NOBT",
            },
        },
    }


def test_unknown_event_type_raises_unknown_event_type() -> None:
    data = contact(event_type="contact.teleported")
    with pytest.raises(UnknownEventType) as caught:
        parse_event(data)
    assert caught.value.event_type == "contact.teleported"
    assert caught.value.schema_version == 2


def test_unregistered_version_raises_unknown_event_type() -> None:
    with pytest.raises(UnknownEventType) as caught:
        parse_event(contact(schema_version=3))
    assert caught.value.event_type == "contact.received"
    assert caught.value.schema_version == 3


def test_boolean_schema_version_is_not_version_one() -> None:
    with pytest.raises(UnknownEventType) as caught:
        parse_event(contact(event_type="case.closed", schema_version=True))
    assert caught.value.schema_version is None


@pytest.mark.parametrize("bad", [None, 7, ["contact.received"], {"x": 1}])
def test_missing_or_non_string_event_type_raises_unknown_event_type(bad: object) -> None:
    data = contact()
    data["event_type"] = bad
    with pytest.raises(UnknownEventType) as caught:
        parse_event(data)
    assert caught.value.event_type is None


def test_unknown_event_type_is_a_value_error() -> None:
    assert issubclass(UnknownEventType, ValueError)


def test_json_that_is_not_an_object_raises_unknown_event_type() -> None:
    with pytest.raises(UnknownEventType):
        parse_event_json(b"[1, 2, 3]")


def test_bytes_that_are_not_json_raise_orjson_decode_error() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        parse_event_json(b"{not json")


def test_parse_event_json_validates_like_parse_event() -> None:
    data = contact()
    assert parse_event_json(orjson.dumps(data)) == parse_event(data)


def test_contact_received_v1_is_upcast_to_v2() -> None:
    event = parse_event(contact_v1("Mary Jane Watson"))
    assert isinstance(event, ContactReceived)
    assert event.schema_version == 2
    assert event.payload.child.given_name == "Mary Jane"
    assert event.payload.child.family_name == "Watson"


def test_v1_single_word_name_becomes_the_family_name() -> None:
    event = parse_event(contact_v1("Baby"))
    assert isinstance(event, ContactReceived)
    assert event.payload.child.given_name is None
    assert event.payload.child.family_name == "Baby"


def test_invalid_v1_event_fails_validation_against_v1_not_in_the_upcaster() -> None:
    data = contact_v1("Ann Lee")
    del data["payload"]["child"]["name"]
    with pytest.raises(pydantic.ValidationError, match="name"):
        parse_event(data)


def test_upcasting_does_not_mutate_the_input() -> None:
    data = contact_v1("Ann Lee")
    before = orjson.dumps(data)
    parse_event(data)
    assert orjson.dumps(data) == before


def test_upcaster_to_no_registered_model_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(upcasting.UPCASTERS, ("case.closed", 1), lambda event: event)
    with pytest.raises(RuntimeError, match=r"case\.closed"):
        registry._build_upcast_plans()


def test_superseded_version_without_upcaster_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(upcasting.UPCASTERS, ("contact.received", 1))
    with pytest.raises(RuntimeError, match="no upcaster"):
        registry._build_upcast_plans()


def test_every_model_is_registered_under_its_own_literals() -> None:
    for key, model in EVENT_MODELS.items():
        assert event_key(model) == key


def test_inbound_and_outbound_types_are_disjoint_and_registered() -> None:
    assert not INBOUND_TYPES & OUTBOUND_TYPES
    registered = {event_type for event_type, _ in EVENT_MODELS}
    assert registered == INBOUND_TYPES | OUTBOUND_TYPES


def test_minimum_inbound_types_from_the_design_are_registered() -> None:
    design = {
        "contact.received", "police.da_notification", "screening.decision_recorded",
        "referral.accepted", "assessment.started", "assessment.authorised",
        "strategy_discussion.held", "s47.started", "s47.completed",
        "conference.report_submitted", "conference.icpc_held", "core_group.held",
        "conference.rcpc_held", "cp_plan.ended", "visit.recorded", "case.closed",
        "ooh.action_recorded",
    }  # fmt: skip
    assert design <= INBOUND_TYPES


def test_latest_version_and_model() -> None:
    assert latest_version("contact.received") == 2
    assert latest_model("contact.received") is ContactReceived
    with pytest.raises(UnknownEventType):
        latest_version("no.such")


def test_parse_speed_is_reported() -> None:
    """Micro-benchmark, printed for information only (run with -s); no timing assertion."""
    data = [contact() for _ in range(2000)]
    raw = [orjson.dumps(d) for d in data]
    started = time.perf_counter()
    parsed = [parse_event_json(item) for item in raw]
    elapsed = time.perf_counter() - started
    print(f"\nparse_event_json: {len(raw) / elapsed:,.0f} contact.received events/s on one core")
    assert [event.event_id for event in parsed] == [
        event.event_id for event in map(parse_event, data)
    ]
