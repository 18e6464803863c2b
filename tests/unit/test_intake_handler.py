"""Intake's handler with in-memory ports: decoding, de-duplication, routing, dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import orjson
from structlog.testing import capture_logs

from services.common.deadletter import Origin, header_map
from services.common.publishing import RecordingPublisher
from services.intake.handlers import IntakeHandler, NewEvent
from tests.factories import contact, da_notification, to_line

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


class MemoryEventStore:
    def __init__(self) -> None:
        self.rows: dict[UUID, NewEvent] = {}

    async def known_hashes(self, event_ids: Sequence[UUID]) -> dict[UUID, bytes]:
        return {i: self.rows[i].accepted.content_hash for i in event_ids if i in self.rows}

    async def append(self, events: Sequence[NewEvent]) -> int:
        for e in events:
            self.rows.setdefault(e.accepted.event.event_id, e)
        return len(events)


def origin(value: bytes, offset: int = 0) -> Origin:
    return Origin("partner.events", 0, offset, b"k", value, (("h", b"1"),))


def handler(store: MemoryEventStore, pub: RecordingPublisher) -> IntakeHandler:
    return IntakeHandler(
        store=store,
        publisher=pub,
        consumer_group="frontdoor-intake",
        max_bytes=10_000,
        clock=lambda: NOW,
    )


async def test_contacts_route_to_screening_and_casework_elsewhere() -> None:
    store, pub = MemoryEventStore(), RecordingPublisher()
    c, d = contact(), da_notification()
    outcome = await handler(store, pub).handle_batch([origin(to_line(c)), origin(to_line(d), 1)])
    assert outcome.accepted == 2
    assert [r.topic for r in pub.records] == ["frontdoor.contacts", "frontdoor.contacts"]
    assert pub.records[0].key == c["subject"]["child_id"].encode()


async def test_redelivered_event_changes_nothing() -> None:
    store, pub = MemoryEventStore(), RecordingPublisher()
    line = to_line(contact())
    h = handler(store, pub)
    await h.handle_batch([origin(line)])
    outcome = await h.handle_batch([origin(line, 5)])
    assert (outcome.accepted, outcome.duplicates, outcome.dead_lettered) == (0, 1, 0)
    assert len(store.rows) == 1
    assert len(pub.records) == 1


async def test_event_id_reused_with_other_content_is_dead_lettered() -> None:
    store, pub = MemoryEventStore(), RecordingPublisher()
    first = contact()
    second = {**first, "payload": {**first["payload"], "referral_source": "6"}}
    outcome = await handler(store, pub).handle_batch(
        [origin(to_line(first)), origin(to_line(second), 1)]
    )
    assert (outcome.accepted, outcome.dead_lettered) == (1, 1)
    dead = [r for r in pub.records if r.topic == "frontdoor.deadletter"]
    headers = header_map(dead[0].headers)
    assert headers["dlq.reason"] == "validation"
    assert "different content" in headers["dlq.exception.message"]
    assert dead[0].value == to_line(second)


async def test_each_bad_record_gets_its_reason_and_original_bytes() -> None:
    store, pub = MemoryEventStore(), RecordingPublisher()
    outbound = {**contact(), "event_type": "screening.triaged"}
    cases = {
        b"{nope": "deserialization",
        b"[1, 2]": "deserialization",
        b"x" * 10_001: "deserialization",
        to_line({**contact(), "extra": 1}): "validation",
        to_line({**contact(), "event_type": "no.such"}): "validation",
        to_line(outbound): "validation",
    }
    outcome = await handler(store, pub).handle_batch([origin(v, i) for i, v in enumerate(cases)])
    assert outcome.dead_lettered == len(cases)
    for record in pub.records:
        assert header_map(record.headers)["dlq.reason"] == cases[record.value]  # type: ignore[index]
        assert header_map(record.headers)["h"] == "1"


async def test_log_lines_carry_ids_and_never_personal_data() -> None:
    store, pub = MemoryEventStore(), RecordingPublisher()
    event = contact()
    with capture_logs() as logs:
        await handler(store, pub).handle_batch([origin(to_line(event)), origin(b"{bad", 1)])
    accepted = [entry for entry in logs if entry["event"] == "intake_event_accepted"]
    assert accepted == [
        {
            "event": "intake_event_accepted",
            "log_level": "info",
            "event_id": event["event_id"],
            "event_type": "contact.received",
            "child_id": event["subject"]["child_id"],
            "partition": 0,
            "offset": 0,
        }
    ]
    text = orjson.dumps(logs).decode()
    for personal in ("Alex", "Example", "2017-05-01", "hungry"):
        assert personal not in text
