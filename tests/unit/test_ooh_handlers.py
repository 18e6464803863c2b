"""The out-of-hours stream handlers through the real pipeline with in-memory ports: crisis items
raised, the night recorded, dead letters and the canonical log line."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from structlog.testing import capture_logs

from schemas.topics import CASEWORK, CRISIS, DEADLETTER
from services.common.calendar import OfficeHours, WorkingCalendar
from services.common.deadletter import Origin, header_map
from services.common.publishing import OutRecord
from services.outofhours.bootstrap import CASEWORK_CONSUMER, RECORD_CONSUMER
from services.outofhours.domain.record import CrisisStreamBatch, ShiftedAction
from services.outofhours.domain.shifts import shift_for
from services.outofhours.handlers import CASEWORK_TYPES, CaseworkHandler, CrisisRecordHandler
from tests.factories import child_id, envelope, to_line
from tests.harness import PipelineHarness

CAL = WorkingCalendar.england_and_wales(2024, 2026)
NOW = datetime(2025, 3, 4, 2, 30, tzinfo=UTC)
NIGHT = datetime(2025, 3, 4, 2, 10, tzinfo=UTC)
MONDAY_SHIFT = datetime(2025, 3, 3, 17, tzinfo=UTC)  # Monday 17:00 GMT


class MemoryRecordStore:
    """The night's record in memory (``ports.RecordStore``)."""

    def __init__(self) -> None:
        self.actions: list[ShiftedAction] = []
        self.batches: list[CrisisStreamBatch] = []
        self.occurred: dict[UUID, datetime] = {}

    def __call__(self, _connection: Any) -> MemoryRecordStore:
        return self

    async def trigger_moments(self, event_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        return {e: self.occurred[e] for e in event_ids if e in self.occurred}

    async def record_actions(self, actions: Sequence[ShiftedAction]) -> int:
        self.actions.extend(actions)
        return len(actions)

    async def record_crisis_stream(self, batch: CrisisStreamBatch) -> int:
        self.batches.append(batch)
        return len(batch.items) + len(batch.handovers) + len(batch.acknowledgements)


def shift_of(moment: datetime) -> Any:
    return shift_for(moment, CAL, OfficeHours())


def origin(value: bytes | None, *, topic: str = CASEWORK.name, offset: int = 0,
           event_type: str | None = None) -> Origin:  # fmt: skip
    headers = (("event_type", event_type.encode()),) if event_type else ()
    return Origin(topic, 0, offset, b"C1", value, headers)


def protection(child: str | None = None, at: datetime = NIGHT) -> dict[str, Any]:
    return envelope(
        "police.protection_started", 1,
        {"protection_id": str(uuid.uuid4()), "started_at": at.isoformat(),
         "police_ref": "SYP-1", "summary": "Found alone at home."},
        child=child or child_id(), agency="police", at=at,
    )  # fmt: skip


def ooh_action(cause: str | None = None, at: datetime = NIGHT) -> dict[str, Any]:
    event = envelope(
        "ooh.action_recorded", 1,
        {"action_id": str(uuid.uuid4()), "action_at": at.isoformat(), "kind": "welfare_check",
         "urgency": "today", "summary": "Visited.", "decision_reason": "Safe overnight.",
         "worker": "EDT01"},
        child=child_id(), agency="ooh", at=at,
    )  # fmt: skip
    event["causation_id"] = cause
    return event


def casework() -> tuple[PipelineHarness, MemoryRecordStore]:
    store = MemoryRecordStore()
    handler = CaseworkHandler(
        store, out_of_hours=lambda moment: not CAL.is_office_hours(moment), shift_of=shift_of
    )
    harness = PipelineHarness(
        handler,
        consumer=CASEWORK_CONSUMER,
        topic=CASEWORK.name,
        group="frontdoor-outofhours-casework",
        event_types=CASEWORK_TYPES,
        clock=lambda: NOW,
    )
    return harness, store


def record() -> tuple[PipelineHarness, MemoryRecordStore]:
    store = MemoryRecordStore()
    harness = PipelineHarness(
        CrisisRecordHandler(store, shift_of=shift_of),
        consumer=RECORD_CONSUMER,
        topic=CRISIS.name,
        group="frontdoor-outofhours-record",
        clock=lambda: NOW,
    )
    return harness, store


def values(records: list[OutRecord], topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value or b"") for r in records if r.topic == topic]


async def raised_crisis(trigger: dict[str, Any]) -> dict[str, Any]:
    """The ``crisis.raised`` the casework handler emits for ``trigger``, as JSON."""
    h, _ = casework()
    await h.feed([origin(to_line(trigger))])
    (crisis,) = values(h.sent, CRISIS.name)
    return crisis


# -- casework → the crisis stream ---------------------------------------------------------------


