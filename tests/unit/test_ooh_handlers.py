"""The out-of-hours stream handlers over fake ports: crisis items raised, the night recorded."""

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
from services.common.publishing import OutRecord, RecordingPublisher
from services.outofhours.domain.shifts import shift_for
from services.outofhours.handlers import (
    CaseworkHandler,
    CrisisRecordHandler,
    CrisisStreamBatch,
    ShiftedAction,
)
from tests.factories import child_id, envelope, to_line

CAL = WorkingCalendar.england_and_wales(2024, 2026)
NOW = datetime(2025, 3, 4, 2, 30, tzinfo=UTC)
NIGHT = datetime(2025, 3, 4, 2, 10, tzinfo=UTC)


class FakeStore:
    def __init__(self, publisher: RecordingPublisher) -> None:
        self.publisher = publisher
        self.ledger: set[tuple[str, UUID]] = set()
        self.actions: list[ShiftedAction] = []
        self.batches: list[CrisisStreamBatch] = []
        self.published_before_commit: list[int] = []
        self.occurred: dict[UUID, datetime] = {}

    async def processed(self, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]:
        return {e for e in event_ids if (consumer, e) in self.ledger}

    async def trigger_moments(self, event_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        return {e: self.occurred[e] for e in event_ids if e in self.occurred}

    async def record_casework(
        self, consumer: str, event_ids: Sequence[UUID], actions: Sequence[ShiftedAction]
    ) -> int:
        self.published_before_commit.append(len(self.publisher.records))
        self.ledger |= {(consumer, e) for e in event_ids}
        self.actions.extend(actions)
        return len(actions)

    async def record_crisis_stream(
        self, consumer: str, event_ids: Sequence[UUID], batch: CrisisStreamBatch
    ) -> int:
        self.ledger |= {(consumer, e) for e in event_ids}
        self.batches.append(batch)
        return len(event_ids)


def origin(value: bytes | None, *, topic: str = CASEWORK.name, offset: int = 0,
           event_type: str | None = None) -> Origin:  # fmt: skip
    headers = (("event_type", event_type.encode()),) if event_type else ()
    return Origin(topic, 0, offset, b"C1", value, headers)


def protection(child: str | None = None) -> dict[str, Any]:
    return envelope(
        "police.protection_started", 1,
        {"protection_id": str(uuid.uuid4()), "started_at": NIGHT.isoformat(),
         "police_ref": "SYP-1", "summary": "Found alone at home."},
        child=child or child_id(), agency="police", at=NIGHT,
    )  # fmt: skip


def ooh_action(cause: str | None = None) -> dict[str, Any]:
    event = envelope(
        "ooh.action_recorded", 1,
        {"action_id": str(uuid.uuid4()), "action_at": NIGHT.isoformat(), "kind": "welfare_check",
         "urgency": "today", "summary": "Visited.", "decision_reason": "Safe overnight.",
         "worker": "EDT01"},
        child=child_id(), agency="ooh", at=NIGHT,
    )  # fmt: skip
    event["causation_id"] = cause
    return event


def casework_handler() -> tuple[CaseworkHandler, FakeStore, RecordingPublisher]:
    publisher = RecordingPublisher()
    store = FakeStore(publisher)
    handler = CaseworkHandler(
        store=store,
        publisher=publisher,
        out_of_hours=lambda moment: not CAL.is_office_hours(moment),
        shift_of=lambda moment: shift_for(moment, CAL, OfficeHours()),
        consumer_group="frontdoor-outofhours-casework",
        clock=lambda: NOW,
    )
    return handler, store, publisher


def values(records: list[OutRecord], topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value or b"") for r in records if r.topic == topic]


async def test_police_protection_on_casework_is_published_to_the_crisis_stream_before_commit() -> (
    None
):
    handler, store, publisher = casework_handler()
    trigger = protection()
    with capture_logs() as logs:
        outcome = await handler.handle_batch([origin(to_line(trigger))])
    (crisis,) = values(publisher.records, CRISIS.name)
    assert crisis["event_type"] == "crisis.raised"
    assert crisis["payload"]["reason"] == "police_protection"
    assert crisis["causation_id"] == trigger["event_id"]
    assert publisher.records[0].key == trigger["subject"]["child_id"].encode()
    assert store.published_before_commit == [1]
    assert outcome.crises == 1
    raised = [entry for entry in logs if entry["event"] == "ooh_crisis_raised"]
    assert raised[0]["child_id"] == trigger["subject"]["child_id"]
    assert "summary" not in str(raised)


async def test_a_redelivered_trigger_changes_nothing() -> None:
    handler, _store, publisher = casework_handler()
    line = to_line(protection())
    await handler.handle_batch([origin(line)])
    outcome = await handler.handle_batch([origin(line, offset=1)])
    assert outcome.duplicates == 1
    assert len(values(publisher.records, CRISIS.name)) == 1


async def test_the_same_event_twice_in_one_batch_raises_one_item() -> None:
    handler, _, publisher = casework_handler()
    line = to_line(protection())
    outcome = await handler.handle_batch([origin(line), origin(line, offset=1)])
    assert (outcome.crises, outcome.duplicates) == (1, 1)
    assert len(values(publisher.records, CRISIS.name)) == 1


async def test_other_casework_is_skipped_without_being_read() -> None:
    handler, _store, publisher = casework_handler()
    outcome = await handler.handle_batch(
        [origin(b"not json at all", event_type="referral.accepted")]
    )
    assert outcome.ignored == 1
    assert publisher.records == []


