"""The text rule: no NUL, other C0 control (but TAB/LF/CR), surrogate or U+FFFE/U+FFFF in any
string of any event — refused with the field's path and the rule, never the value."""

from __future__ import annotations

import re
from typing import Any, get_args
from uuid import uuid4

import orjson
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.envelope import ContractModel
from schemas.registry import EVENT_MODELS, INBOUND_TYPES, parse_event, parse_event_json
from schemas.text import FORBIDDEN_CHARACTERS, RULE, find_violations, text_problem
from tests.unit.contract_examples import (
    EXAMPLES,
    at,
    example,
    mapping_paths,
    replaced,
    string_paths,
)

Loc = tuple[str | int, ...]

FORBIDDEN = [chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20))] + [
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\ufffe",
    "\uffff",
]
ALLOWED_WHITESPACE = ["\t", "\n", "\r", "\r\n"]
ORDINARY_TEXT = [
    "Siân ap Llŷr",  # Welsh
    "Dydd Gŵyl Dewi: ŵ ŷ â ê î ô û",
    "Łukasz Wójcik-Żółć",  # Polish
    "zażółć gęślą jaźń",
    "Ffion 😀👍🏽",  # emoji, astral plane
    "O'Brien-Smith",
    "Zoë Müller",
]

STRING_FIELDS = [
    pytest.param(key, loc, id=f"{key[0]}.v{key[1]}:{'.'.join(map(str, loc))}")
    for key in EXAMPLES
    for loc in string_paths(example(*key))
]
MAPPINGS = [
    pytest.param(key, loc, id=f"{key[0]}.v{key[1]}:{'.'.join(map(str, loc)) or 'root'}")
    for key in EXAMPLES
    for loc in mapping_paths(example(*key))
]
# free text (no pattern, no code set) a partner writes, per event type, and its length limit
FREE_TEXT: list[tuple[tuple[str, int], Loc, int]] = [
    (("contact.received", 2), ("payload", "summary"), 20_000),
    (("contact.received", 2), ("payload", "child", "given_name"), 100),
    (("contact.received", 2), ("payload", "child", "family_name"), 100),
    (("contact.received", 2), ("source", "system"), 200),
    (("contact.received", 2), ("source", "ref"), 128),
    (("police.da_notification", 1), ("payload", "police_ref"), 128),
    (("screening.decision_recorded", 1), ("payload", "reason"), 20_000),
    (("screening.decision_recorded", 1), ("payload", "worker"), 200),
    (("ooh.action_recorded", 1), ("payload", "decision_reason"), 20_000),
    (("ooh.alert_raised", 1), ("payload", "contingency_plan"), 20_000),
    (("assessment.authorised", 1), ("payload", "late_reason"), 20_000),
]


def refusal(data: dict[str, Any]) -> pydantic.ValidationError:
    with pytest.raises(pydantic.ValidationError) as caught:
        parse_event(data)
    return caught.value


def text_errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [e for e in exc.errors(include_url=False) if e["type"] == "forbidden_character"]


# -- coverage: the examples exercise every field of every model ------------------------------


def test_there_is_an_example_of_every_registered_event() -> None:
    assert set(EXAMPLES) == set(EVENT_MODELS)


# (model, field) an example cannot set because a rule of the model forbids it alongside another
UNSETTABLE = {
    ("ChildDetails", "expected_birth_date"),  # exactly one of it and date_of_birth
    ("ChildDetailsV1", "expected_birth_date"),
    ("ConferenceInvitationIssuedPayload", "review_target_date"),  # RCPC only; icpc_target_date set
}


def _unset(model: pydantic.BaseModel) -> set[tuple[str, str]]:
    name = type(model).__name__
    unset = {
        (name, field) for field in type(model).model_fields if field not in model.model_fields_set
    }
    for field in model.model_fields_set:
        value = getattr(model, field)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, pydantic.BaseModel):
                unset |= _unset(item)
    return unset


