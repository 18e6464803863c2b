"""Partner ingress and the contract's text rule: a NUL (or kin) in any text is a 422 problem, per
record in a batch a 207 with the record reported, and no answer repeats the submitted value."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.envelope import Agency
from tests.factories import contact
from tests.unit.test_ingress_api import Harness, problem

NAME = "Zebedee Farquharson"


def with_text(event: dict[str, Any], loc: tuple[str, ...], text: str) -> dict[str, Any]:
    parent = event
    for part in loc[:-1]:
        parent = parent[part]
    parent[loc[-1]] = text
    return event


def assert_not_echoed(body: str, *values: str) -> None:
    for value in values:
        assert value not in body
    assert "\\u0000" not in body
    assert '"input"' not in body


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        (("payload", "child", "family_name"), NAME + "\x00"),
        (("payload", "child", "given_name"), "\x00" + NAME),
        (("payload", "summary"), f"{NAME} told us\x00 about the night"),
        (("source", "system"), f"cpoms-{NAME}\x00"),
        (("source", "ref"), f"REF-{NAME}\x00"),
        (("subject", "child_id"), "C-123\x00"),
        (("event_type",), "contact.received\x00"),
    ],
)
async def test_a_nul_in_a_single_event_is_a_422_problem_naming_the_field(
    loc: tuple[str, ...], text: str
) -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = with_text(contact(), loc, text)
    response = await h.post(key, event)
    body = problem(response, 422, "invalid_event")
    assert {
        "loc": list(loc),
        "msg": "control character U+0000 is not allowed in text",
        "type": "forbidden_character",
    } in body["errors"]
    assert_not_echoed(response.text, NAME, text)
    assert h.published == []
    (entry,) = h.audit.entries
    assert (entry.status, entry.outcome) == (422, "rejected")


@pytest.mark.parametrize("bad", ["\x01", "\x1b", "\x7f\x0b", "\ufffe", "\uffff"])
async def test_other_forbidden_characters_are_422_too(bad: str) -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = with_text(contact(), ("payload", "child", "family_name"), NAME + bad)
    response = await h.post(key, event)
    body = problem(response, 422, "invalid_event")
    assert ["payload", "child", "family_name"] in [e["loc"] for e in body["errors"]]
    assert [e["type"] for e in body["errors"]] == ["forbidden_character"]
    assert NAME not in response.text


async def test_a_nul_in_one_record_of_a_batch_is_a_207_reporting_that_record() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    good1, good2 = contact(), contact()
    bad = with_text(contact(), ("payload", "child", "family_name"), NAME + "\x00")
    response = await h.post(key, {"events": [good1, bad, good2]})
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["accepted"] == [good1["event_id"], good2["event_id"]]
    (rejected,) = body["rejected"]
    assert (rejected["index"], rejected["event_id"], rejected["status"], rejected["code"]) == (
        1,
        bad["event_id"],
        422,
        "invalid_event",
    )
    assert rejected["errors"] == [
        {
            "loc": ["payload", "child", "family_name"],
            "msg": "control character U+0000 is not allowed in text",
            "type": "forbidden_character",
        }
    ]
    assert_not_echoed(response.text, NAME)
    published = [orjson.loads(r.value or b"")["event_id"] for r in h.published]
    assert published == [good1["event_id"], good2["event_id"]]


async def test_a_batch_whose_only_record_has_a_nul_is_a_422_problem_listing_it() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    bad = with_text(contact(), ("payload", "summary"), f"{NAME}\x00")
    response = await h.post(key, {"events": [bad]})
    body = problem(response, 422, "invalid_event")
    assert ["events", 0, "payload", "summary"] in [e["loc"] for e in body["errors"]]
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(0, "invalid_event")]
    assert NAME not in response.text
    assert h.published == []


async def test_an_unpaired_surrogate_escape_is_a_400_without_echo() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    event["payload"]["child"]["family_name"] = NAME
    raw = orjson.dumps(event).replace(NAME.encode(), f"{NAME}\\ud800".encode())
    response = await h.post(key, raw)
    problem(response, 400, "malformed_json")
    assert NAME not in response.text
    assert h.published == []


async def test_tabs_newlines_and_welsh_polish_and_emoji_text_are_accepted() -> None:
    h = Harness()
    _, key = await h.key(Agency.EDUCATION)
    event = contact()
    event["payload"]["summary"] = "Siân said:\r\n\tŁukasz 😀 was hungry\nagain."
    event["payload"]["child"]["given_name"] = "Llŷr"
    event["payload"]["child"]["family_name"] = "Wójcik-Żółć"
    response = await h.post(key, event)
    assert response.status_code == 202, response.text
    (record,) = h.published
    published = orjson.loads(record.value or b"")
    assert published["payload"]["summary"] == event["payload"]["summary"]
    assert published["payload"]["child"]["family_name"] == "Wójcik-Żółć"