async def test_an_unreadable_or_invalid_crisis_trigger_is_dead_lettered_with_its_bytes() -> None:
    handler, _, publisher = casework_handler()
    broken = protection()
    broken["payload"]["started_at"] = "yesterday"
    garbage = origin(b"{not json", offset=1)
    invalid = origin(to_line(broken), offset=2, event_type="police.protection_started")
    outcome = await handler.handle_batch([garbage, invalid])
    assert outcome.dead_lettered == 2
    dead = [r for r in publisher.records if r.topic == DEADLETTER.name]
    assert [r.value for r in dead] == [garbage.value, invalid.value]
    reasons = [header_map(tuple(r.headers))["dlq.reason"] for r in dead]
    assert reasons == ["deserialization", "validation"]
    assert (
        header_map(tuple(dead[0].headers))["dlq.consumer.group"] == "frontdoor-outofhours-casework"
    )


async def test_an_ooh_action_is_recorded_in_its_shift_and_raises_nothing() -> None:
    handler, store, publisher = casework_handler()
    cause = str(uuid.uuid4())
    outcome = await handler.handle_batch([origin(to_line(ooh_action(cause)))])
    assert outcome.crises == 0
    (recorded,) = store.actions
    assert str(recorded.event.causation_id) == cause
    assert recorded.shift.starts_at == datetime(2025, 3, 3, 17, tzinfo=UTC)  # Monday 17:00 GMT
    assert values(publisher.records, CRISIS.name) == []


# -- the crisis stream into the night's record -------------------------------------------------


def record_handler() -> tuple[CrisisRecordHandler, FakeStore, RecordingPublisher]:
    publisher = RecordingPublisher()
    store = FakeStore(publisher)
    handler = CrisisRecordHandler(
        store=store,
        publisher=publisher,
        shift_of=lambda moment: shift_for(moment, CAL, OfficeHours()),
        consumer_group="frontdoor-outofhours-record",
        clock=lambda: NOW,
    )
    return handler, store, publisher


async def test_a_crisis_item_is_recorded_in_the_night_its_trigger_happened() -> None:
    raiser, _, raised = casework_handler()
    await raiser.handle_batch([origin(to_line(protection()))])
    (crisis,) = [r for r in raised.records if r.topic == CRISIS.name]
    late = orjson.loads(crisis.value or b"")
    late["payload"]["raised_at"] = (NIGHT + timedelta(days=3)).isoformat()  # a replay, days on
    handler, store, _ = record_handler()
    await handler.handle_batch([origin(orjson.dumps(late), topic=CRISIS.name)])
    (item,) = store.batches[0].items
    assert item.shift.starts_at == datetime(2025, 3, 3, 17, tzinfo=UTC)


async def test_a_crisis_without_a_trigger_time_goes_by_its_triggers_recorded_time() -> None:
    raiser, _, raised = casework_handler()
    await raiser.handle_batch([origin(to_line(protection()))])
    value = orjson.loads(raised.records[0].value or b"")
    del value["payload"]["trigger_at"]
    value["payload"]["raised_at"] = "2025-03-07T19:00:00+00:00"  # replayed on a Friday evening
    handler, store, _ = record_handler()
    store.occurred[UUID(value["payload"]["trigger_event_id"])] = NIGHT
    await handler.handle_batch([origin(orjson.dumps(value), topic=CRISIS.name)])
    (item,) = store.batches[0].items
    assert item.happened_at == NIGHT
    assert item.shift.starts_at == datetime(2025, 3, 3, 17, tzinfo=UTC)


async def test_a_crisis_with_no_trigger_time_known_goes_by_when_it_was_raised() -> None:
    raiser, _, raised = casework_handler()
    await raiser.handle_batch([origin(to_line(protection()))])
    value = orjson.loads(raised.records[0].value or b"")
    del value["payload"]["trigger_at"]
    value["payload"]["raised_at"] = "2025-03-07T19:00:00+00:00"  # Friday evening
    handler, store, _ = record_handler()
    await handler.handle_batch([origin(orjson.dumps(value), topic=CRISIS.name)])
    assert store.batches[0].items[0].shift.starts_at == datetime(2025, 3, 7, 17, tzinfo=UTC)


async def test_a_record_that_does_not_belong_on_the_crisis_stream_is_dead_lettered() -> None:
    handler, _store, publisher = record_handler()
    stray = origin(to_line(protection()), topic=CRISIS.name, event_type="police.protection_started")
    outcome = await handler.handle_batch([stray])
    assert outcome.dead_lettered == 1
    (dead,) = publisher.records
    assert header_map(tuple(dead.headers))["dlq.reason"] == "validation"
    assert "does not belong" in header_map(tuple(dead.headers))["dlq.exception.message"]


async def test_a_redelivered_crisis_item_is_recorded_once() -> None:
    raiser, _, raised = casework_handler()
    await raiser.handle_batch([origin(to_line(protection()))])
    value = raised.records[0].value
    handler, store, _ = record_handler()
    await handler.handle_batch([origin(value, topic=CRISIS.name)])
    outcome = await handler.handle_batch([origin(value, topic=CRISIS.name, offset=1)])
    assert outcome.duplicates == 1
    assert sum(len(b.items) for b in store.batches) == 1