@pytest.mark.parametrize("key", EXAMPLES, ids=lambda k: f"{k[0]}.v{k[1]}")
def test_every_example_sets_every_field_so_every_string_is_exercised(key: tuple[str, int]) -> None:
    event = EVENT_MODELS[key].model_validate(example(*key))  # this version, not upcast
    assert _unset(event) <= UNSETTABLE


def _models_in(annotation: Any) -> set[type[pydantic.BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return {annotation}
    return {m for arg in get_args(annotation) for m in _models_in(arg)}


def test_every_model_reachable_from_an_event_is_a_contract_model() -> None:
    seen: set[type[pydantic.BaseModel]] = set()
    todo: list[type[pydantic.BaseModel]] = list(EVENT_MODELS.values())
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        assert issubclass(model, ContractModel), model
        assert model.model_config.get("hide_input_in_errors") is True, model
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))
    assert len(seen) > len(EVENT_MODELS)  # payloads, child details, source, subject …


# -- refused: NUL (and its kin) anywhere -----------------------------------------------------


@pytest.mark.parametrize(("key", "loc"), STRING_FIELDS)
def test_a_nul_in_any_string_field_of_any_event_is_refused_naming_the_field(
    key: tuple[str, int], loc: Loc
) -> None:
    data = example(*key)
    value = at(data, loc)
    exc = refusal(replaced(data, loc, value + "\x00"))
    (error,) = text_errors(exc)
    assert error["loc"] == loc
    assert error["msg"] == "control character U+0000 is not allowed in text"
    assert error["input"] is None


def test_every_inbound_event_type_has_its_string_fields_checked() -> None:
    covered = {key[0] for key in EXAMPLES if any(True for _ in string_paths(example(*key)))}
    assert covered >= INBOUND_TYPES


@pytest.mark.parametrize(("key", "loc"), MAPPINGS)
def test_a_nul_in_any_key_is_refused_without_echoing_the_key(
    key: tuple[str, int], loc: Loc
) -> None:
    data = example(*key)
    mapping = at(data, loc)
    first = next(iter(mapping))
    renamed = {(f"{first}\x00secret" if k == first else k): v for k, v in mapping.items()}
    bad = replaced(data, loc, renamed) if loc else renamed
    exc = refusal(bad)
    (error,) = text_errors(exc)
    assert error["loc"] == loc
    assert error["msg"] == "control character U+0000 is not allowed in a key"
    assert "secret" not in str(exc)
    assert "secret" not in repr(exc.errors(include_input=False))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from([p.values for p in STRING_FIELDS]),
    bad=st.sampled_from(FORBIDDEN),
    where=st.floats(min_value=0, max_value=1),
)
def test_any_forbidden_character_anywhere_in_any_string_is_refused_with_its_code_point(
    field: tuple[tuple[str, int], Loc], bad: str, where: float
) -> None:
    key, loc = field
    data = example(*key)
    value: str = at(data, loc)
    cut = round(len(value) * where)
    with pytest.raises(pydantic.ValidationError) as caught:
        parse_event(replaced(data, loc, value[:cut] + bad + value[cut:]))
    (error,) = text_errors(caught.value)
    assert error["loc"] == loc
    assert f"U+{ord(bad):04X} is not allowed in text" in error["msg"]


def test_bad_strings_in_sibling_models_are_each_reported_at_their_own_path() -> None:
    data = example("contact.received", 2)
    data["source"]["system"] += "\x01"
    data["subject"]["child_id"] += "\x00"
    data["payload"]["summary"] += "\ufffe"
    data["payload"]["child"]["family_name"] += "\x1b"
    locs = {e["loc"] for e in text_errors(refusal(data))}
    # a model refusing its own strings validates none of its fields, so payload.child is not
    # reached; one reason per record is enough to refuse it
    assert locs == {("source", "system"), ("subject", "child_id"), ("payload", "summary")}


def test_a_nul_in_an_unknown_field_is_refused_as_text_before_the_field_is() -> None:
    data = example("contact.received", 2)
    data["payload"]["notes"] = "Jane Doe\x00"
    (error,) = text_errors(refusal(data))
    assert error["loc"] == ("payload", "notes")