async def test_police_protection_on_casework_is_emitted_to_the_crisis_stream() -> None:
    h, _ = casework()
    trigger = protection()
    with capture_logs() as logs:
        outcome = await h.feed([origin(to_line(trigger))])
    (crisis,) = values(h.sent, CRISIS.name)
    assert crisis["event_type"] == "crisis.raised"
    assert crisis["payload"]["reason"] == "police_protection"
    assert crisis["causation_id"] == trigger["event_id"]
    assert h.sent[0].key == trigger["subject"]["child_id"].encode()
    assert header_map(h.sent[0].headers)["event_type"] == "crisis.raised"
    assert outcome.handled == 1
    (line,) = [entry for entry in logs if entry["event"] == "record_handled"]
    assert line["child_id"] == trigger["subject"]["child_id"]
    assert (line["reason"], line["urgency"]) == ("police_protection", "immediate")
    assert line["crisis_id"] == crisis["payload"]["crisis_id"]
    assert "Found alone" not in str(logs)


async def test_the_crisis_ids_derive_from_the_trigger() -> None:
    trigger = protection()
    first, again = await raised_crisis(trigger), await raised_crisis(trigger)
    assert first["event_id"] == again["event_id"]
    assert first["payload"]["crisis_id"] == again["payload"]["crisis_id"]


async def test_a_redelivered_trigger_changes_nothing() -> None:
    h, _ = casework()
    line = to_line(protection())
    await h.feed([origin(line)])
    outcome = await h.feed([origin(line, offset=1)])
    assert (outcome.handled, outcome.repeats) == (0, 1)
    assert len(values(h.sent, CRISIS.name)) == 1


async def test_the_same_event_twice_in_one_batch_raises_one_item() -> None:
    h, _ = casework()
    line = to_line(protection())
    outcome = await h.feed([origin(line), origin(line, offset=1)])
    assert (outcome.handled, outcome.repeats) == (1, 1)
    assert len(values(h.sent, CRISIS.name)) == 1


async def test_other_casework_is_skipped_without_being_read() -> None:
    h, _ = casework()
    outcome = await h.feed([origin(b"not json at all", event_type="referral.accepted")])
    assert outcome.ignored == 1
    assert h.sent == []


async def test_a_strategy_discussion_in_office_hours_raises_nothing() -> None:
    h, _ = casework()
    held = datetime(2025, 3, 4, 11, tzinfo=UTC)  # Tuesday 11:00
    sd = envelope(
        "strategy_discussion.held", 1,
        {"strategy_id": str(uuid.uuid4()), "referral_id": str(uuid.uuid4()),
         "held_at": held.isoformat(), "agencies": ["police", "health", "social_care"],
         "outcome": "section_47"},
        child=child_id(), at=held,
    )  # fmt: skip
    outcome = await h.feed([origin(to_line(sd))])
    assert (outcome.handled, h.sent) == (1, [])


async def test_an_unreadable_or_invalid_crisis_trigger_is_dead_lettered_with_its_bytes() -> None:
    h, _ = casework()
    broken = protection()
    broken["payload"]["started_at"] = "yesterday"
    garbage = origin(b"{not json", offset=1)
    invalid = origin(to_line(broken), offset=2, event_type="police.protection_started")
    outcome = await h.feed([garbage, invalid])
    assert outcome.dead_lettered == 2
    dead = h.sent_to(DEADLETTER.name)
    assert [r.value for r in dead] == [garbage.value, invalid.value]
    reasons = [header_map(r.headers)["dlq.reason"] for r in dead]
    assert reasons == ["deserialization", "validation"]
    assert header_map(dead[0].headers)["dlq.consumer.group"] == "frontdoor-outofhours-casework"


async def test_a_nul_in_a_text_field_or_a_header_is_a_validation_dead_letter() -> None:
    h, _ = casework()
    nul_text = protection()
    nul_text["payload"]["summary"] = "Found\u0000 alone"
    nul_header = Origin(CASEWORK.name, 0, 1, b"C1", to_line(protection()), (("trace", b"a\x00b"),))
    good = protection()
    outcome = await h.feed([origin(to_line(nul_text)), nul_header, origin(to_line(good), offset=2)])
    assert (outcome.handled, outcome.dead_lettered) == (1, 2)
    reasons = [header_map(r.headers)["dlq.reason"] for r in h.sent_to(DEADLETTER.name)]
    assert reasons == ["validation", "validation"]
    assert [c["causation_id"] for c in values(h.sent, CRISIS.name)] == [good["event_id"]]


async def test_an_ooh_action_is_recorded_in_its_shift_and_raises_nothing() -> None:
    h, store = casework()
    cause = str(uuid.uuid4())
    outcome = await h.feed([origin(to_line(ooh_action(cause)))])
    assert outcome.handled == 1
    (recorded,) = store.actions
    assert str(recorded.event.causation_id) == cause
    assert recorded.shift.starts_at == MONDAY_SHIFT
    assert values(h.sent, CRISIS.name) == []


