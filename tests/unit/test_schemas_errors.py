"""describe_validation_error: "field.path: rule" items joined by "; ", capped, without a single
submitted value."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from schemas.errors import (
    MAX_DESCRIPTION,
    ValueFreeError,
    describe_exception,
    describe_validation_error,
    field_path,
    scrub_values,
)
from schemas.events.contacts import ContactReceived
from schemas.headers import check_header
from schemas.registry import UnknownEventType, parse_event
from tests.unit.contract_examples import example

DOB = "2017-02-30"
NAME = "Zebedee-Quentin Farquharson-Smythe"


def refusal(data: dict[str, Any]) -> pydantic.ValidationError:
    with pytest.raises(pydantic.ValidationError) as caught:
        parse_event(data)
    return caught.value


def test_each_error_is_its_field_path_and_message_joined_by_semicolons() -> None:
    data = example("contact.received", 2)
    data["payload"]["child"]["family_name"] = NAME + "\x00"
    data["source"]["system"] = "cpoms\x00"
    assert describe_validation_error(refusal(data)) == (
        "source.system: control character U+0000 is not allowed in text; "
        "payload.child.family_name: control character U+0000 is not allowed in text"
    )


def test_a_missing_field_and_a_bad_date_are_described_without_the_values() -> None:
    data = example("contact.received", 2)
    del data["payload"]["contact_at"]
    data["payload"]["child"]["date_of_birth"] = DOB
    data["payload"]["child"]["family_name"] = NAME * 4  # too long
    text = describe_validation_error(refusal(data))
    assert "payload.contact_at: Field required" in text
    assert "payload.child.date_of_birth: " in text
    assert "payload.child.family_name: String should have at most 100 characters" in text
    assert DOB not in text
    assert NAME not in text
    assert "input" not in text
    assert "errors.pydantic.dev" not in text


def test_a_rule_across_fields_is_shown_at_the_model_that_holds_them() -> None:
    data = example("conference.icpc_held", 1)
    data["payload"]["plan_id"] = None  # plan without a plan id: a model-level rule
    text = describe_validation_error(refusal(data))
    assert text.startswith("payload: Value error, plan_id and category are required")


def test_an_error_about_the_whole_record_is_shown_at_the_root() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        ContactReceived.model_validate(["Jane Doe"])
    assert describe_validation_error(caught.value).startswith("(root): Input should be")
    assert "Jane" not in describe_validation_error(caught.value)
    assert field_path(()) == "(root)"


def test_many_errors_are_capped_at_whole_items_and_counted() -> None:
    data = example("contact.received", 2)
    data["payload"]["unknown"] = {f"field_{i}": i for i in range(10)}
    data["payload"].update({f"extra_{i:03}": i for i in range(200)})
    text = describe_validation_error(refusal(data))
    assert len(text) <= MAX_DESCRIPTION
    assert text.endswith(" more errors")
    kept = text.rsplit("; and ", 1)[0].split("; ")
    assert all(item.endswith(": Extra inputs are not permitted") for item in kept)


def test_a_single_overlong_item_is_cut_to_the_limit() -> None:
    data = example("contact.received", 2)
    data["payload"]["k" * 5000] = 1
    text = describe_validation_error(refusal(data), limit=120)
    assert len(text) <= 120
    assert text.startswith("payload." + "k" * 64 + "…")


def test_the_description_is_itself_safe_as_a_kafka_header() -> None:
    data = example("contact.received", 2)
    data["payload"]["child"]["given_name"] = "A\x00"
    data["payload"]["odd\x1bkey"] = 1  # a forbidden key is reported at its parent
    text = describe_validation_error(refusal(data))
    assert check_header("dlq.exception.message", text.encode()) is None
    assert "odd" not in text


# -- any exception: describe_exception / scrub_values ----------------------------------------


def test_an_asyncpg_unique_violation_is_described_without_its_detail_row() -> None:
    import asyncpg

    exc = asyncpg.exceptions.UniqueViolationError(
        'duplicate key value violates unique constraint "children_name_key"'
    )
    exc.detail = f"Key (family_name, date_of_birth)=({NAME}, {DOB}) already exists."
    exc.constraint_name = "children_name_key"
    exc.table_name = "children"
    text = describe_exception(exc)
    assert "constraint children_name_key" in text
    assert "sqlstate 23505" in text
    assert NAME not in text
    assert DOB not in text


def test_a_client_side_asyncpg_data_error_does_not_repeat_the_argument() -> None:
    exc = ValueError(f"invalid input for query argument $2: '{NAME}' (expected a date)")
    text = describe_exception(exc)
    assert text == "invalid input for query argument $2: '…' (expected a date)"


@pytest.mark.parametrize(
    "message",
    [
        f"1 validation error for X\nchild.given_name\n  bad [input_value='{NAME}', input_type=str]",
        f"DETAIL:  Key (family_name)=({NAME}) already exists.",
        f"{{'family_name': {NAME!r}, 'date_of_birth': {DOB!r}}}",
        f"family_name={NAME} given",
        f"born {DOB}, datetime.date(2017, 2, 3), 03/02/2017 at SW1A 1AA, 07700 900123",
        "write to zebedee.quentin@example.org",
    ],
)
def test_library_messages_lose_what_may_be_a_value(message: str) -> None:
    text = scrub_values(message)
    for value in (NAME, DOB, "2017, 2, 3", "03/02/2017", "SW1A 1AA", "07700 900123", "zebedee"):
        assert value not in text


def test_snake_case_identifiers_and_numbers_stay_readable() -> None:
    text = scrub_values('relation "dead_letters" offset 1234 on 127.0.0.1:5432')
    assert text == 'relation "dead_letters" offset 1234 on 127.0.0.1:5432'


def test_value_free_errors_are_kept_as_written() -> None:
    assert describe_exception(ValueFreeError("header 'dlq.reason' value: bad")) == (
        "header 'dlq.reason' value: bad"
    )


def test_an_event_type_that_is_not_a_type_name_is_not_repeated() -> None:
    data = example("contact.received", 2)
    data["event_type"] = NAME
    with pytest.raises(UnknownEventType) as caught:
        parse_event(data)
    assert NAME not in str(caught.value)
    assert "(not a type name)" in str(caught.value)


def test_field_paths_and_ids_stay_but_a_dotted_name_does_not() -> None:
    event_id = "12345678-1234-5678-9abc-123456789012"
    text = scrub_values(
        f"the event has no field 'payload.no_such_field'; event {event_id}; by 'john.smith'; "
        "NHS 943 476 5919"
    )
    assert (
        text == f"the event has no field 'payload.no_such_field'; event {event_id}; by '…'; NHS …"
    )