def test_a_nul_in_a_list_item_names_the_item() -> None:
    data = example("police.da_notification", 1)
    data["payload"]["high_risk_markers"].append("stalking\x00")
    (error,) = text_errors(refusal(data))
    assert error["loc"] == ("payload", "high_risk_markers", 2)


def test_a_nul_in_a_nested_list_of_models_names_the_item_field() -> None:
    data = example("police.da_notification", 1)
    data["payload"]["household_children"][0]["child_id"] = "C\x00"
    (error,) = text_errors(refusal(data))
    assert error["loc"] == ("payload", "household_children", 0, "child_id")


def test_a_superseded_version_is_held_to_the_rule_before_it_is_upcast() -> None:
    data = example("contact.received", 1)
    data["payload"]["child"]["name"] = "Amy\x00 Smith"
    (error,) = text_errors(refusal(data))
    assert error["loc"] == ("payload", "child", "name")


def test_a_nul_escape_in_json_bytes_is_refused_like_a_nul_in_a_dict() -> None:
    data = example("contact.received", 2)
    data["payload"]["summary"] = "Hungry\x00"
    raw = orjson.dumps(data)
    assert b"\\u0000" in raw
    with pytest.raises(pydantic.ValidationError) as caught:
        parse_event_json(raw)
    (error,) = text_errors(caught.value)
    assert error["loc"] == ("payload", "summary")


def test_an_unpaired_surrogate_escape_in_json_bytes_is_refused_by_the_decoder() -> None:
    raw = orjson.dumps(example("contact.received", 2)).replace(b"Teacher", b"\\ud800Teacher")
    with pytest.raises(orjson.JSONDecodeError):
        parse_event_json(raw)


def test_an_unpaired_surrogate_decoded_elsewhere_is_refused_by_the_contract() -> None:
    # the stdlib json module (and so some HTTP stacks) decodes "\ud800" into a lone surrogate
    data = example("contact.received", 2)
    data["payload"]["child"]["given_name"] = "Al\ud800ex"
    (error,) = text_errors(refusal(data))
    assert error["msg"] == "unpaired surrogate U+D800 is not allowed in text"


def test_models_built_in_python_are_held_to_the_rule_too() -> None:
    from schemas.envelope import Source

    with pytest.raises(pydantic.ValidationError) as caught:
        Source(agency="police", system="niche\x00", ref="R-1")  # type: ignore[arg-type]
    (error,) = text_errors(caught.value)
    assert error["loc"] == ("system",)


def test_bytes_passed_for_a_string_field_are_checked_as_text() -> None:
    from schemas.envelope import Source

    with pytest.raises(pydantic.ValidationError) as caught:
        Source.model_validate({"agency": "police", "system": b"niche\x00", "ref": "R-1"})
    assert text_errors(caught.value)


def test_deep_hostile_nesting_is_refused_without_a_recursion_error() -> None:
    data = example("contact.received", 2)
    deep: Any = "x\x00"
    for _ in range(50_000):
        deep = [deep]
    data["payload"]["extra"] = deep
    assert text_errors(refusal(data))


# -- accepted: ordinary text ----------------------------------------------------------------


@pytest.mark.parametrize(("key", "loc", "limit"), FREE_TEXT)
@pytest.mark.parametrize("text", ALLOWED_WHITESPACE + ORDINARY_TEXT)
def test_tab_newline_carriage_return_and_ordinary_unicode_are_accepted_in_free_text(
    key: tuple[str, int], loc: Loc, limit: int, text: str
) -> None:
    data = example(*key)
    value = at(data, loc)
    event = parse_event(replaced(data, loc, value + text))
    assert event.model_dump(mode="json") == orjson.loads(event.model_dump_json())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(FREE_TEXT),
    text=st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="".join(FORBIDDEN[:-6])),
        max_size=80,
    ).map(lambda t: t.replace("\ufffe", "").replace("\uffff", "")),
)
def test_any_text_without_a_forbidden_character_is_accepted_in_free_text(
    field: tuple[tuple[str, int], Loc, int], text: str
) -> None:
    key, loc, limit = field
    data = example(*key)
    value: str = at(data, loc)
    event = parse_event(replaced(data, loc, (value + text)[:limit]))
    assert isinstance(event.model_dump_json(), str)  # orjson/pydantic can encode what we kept