async def test_an_action_outside_the_calendars_years_is_isolated_and_the_rest_proceeds() -> None:
    h, store = casework()
    stray = ooh_action(at=datetime(2031, 3, 4, 2, tzinfo=UTC))  # CAL ends in 2026
    triggers = [protection() for _ in range(5)]
    lines = (
        [to_line(t) for t in triggers[:2]] + [to_line(stray)] + [to_line(t) for t in triggers[2:]]
    )
    with capture_logs() as logs:
        outcome = await h.feed([origin(v, offset=n) for n, v in enumerate(lines)])
    assert (outcome.handled, outcome.dead_lettered) == (5, 1)
    (dead,) = h.sent_to(DEADLETTER.name)
    headers = header_map(dead.headers)
    assert headers["dlq.reason"] == "processing"
    assert headers["dlq.exception.class"].endswith("CalendarRangeError")
    assert dead.value == to_line(stray)
    assert len(values(h.sent, CRISIS.name)) == 5
    assert store.actions == []
    assert any(entry["event"] == "batch_split" for entry in logs)
    # not claimed: after a fix, a replay of the dead letter is handled as new
    assert (CASEWORK_CONSUMER, UUID(stray["event_id"])) not in h.ledger.processed


# -- the crisis stream into the night's record --------------------------------------------------


async def test_a_crisis_item_is_recorded_in_the_night_its_trigger_happened() -> None:
    late = await raised_crisis(protection())
    late["payload"]["raised_at"] = (NIGHT + timedelta(days=3)).isoformat()  # a replay, days on
    h, store = record()
    await h.feed([origin(orjson.dumps(late), topic=CRISIS.name)])
    (item,) = store.batches[0].items
    assert item.shift.starts_at == MONDAY_SHIFT


async def test_a_crisis_without_a_trigger_time_goes_by_its_triggers_recorded_time() -> None:
    value = await raised_crisis(protection())
    del value["payload"]["trigger_at"]
    value["payload"]["raised_at"] = "2025-03-07T19:00:00+00:00"  # replayed on a Friday evening
    h, store = record()
    store.occurred[UUID(value["payload"]["trigger_event_id"])] = NIGHT
    await h.feed([origin(orjson.dumps(value), topic=CRISIS.name)])
    (item,) = store.batches[0].items
    assert item.happened_at == NIGHT
    assert item.shift.starts_at == MONDAY_SHIFT


async def test_a_crisis_with_no_trigger_time_known_goes_by_when_it_was_raised() -> None:
    value = await raised_crisis(protection())
    del value["payload"]["trigger_at"]
    value["payload"]["raised_at"] = "2025-03-07T19:00:00+00:00"  # Friday evening
    h, store = record()
    await h.feed([origin(orjson.dumps(value), topic=CRISIS.name)])
    assert store.batches[0].items[0].shift.starts_at == datetime(2025, 3, 7, 17, tzinfo=UTC)


async def test_a_record_that_does_not_belong_on_the_crisis_stream_is_dead_lettered() -> None:
    h, store = record()
    stray = to_line(protection())
    outcome = await h.feed(
        [origin(stray, topic=CRISIS.name, event_type="police.protection_started")]
    )
    assert outcome.dead_lettered == 1
    (dead,) = h.sent
    headers = header_map(dead.headers)
    assert headers["dlq.reason"] == "validation"
    assert "does not belong" in headers["dlq.exception.message"]
    assert headers["dlq.consumer.group"] == "frontdoor-outofhours-record"
    assert store.batches == []


async def test_a_redelivered_crisis_item_is_recorded_once() -> None:
    value = orjson.dumps(await raised_crisis(protection()))
    h, store = record()
    await h.feed([origin(value, topic=CRISIS.name)])
    outcome = await h.feed([origin(value, topic=CRISIS.name, offset=1)])
    assert outcome.repeats == 1
    assert sum(len(b.items) for b in store.batches) == 1


async def test_a_crisis_triggered_outside_the_calendars_years_is_a_processing_dead_letter() -> None:
    stray = await raised_crisis(protection())
    stray["payload"]["trigger_at"] = "2031-03-04T02:00:00+00:00"
    fine = await raised_crisis(protection())
    h, store = record()
    outcome = await h.feed(
        [
            origin(orjson.dumps(stray), topic=CRISIS.name),
            origin(orjson.dumps(fine), topic=CRISIS.name, offset=1),
        ]
    )
    assert (outcome.handled, outcome.dead_lettered) == (1, 1)
    assert header_map(h.sent_to(DEADLETTER.name)[0].headers)["dlq.reason"] == "processing"
    assert [i.event.event_id for b in store.batches for i in b.items] == [UUID(fine["event_id"])]
