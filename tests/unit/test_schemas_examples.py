"""The published examples (``schemas.examples``): one per event model, valid against the model and
against the generated JSON Schema, present in every schema file, the AsyncAPI document and the
partner API's OpenAPI document — and the partner API's messages name event types, never a Python
class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pydantic
import pytest

from schemas import export
from schemas.envelope import Agency
from schemas.events import INBOUND_MODELS
from schemas.examples import EXAMPLES, example, fresh_ids
from schemas.registry import EVENT_MODELS, INBOUND_TYPES, event_key
from services.ingress.config import IngressSettings
from services.ingress.domain.submission import EventRejected, check, read_submission
from services.ingress.openapi import DOC_PATH
from tests.unit.contract_examples import mapping_paths, replaced

KEYS = [pytest.param(key, id=f"{key[0]}.v{key[1]}") for key in EXAMPLES]
INBOUND_KEYS = [p for p in KEYS if p.values[0][0] in INBOUND_TYPES]  # type: ignore[index]
JSON_DIR = export.PACKAGE_DIR / export.JSON_DIR_NAME

# payload fields an example leaves out because another field of the same event excludes them
EXCLUSIVE: dict[tuple[str, int], set[str]] = {
    ("conference.invitation_issued", 1): {"review_target_date"},  # an ICPC has no review date
}
INVENTED_NAMES = {"Alex", "Example", "Amy Example"}


def _schema_file(key: tuple[str, int]) -> dict[str, Any]:
    path = JSON_DIR / export.schema_file_name(*key)
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def test_every_registered_model_has_an_example() -> None:
    assert set(EXAMPLES) == set(EVENT_MODELS)


@pytest.mark.parametrize("key", KEYS)
def test_the_example_validates_against_its_model(key: tuple[str, int]) -> None:
    event = EVENT_MODELS[key].model_validate(example(*key))
    assert (event.event_type, event.schema_version) == key


@pytest.mark.parametrize("key", KEYS)
def test_the_example_validates_against_its_generated_json_schema(key: tuple[str, int]) -> None:
    schema = export.event_schema(EVENT_MODELS[key])
    validator = _validator(schema)
    errors = [e.message for e in validator.iter_errors(example(*key))]
    assert errors == []
    # and a broken copy does not: the validator really checks
    broken = replaced(example(*key), ("occurred_at",), "04/03/2025")
    assert not validator.is_valid(broken)


@pytest.mark.parametrize("key", KEYS)
def test_the_committed_schema_file_carries_the_example_and_accepts_it(
    key: tuple[str, int],
) -> None:
    schema = _schema_file(key)
    assert schema["examples"] == [example(*key)]
    assert _validator(schema).is_valid(schema["examples"][0])


@pytest.mark.parametrize("key", KEYS)
def test_every_field_a_partner_sets_is_filled(key: tuple[str, int]) -> None:
    model = EVENT_MODELS[key]
    data = example(*key)
    assert [n for n in model.model_fields if data.get(n) is None] == []
    payload_model = model.model_fields["payload"].annotation
    assert isinstance(payload_model, type)
    assert issubclass(payload_model, pydantic.BaseModel)
    missing = {n for n in payload_model.model_fields if data["payload"].get(n) is None}
    assert missing == EXCLUSIVE.get(key, set())


def test_examples_are_fixed_for_the_documents_and_fresh_on_request() -> None:
    assert example("contact.received", 2) == example("contact.received", 2)
    one = example("contact.received", 2, ids=fresh_ids)
    two = example("contact.received", 2, ids=fresh_ids)
    assert one["event_id"] != two["event_id"]
    assert one["payload"]["contact_id"] != two["payload"]["contact_id"]


def test_the_people_in_the_examples_are_invented() -> None:
    for key in EXAMPLES:
        payload = example(*key)["payload"]
        child = payload.get("child")
        if isinstance(child, dict):
            names = {child.get("given_name"), child.get("family_name"), child.get("name")}
            assert names - {None} <= INVENTED_NAMES, key
            address = child.get("address")
            assert address is None or "Sampletown ZZ99" in address, key


def test_every_asyncapi_message_carries_its_example() -> None:
    messages = export.asyncapi_document()["components"]["messages"]
    for key in EXAMPLES:
        message = messages[f"{key[0]}.v{key[1]}"]
        assert [e["payload"] for e in message["examples"]] == [example(*key)]


def _openapi() -> dict[str, Any]:
    return dict(json.loads(Path(DOC_PATH).read_text(encoding="utf-8")))


@pytest.mark.parametrize("key", INBOUND_KEYS)
def test_the_openapi_component_of_every_inbound_type_has_a_valid_example(
    key: tuple[str, int],
) -> None:
    doc = _openapi()
    schemas = doc["components"]["schemas"]
    (name,) = [
        n
        for n, s in schemas.items()
        if s.get("properties", {}).get("event_type", {}).get("const") == key[0]
        and s["properties"].get("schema_version", {}).get("const") == key[1]
    ]
    assert schemas[name]["examples"] == [example(*key)]
    root = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    assert [e.message for e in _validator(root).iter_errors(example(*key))] == []
    inbound = {"$ref": "#/components/schemas/InboundEvent", "components": doc["components"]}
    assert _validator(inbound).is_valid(example(*key))


def test_the_request_body_offers_an_example_of_every_inbound_type() -> None:
    body = _openapi()["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    named = body["examples"]
    assert {f"{t}.v{v}" for t, v in map(event_key, INBOUND_MODELS)} <= set(named)
    for model in INBOUND_MODELS:
        key = event_key(model)
        assert named[f"{key[0]}.v{key[1]}"]["value"] == example(*key)
    assert len(named["batch"]["value"]["events"]) == 2


# -- the partner API's messages --------------------------------------------------------------


def _class_names() -> set[str]:
    """Every pydantic class the contract is built from (events, payloads, nested parts)."""
    names: set[str] = set()
    seen: set[type] = set()

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            if annotation in seen:
                return
            seen.add(annotation)
            names.add(annotation.__name__)
            for field in annotation.model_fields.values():
                visit(field.annotation)
        for arg in getattr(annotation, "__args__", ()):
            visit(arg)

    for model in EVENT_MODELS.values():
        visit(model)
    return names


def _verdicts(event: dict[str, Any], agency: Agency) -> list[EventRejected]:
    settings = IngressSettings()
    submission = read_submission(orjson.dumps(event), max_batch=10)
    assert not hasattr(submission, "code")
    verdicts = check(
        submission,  # type: ignore[arg-type]
        agency=agency,
        roles=settings.role_table(),
        max_event_bytes=settings.max_event_bytes,
    )
    return [v for v in verdicts if isinstance(v, EventRejected)]


@pytest.mark.parametrize("key", INBOUND_KEYS)
def test_no_refusal_names_a_python_class(key: tuple[str, int]) -> None:
    names = _class_names()
    assert "PoliceDaNotification" in names or key[0] != "police.da_notification"
    base = example(*key)
    agency = Agency(base["source"]["agency"])
    for loc in mapping_paths(base):
        if not loc:
            continue
        for wrong in ("x", 5, [1]):
            (rejected,) = _verdicts(replaced(base, loc, wrong), agency)
            texts = [rejected.detail, *(e.msg for e in rejected.errors)]
            leaked = {n for n in names for t in texts if n in t}
            assert leaked == set(), (loc, texts)
            assert rejected.detail.startswith(f"{key[0]} v{key[1]}: "), rejected.detail


@pytest.mark.parametrize(
    ("loc", "wrong", "expected"),
    [
        (("occurred_at",), "04/03/2025 10:30", "ISO 8601 date-time with offset"),
        (("occurred_at",), "2025-03-04T10:30:00", "ISO 8601 date-time with offset"),
        (("payload", "child", "date_of_birth"), "04/03/2025", "ISO 8601 date, e.g. 2025-03-04"),
        (("payload", "child", "date_of_birth"), "2025-03-04T10:30", "ISO 8601 date, e.g."),
        (("payload", "incident_at"), "yesterday", "ISO 8601 date-time with offset"),
    ],
)
def test_date_errors_name_the_expected_format(
    loc: tuple[str, ...], wrong: str, expected: str
) -> None:
    (rejected,) = _verdicts(
        replaced(example("police.da_notification", 1), loc, wrong), Agency.POLICE
    )
    assert [(e.loc, expected in e.msg) for e in rejected.errors] == [(loc, True)]
    assert rejected.detail.startswith("police.da_notification v1: 1 field is not valid")
