"""Intake's handler through the real pipeline with in-memory ports: decoding, de-duplication,
routing, dead letters and the canonical log line."""

from __future__ import annotations

import orjson
from structlog.testing import capture_logs

from schemas.roles import load_role_table
from schemas.topics import REPLAY_HEADER
from services.common.deadletter import Origin, header_map
from services.intake.adapters.memory import MemoryEventStore
from services.intake.domain.speakers import SpeakerMode
from services.intake.handlers import IntakeHandler
from tests.factories import contact, da_notification, to_line
from tests.harness import PipelineHarness


def origin(value: bytes, offset: int = 0) -> Origin:
    """A record as ``frontdoor replay`` writes it: the operator vouches for source.agency."""
    return Origin("partner.events", 0, offset, b"k", value, (("h", b"1"), (REPLAY_HEADER, b"t")))


def harness(store: MemoryEventStore) -> PipelineHarness:
    handler = IntakeHandler(store, roles=load_role_table(), mode=SpeakerMode.LANES)
    return PipelineHarness(handler, consumer="intake", max_bytes=10_000)


async def test_contacts_route_to_screening_and_casework_elsewhere() -> None:
    store = MemoryEventStore()
    h = harness(store)
    c, d = contact(), da_notification()
    outcome = await h.feed([origin(to_line(c)), origin(to_line(d), 1)])
    assert outcome.handled == 2
    assert [r.topic for r in h.sent] == ["frontdoor.contacts", "frontdoor.contacts"]
    assert h.sent[0].key == c["subject"]["child_id"].encode()


async def test_redelivered_event_changes_nothing() -> None:
    store = MemoryEventStore()
    line = to_line(contact())
    h = harness(store)
    await h.feed([origin(line)])
    outcome = await h.feed([origin(line, 5)])
    assert (outcome.handled, outcome.repeats, outcome.dead_lettered) == (0, 1, 0)
    assert len(store.rows) == 1
    assert len(h.sent) == 1


async def test_event_recorded_before_the_ledger_retention_is_still_a_repeat() -> None:
    store = MemoryEventStore()
    line = to_line(contact())
    await harness(store).feed([origin(line)])
    fresh_ledger = harness(store)  # the ledger forgot (retention); `events` did not
    outcome = await fresh_ledger.feed([origin(line, 9)])
    assert outcome.dead_lettered == 0
    assert fresh_ledger.sent == []


async def test_event_id_reused_with_other_content_is_dead_lettered() -> None:
    store = MemoryEventStore()
    h = harness(store)
    first = contact()
    second = {**first, "payload": {**first["payload"], "referral_source": "6"}}
    outcome = await h.feed([origin(to_line(first)), origin(to_line(second), 1)])
    assert (outcome.handled, outcome.dead_lettered) == (1, 1)
    dead = h.sent_to("frontdoor.deadletter")
    headers = header_map(dead[0].headers)
    assert headers["dlq.reason"] == "validation"
    assert "different content" in headers["dlq.exception.message"]
    assert dead[0].value == to_line(second)


async def test_event_id_reused_in_a_later_batch_is_dead_lettered() -> None:
    store = MemoryEventStore()
    h = harness(store)
    first = contact()
    second = {**first, "payload": {**first["payload"], "referral_source": "6"}}
    await h.feed([origin(to_line(first))])
    outcome = await h.feed([origin(to_line(second), 1)])
    assert outcome.dead_lettered == 1
    assert header_map(h.sent_to("frontdoor.deadletter")[0].headers)["dlq.reason"] == "validation"


async def test_each_bad_record_gets_its_reason_and_original_bytes() -> None:
    store = MemoryEventStore()
    h = harness(store)
    outbound = {**contact(), "event_type": "screening.triaged"}
    cases = {
        b"{nope": "deserialization",
        b"[1, 2]": "deserialization",
        b"x" * 10_001: "deserialization",
        to_line({**contact(), "extra": 1}): "validation",
        to_line({**contact(), "event_type": "no.such"}): "validation",
        to_line(outbound): "validation",
    }
    outcome = await h.feed([origin(v, i) for i, v in enumerate(cases)])
    assert outcome.dead_lettered == len(cases)
    assert len(h.sent) == len(cases)
    for record in h.sent:
        assert header_map(record.headers)["dlq.reason"] == cases[record.value]  # type: ignore[index]
        assert header_map(record.headers)["h"] == "1"
        assert header_map(record.headers)["dlq.id"]


async def test_log_lines_carry_ids_and_never_personal_data() -> None:
    store = MemoryEventStore()
    event = contact()
    with capture_logs() as logs:
        await harness(store).feed([origin(to_line(event)), origin(b"{bad", 1)])
    handled = [entry for entry in logs if entry.get("outcome") == "handled"]
    assert handled == [
        {
            "event": "record_handled",
            "log_level": "info",
            "consumer": "intake",
            "topic": "partner.events",
            "event_id": event["event_id"],
            "event_type": "contact.received",
            "child_id": event["subject"]["child_id"],
            "correlation_id": event.get("correlation_id"),
            "partition": 0,
            "offset": 0,
            "outcome": "handled",
            "speaker_via": "replay",
            "routed_to": "frontdoor.contacts",
        }
    ]
    text = orjson.dumps(logs).decode()
    for personal in ("Alex", "Example", "2017-05-01", "hungry"):
        assert personal not in text
