"""Publishing and acknowledging a night's handover over in-memory ports (the real outbox adapter
on the in-memory ledger); the automatic handover."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from uuid import UUID

import orjson
import pytest

from schemas.codes import Urgency
from schemas.events.triage import CrisisReason
from schemas.topics import CRISIS
from services.common.calendar import LONDON, OfficeHours, WorkingCalendar
from services.common.ledger import MemoryLedger
from services.common.outbox import RecordingSender, Relay
from services.common.publishing import OutRecord
from services.outofhours.adapters.outbox import OutboxAnnouncements
from services.outofhours.domain.handover import PartStatus, handover_id_for
from services.outofhours.domain.record import CrisisItem, NightRecord
from services.outofhours.domain.shifts import Shift, shift_for
from services.outofhours.handlers import (
    HandoverScheduler,
    NoHandoverError,
    acknowledge_handover,
    publish_handover,
)

CAL = WorkingCalendar.england_and_wales(2024, 2025)
SHIFT = shift_for(datetime(2024, 6, 10, 22, tzinfo=LONDON), CAL, OfficeHours())
MORNING = datetime(2024, 6, 11, 8, 15, tzinfo=LONDON)


def item(child: str, urgency: Urgency = Urgency.IMMEDIATE) -> CrisisItem:
    at = datetime(2024, 6, 10, 23, tzinfo=LONDON)
    return CrisisItem(
        event_id=uuid.uuid4(), crisis_id=uuid.uuid4(), child_id=child,
        reason=CrisisReason.POLICE_PROTECTION, urgency=urgency, explanation="Police protection",
        trigger_event_id=uuid.uuid4(), trigger_event_type="police.protection_started",
        happened_at=at, raised_at=at,
    )  # fmt: skip


class Outbox(OutboxAnnouncements):
    """The real adapter on the in-memory ledger; ``records`` is what reached "Kafka"."""

    def __init__(self, ledger: MemoryLedger | None = None) -> None:
        self.ledger = ledger or MemoryLedger()
        self.sender = RecordingSender()
        super().__init__(self.ledger, Relay(self.ledger, self.sender))

    @property
    def records(self) -> list[OutRecord]:
        return self.sender.records


class FakeReader:
    def __init__(self, *items: CrisisItem) -> None:
        self.items = items
        self.status: dict[str, PartStatus] = {}

    async def night(self, shift: Shift) -> NightRecord:
        return NightRecord(shift=shift, items=self.items)

    async def handover_status(self, handover_id: UUID) -> dict[str, PartStatus]:
        return self.status if handover_id == handover_id_for(SHIFT) else {}

    def published(self, publisher: Outbox, *, acknowledged: frozenset[str] = frozenset()) -> None:
        for record in publisher.records:
            value = orjson.loads(record.value or b"")
            child = value["subject"]["child_id"]
            self.status[child] = PartStatus(
                child_id=child, rank=value["payload"]["rank"], published_at=MORNING,
                event_ids=frozenset({UUID(value["event_id"])}),
                acknowledged_at=MORNING if child in acknowledged else None,
            )  # fmt: skip


async def test_the_handover_is_published_once_per_content() -> None:
    reader, publisher = FakeReader(item("C1"), item("C2", Urgency.TODAY)), Outbox()
    first = await publish_handover(reader, publisher, SHIFT, team="MASH", at=MORNING)
    assert first.sent == 2
    assert [r.topic for r in publisher.records] == [CRISIS.name, CRISIS.name]
    assert [p.child_id for p in first.parts] == ["C1", "C2"]
    reader.published(publisher)
    again = await publish_handover(reader, Outbox(), SHIFT, team="MASH", at=MORNING)
    assert again.sent == 0
    assert [p.child_id for p in again.parts] == ["C1", "C2"]


async def test_something_new_in_the_night_is_published_again() -> None:
    reader, publisher = FakeReader(item("C1")), Outbox()
    await publish_handover(reader, publisher, SHIFT, team="MASH", at=MORNING)
    reader.published(publisher)
    reader.items = (*reader.items, item("C1", Urgency.TODAY))
    later = Outbox()
    report = await publish_handover(reader, later, SHIFT, team="MASH", at=MORNING)
    assert report.sent == 1
    assert orjson.loads(later.records[0].value or b"")["subject"]["child_id"] == "C1"


async def test_a_preview_publishes_nothing() -> None:
    publisher = Outbox()
    report = await publish_handover(
        FakeReader(item("C1")), publisher, SHIFT, team="MASH", at=MORNING, publish=False
    )
    assert (report.sent, publisher.records, len(report.events)) == (0, [], 1)


async def test_the_day_team_cannot_acknowledge_a_handover_never_published() -> None:
    with pytest.raises(NoHandoverError, match="night of 2024-06-10"):
        await acknowledge_handover(
            FakeReader(item("C1")), Outbox(), SHIFT, team="MASH", worker="DT1",
            at=MORNING,
        )  # fmt: skip


async def test_acknowledging_covers_every_part_not_yet_acknowledged_in_rank_order() -> None:
    reader, publisher = (
        FakeReader(item("C1"), item("C2"), item("C3", Urgency.TODAY)),
        Outbox(),
    )
    await publish_handover(reader, publisher, SHIFT, team="MASH", at=MORNING)
    reader.published(publisher, acknowledged=frozenset({"C1"}))
    acks = Outbox()
    events = await acknowledge_handover(
        reader, acks, SHIFT, team="Safeguarding 1", worker="DT1", at=MORNING + timedelta(minutes=20)
    )
    assert [e.subject.child_id for e in events] == ["C2", "C3"]
    assert {e.payload.handover_id for e in events} == {handover_id_for(SHIFT)}
    assert len(acks.records) == 2


async def test_acknowledging_a_child_not_in_the_handover_is_refused() -> None:
    reader, publisher = FakeReader(item("C1")), Outbox()
    await publish_handover(reader, publisher, SHIFT, team="MASH", at=MORNING)
    reader.published(publisher)
    with pytest.raises(NoHandoverError, match="C9"):
        await acknowledge_handover(
            reader, Outbox(), SHIFT, team="MASH", worker="DT1", at=MORNING,
            children=("C1", "C9"),
        )  # fmt: skip


async def test_the_automatic_handover_goes_out_only_when_one_is_owed() -> None:
    reader, publisher = FakeReader(item("C1")), Outbox()
    owed: list[Shift | None] = [None]
    scheduler = HandoverScheduler(
        reader=reader, announcements=publisher, shift_to_publish=lambda _: owed[0], team="MASH",
        clock=lambda: MORNING,
    )  # fmt: skip
    assert await scheduler.tick() is None
    assert publisher.records == []
    owed[0] = SHIFT
    report = await scheduler.tick()
    assert report is not None
    assert report.sent == 1


async def test_a_part_still_on_its_way_to_the_record_is_not_sent_twice() -> None:
    reader, ledger = FakeReader(item("C1"), item("C2")), MemoryLedger()
    command, replica = Outbox(ledger), Outbox(ledger)  # the command and the scheduler, say
    first = await publish_handover(reader, command, SHIFT, team="MASH", at=MORNING)
    later = MORNING + timedelta(seconds=30)  # the record has not caught up: status still empty
    second = await publish_handover(reader, replica, SHIFT, team="MASH", at=later)
    assert (first.sent, second.sent) == (2, 0)
    assert replica.records == []
    assert [e.event_id for e in second.events] == [e.event_id for e in first.events]


async def test_the_day_team_acknowledges_each_part_once() -> None:
    reader, outbox = FakeReader(item("C1")), Outbox()
    await publish_handover(reader, outbox, SHIFT, team="MASH", at=MORNING)
    reader.published(outbox)
    first = await acknowledge_handover(
        reader, outbox, SHIFT, team="MASH", worker="DT1", at=MORNING, children=("C1",)
    )
    again = await acknowledge_handover(
        reader, outbox, SHIFT, team="MASH", worker="DT2", at=MORNING + timedelta(minutes=5),
        children=("C1",),
    )  # fmt: skip
    assert ([e.subject.child_id for e in first], again) == (["C1"], [])
    acks = [r for r in outbox.records if b"ooh.handover_acknowledged" in (r.value or b"")]
    assert len(acks) == 1


async def test_a_handover_the_broker_did_not_take_waits_in_the_outbox_for_the_sweeper() -> None:
    from aiokafka.errors import KafkaConnectionError

    reader, outbox = FakeReader(item("C1")), Outbox()
    outbox.sender.fail_next = KafkaConnectionError()
    report = await publish_handover(reader, outbox, SHIFT, team="MASH", at=MORNING)
    assert (report.sent, outbox.records) == (1, [])
    swept = await Relay(outbox.ledger, outbox.sender, sweep_after_seconds=0).sweep_once()
    assert swept == 1
    (record,) = outbox.records
    assert record.topic == CRISIS.name
    assert orjson.loads(record.value or b"")["event_id"] == str(report.events[0].event_id)
