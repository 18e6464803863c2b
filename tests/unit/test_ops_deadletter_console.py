"""The ops dead-letter console without I/O: what opening a letter shows (personal data masked by
the project's one privacy walk, the reason's fields and rules), the replay request's rules, and
the routes over a fake console — confirmation refused with 409 when the count changed, a refused
filter 422, and a replay made with the session cookie refused unless it carries the page's CSRF
header from the same origin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from services.common.authentication import Credential
from services.ops.api import OpsRuntime
from services.ops.domain.access import OpsRole
from services.ops.domain.deadletters import (
    MASK,
    LetterRecord,
    ReplayCountChangedError,
    ReplayFilter,
    ReplayRefusedError,
    ReplayRequest,
    letter_view,
    reason_fields,
)
from services.ops.guard import COOKIE
from tests.unit.test_ops_api import OPS_KEY, T0, access, build

NAME, SURNAME, DOB = "Marigold", "Ashcombe-Pryce", "2014-05-06"
ADDRESS, POSTCODE, NHS = "12 Quarry Bank Lane", "ZZ9 4QQ", "9434765919"
STORY = "Marigold told her teacher about the bruises"

POISONED = {
    "event_id": "0b7c6a34-7b1e-4a7e-9d59-0f4f5a1c2b3d",
    "event_type": "contact.received",
    "schema_version": 1,
    "occurred_at": "2026-03-02T09:00:00+00:00",
    "source": {"agency": "police", "system": "niche", "ref": "NICHE-1"},
    "subject": {"child_id": "child-77"},
    "payload": {
        "child": {
            "given_name": NAME,
            "family_name": SURNAME,
            "date_of_birth": DOB,
            "address": {"line1": ADDRESS, "postcode": POSTCODE},
            "nhs_number": NHS,
        },
        "summary": STORY,
        "urgent": True,
    },
}
MESSAGE = (
    "payload.child.date_of_birth: Input should be a valid date; payload.contact_at: Field required"
)


def record(value: bytes | None, **changes: Any) -> LetterRecord:
    fields: dict[str, Any] = {
        "id": 7,
        "letter_id": "5d0e2c1e-0000-4000-8000-000000000007",
        "failed_at": T0,
        "replayed_at": None,
        "reason": "validation",
        "exception_class": "pydantic_core.ValidationError",
        "exception_message": MESSAGE,
        "original_topic": "partner.events",
        "original_partition": 3,
        "original_offset": 41,
        "consumer_group": "frontdoor-intake",
        "key": b"child-77",
        "value": value,
        "headers": (
            ("event_type", b"contact.received"),
            ("trace", b"t\x00-1"),
            ("dlq.reason", b"validation"),
            ("dlq.exception.message", MESSAGE.encode()),
        ),
    }
    return LetterRecord(**{**fields, **changes})


def test_opening_a_letter_masks_every_personal_value_and_keeps_the_shape() -> None:
    view = letter_view(record(orjson.dumps(POISONED)))
    shown = view.model_dump_json()
    for secret in (NAME, SURNAME, DOB, ADDRESS, POSTCODE, NHS, STORY):
        assert secret not in shown
    body = view.value.body
    assert body["payload"]["child"]["date_of_birth"] == MASK  # the field is still there
    assert body["payload"]["child"]["address"] == {"line1": MASK, "postcode": MASK}
    assert body["payload"]["urgent"] is True
    assert body["subject"] == {"child_id": "child-77"}  # ids and codes are not personal
    assert body["event_type"] == "contact.received"
    assert "payload" in view.value.masked
    assert view.value.format == "json"


def test_opening_a_letter_gives_reason_origin_and_headers() -> None:
    view = letter_view(record(orjson.dumps(POISONED)))
    assert view.reason.code == "validation"
    assert [(f.field, f.rule) for f in view.reason.fields] == [
        ("payload.child.date_of_birth", "Input should be a valid date"),
        ("payload.contact_at", "Field required"),
    ]
    assert (view.origin.topic, view.origin.partition, view.origin.offset) == (
        "partner.events",
        3,
        41,
    )
    headers = {h.name: h.value for h in view.headers}
    assert headers["event_type"] == "contact.received"
    assert "\x00" not in headers["trace"]
    assert view.key == "child-77"
    assert view.waiting


def test_an_old_letter_whose_message_quoted_a_value_is_scrubbed() -> None:
    quoted = f"payload.child.date_of_birth: invalid date input_value='{DOB}'"
    view = letter_view(record(b"{}", exception_message=quoted))
    assert DOB not in view.model_dump_json()
    assert view.reason.fields[0].field == "payload.child.date_of_birth"


def test_a_value_that_is_not_a_json_object_is_shown_as_its_length_or_masked_whole() -> None:
    png = letter_view(record(b"\x89PNG\r\n\x1a\n" + NAME.encode()))
    assert (png.value.format, png.value.bytes, png.value.body) == ("bytes", 8 + len(NAME), None)
    bare = letter_view(record(orjson.dumps([NAME, DOB])))
    assert bare.value.body == [MASK, MASK]
    assert NAME not in bare.model_dump_json()
    assert letter_view(record(None)).value.format == "none"


def test_reason_fields_ignore_text_that_is_not_field_and_rule() -> None:
    assert reason_fields("something broke: connection lost") == ()
    assert [f.field for f in reason_fields("(root): Input should be an object")] == ["(root)"]


def test_a_replay_request_needs_an_explicit_count_and_known_fields() -> None:
    with pytest.raises(ValidationError):
        ReplayRequest.model_validate({"reason": "validation"})  # no confirm
    with pytest.raises(ValidationError):
        ReplayRequest.model_validate({"confirm": -1})
    with pytest.raises(ValidationError):
        ReplayRequest.model_validate({"confirm": 1, "topic": "x"})  # not a filter we have
    with pytest.raises(ValidationError):
        ReplayRequest.model_validate({"confirm": 1, "ids": []})
    ok = ReplayRequest.model_validate({"confirm": 2, "reason": "validation", "agency": "police"})
    assert (ok.confirm, ok.reason, ok.agency, ok.raw) == (2, "validation", "police", False)


class FakeConsole:
    def __init__(self, waiting: list[int]) -> None:
        self.waiting = waiting
        self.replays: list[tuple[ReplayRequest, str]] = []

    async def letter(self, letter_id: int) -> LetterRecord | None:
        return record(orjson.dumps(POISONED), id=letter_id) if letter_id == 7 else None

    async def preview(self, choice: ReplayFilter) -> list[int]:
        if choice.reason == "bogus":
            raise ReplayRefusedError("no dead-letter reason 'bogus'")
        return [i for i in self.waiting if not choice.ids or i in choice.ids]

    async def replay(self, request: ReplayRequest, *, actor: str) -> int:
        found = await self.preview(request)
        if len(found) != request.confirm:
            raise ReplayCountChangedError(
                "count changed", expected=request.confirm, found=len(found)
            )
        self.replays.append((request, actor))
        self.waiting = [i for i in self.waiting if i not in found]
        return len(found)


def with_console(fake: FakeConsole) -> FastAPI:
    app = build(polls=1, refresh=True)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            runtime: OpsRuntime = app.state.ops
            runtime.console = fake
            yield

    app.router.lifespan_context = lifespan
    return app


@asynccontextmanager
async def serving(app: FastAPI, headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://ops", headers=headers
        ) as client:
            yield client


BEARER = {"Authorization": f"Bearer {OPS_KEY.text}"}


async def test_open_preview_and_replay_one_letter_with_its_confirmation() -> None:
    fake = FakeConsole([7, 8, 9])
    async with serving(with_console(fake), BEARER) as client:
        letter = await client.get("/api/deadletters/7")
        assert letter.status_code == 200
        assert NAME not in letter.text
        assert letter.json()["reason"]["code"] == "validation"
        missing = await client.get("/api/deadletters/99")
        assert (missing.status_code, missing.json()["code"]) == (404, "deadletter_not_found")

        preview = (await client.get("/api/deadletters/replay", params={"id": 7})).json()
        assert (preview["count"], preview["ids"]) == (1, [7])
        done = await client.post("/api/deadletters/replay", json={"ids": [7], "confirm": 1})
        assert done.json() == {"replayed": 1, "confirmed": 1}
    (request, actor) = fake.replays[0]
    assert request.ids == (7,)
    assert actor == f"ops:{OPS_KEY.credential_id}"


async def test_a_count_that_changed_since_the_preview_is_409_and_nothing_is_sent() -> None:
    fake = FakeConsole([7, 8, 9])
    async with serving(with_console(fake), BEARER) as client:
        assert (await client.get("/api/deadletters/replay")).json()["count"] == 3
        fake.waiting.append(10)  # a new letter arrived meanwhile
        changed = await client.post("/api/deadletters/replay", json={"confirm": 3})
        assert changed.status_code == 409
        doc = changed.json()
        assert (doc["code"], doc["expected"], doc["count"]) == ("replay_count_changed", 3, 4)
        refused = await client.post(
            "/api/deadletters/replay", json={"reason": "bogus", "confirm": 0}
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "replay_refused")
        unconfirmed = await client.post("/api/deadletters/replay", json={"reason": "validation"})
        assert unconfirmed.status_code == 422  # no confirm, no replay
    assert fake.replays == []


async def test_a_replay_with_the_session_cookie_needs_the_pages_csrf_header() -> None:
    token, _ = access().cookie_for(Credential(OPS_KEY.credential_id, OpsRole.OPS))
    fake = FakeConsole([7])
    cookie = {"Cookie": f"{COOKIE}={token}"}
    async with serving(with_console(fake), cookie) as client:
        body = {"ids": [7], "confirm": 1}
        bare = await client.post("/api/deadletters/replay", json=body)
        assert (bare.status_code, bare.json()["code"]) == (403, "cross_site_request")
        evil = await client.post(
            "/api/deadletters/replay",
            json=body,
            headers={"X-Frontdoor-CSRF": "1", "Origin": "https://evil.example"},
        )
        assert (evil.status_code, evil.json()["code"]) == (403, "cross_site_request")
        fetched = await client.post(
            "/api/deadletters/replay",
            json=body,
            headers={"X-Frontdoor-CSRF": "1", "Sec-Fetch-Site": "cross-site"},
        )
        assert fetched.status_code == 403
        assert fake.replays == []
        assert (await client.get("/api/deadletters/7")).status_code == 200  # reading needs none
        own = await client.post(
            "/api/deadletters/replay",
            json=body,
            headers={"X-Frontdoor-CSRF": "1", "Origin": "https://ops"},
        )
        assert own.status_code == 200, own.text
    assert len(fake.replays) == 1