def test_valid_examples_of_every_type_still_parse() -> None:
    for key in EXAMPLES:
        if key != ("contact.received", 1):
            assert parse_event(example(*key)).event_id


# -- the detector itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "point", [*range(0x80), 0x85, 0xA0, 0x2028, 0xD800, 0xDFFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x10FFFF]
)
def test_the_fast_check_agrees_with_the_rule_for_each_low_code_point(point: int) -> None:
    char = chr(point)
    expected = FORBIDDEN_CHARACTERS.search(char) is not None
    assert bool(find_violations(char)) is expected
    assert bool(find_violations({"k": [f"a\\{char}\\"]})) is expected
    assert bool(find_violations({f"\\{char}": 1})) is expected


def test_forbidden_set_is_exactly_c0_but_tab_lf_cr_surrogates_and_fffe_ffff() -> None:
    forbidden = {c for c in range(0x110000) if FORBIDDEN_CHARACTERS.match(chr(c))}
    expected = set(range(0x20)) - {0x09, 0x0A, 0x0D} | set(range(0xD800, 0xE000)) | {0xFFFE, 0xFFFF}
    assert forbidden == expected


# texts that stress the fast check: backslashes next to u/b/f, escapes orjson writes, U+FFFD
tricky_text = st.text(
    st.sampled_from([*FORBIDDEN, "\\", "u", "b", "f", "0", "\t", "\n", "\r", "é", "\ufffd", "😀"]),
    max_size=8,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12) | tricky_text,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | tricky_text, inner, max_size=4)
    ),
    max_leaves=20,
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value.keys(), *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@settings(max_examples=500)
@given(json_values)
def test_find_violations_finds_something_exactly_when_some_string_or_key_breaks_the_rule(
    value: Any,
) -> None:
    expected = any(FORBIDDEN_CHARACTERS.search(s) for s in _strings(value))
    assert bool(find_violations(value)) is expected


def test_text_problem_names_the_code_point_not_the_text() -> None:
    assert text_problem("Jane\x00Doe") == "control character U+0000 is not allowed in text"
    assert text_problem("Jane\ufffe") == "noncharacter U+FFFE is not allowed in text"
    assert text_problem("Jane\tDoe\r\n") is None


def test_the_exported_rule_names_every_class_of_forbidden_character() -> None:
    assert re.search(r"U\+0000-U\+001F other than TAB, LF and CR", RULE)
    assert "U+D800-U+DFFF" in RULE
    assert "U+FFFE or U+FFFF" in RULE


# -- no personal data in errors --------------------------------------------------------------


DOB = "2017-02-30"  # not a date: refused
NAME = "Zebedee-Quentin Farquharson-Smythe"


def test_a_refused_date_of_birth_is_not_in_the_error_text() -> None:
    data = example("contact.received", 2)
    data["payload"]["child"]["date_of_birth"] = DOB
    exc = refusal(data)
    assert ("payload", "child", "date_of_birth") in [e["loc"] for e in exc.errors()]
    assert DOB not in str(exc)
    assert "input_value" not in str(exc)


def test_a_refused_name_is_not_in_the_error_text() -> None:
    for bad in (NAME + "\x00", NAME * 4):  # a NUL; too long for a PersonName
        data = example("contact.received", 2)
        data["payload"]["child"]["family_name"] = bad
        data["payload"]["child"]["date_of_birth"] = DOB
        exc = refusal(data)
        assert NAME not in str(exc)
        assert DOB not in str(exc)
        assert "input_value" not in str(exc)
        assert NAME not in repr(exc.errors(include_input=False))


def test_a_refused_narrative_is_not_in_the_error_text_of_any_event_model() -> None:
    secret = f"secret-{uuid4().hex}"
    for key in EXAMPLES:
        data = example(*key)
        data["payload"]["not_a_field"] = secret
        model = EVENT_MODELS[key]
        with pytest.raises(pydantic.ValidationError) as caught:
            model.model_validate(data)
        assert secret not in str(caught.value), key
