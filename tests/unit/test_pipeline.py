"""The one pipeline's error policy, on in-memory ports (the ledger fake passes the same contract
suite as PostgreSQL: tests/integration/test_pipeline_ledger.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest
from structlog.testing import capture_logs

from services.common.catchup import CatchUp
from services.common.deadletter import Origin, header_map
from services.common.failures import is_infrastructure
from services.common.pipeline import Delivery, Unit, WorkerGivesUpError, content_id, letter_id
from services.common.publishing import OutRecord
from tests.factories import contact, to_line
from tests.harness import PipelineHarness


def origin(value: bytes, offset: int = 0, headers: tuple[tuple[str, bytes], ...] = ()) -> Origin:
    return Origin("partner.events", 0, offset, b"k", value, headers)


class Echo:
    """Emits one record per event; fails for the ids in ``poison``."""

    def __init__(self, poison: set[str] | None = None) -> None:
        self.poison = poison or set()
        self.seen: list[str] = []
        self.calls = 0

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        self.calls += 1
        for d in deliveries:
            if str(d.id) in self.poison:
                raise ValueError("cannot handle this one")
        for d in deliveries:
            self.seen.append(str(d.id))
            unit.emit(OutRecord("frontdoor.casework", b"k", d.canonical, event_id=d.id))


def batch(n: int) -> list[dict[str, object]]:
    return [contact() for _ in range(n)]


async def test_one_failing_record_in_500_is_isolated_and_the_other_499_land_in_order() -> None:
    events = batch(500)
    bad = str(events[317]["event_id"])
    handler = Echo({bad})
    h = PipelineHarness(handler)
    outcome = await h.feed([origin(to_line(e), i) for i, e in enumerate(events)])
    assert (outcome.handled, outcome.dead_lettered) == (499, 1)
    assert handler.seen == [str(e["event_id"]) for e in events if str(e["event_id"]) != bad]
    dead = h.sent_to("frontdoor.deadletter")
    assert len(dead) == 1
    headers = header_map(dead[0].headers)
    assert headers["dlq.reason"] == "processing"
    assert headers["dlq.original.offset"] == "317"
    assert dead[0].value == to_line(events[317])
    assert len(h.sent_to("frontdoor.casework")) == 499
    assert handler.calls < 40  # isolation by halving, not one transaction per record


async def test_a_processing_dead_letter_is_not_marked_processed_so_a_replay_is_handled() -> None:
    event = contact()
    handler = Echo({str(event["event_id"])})
    h = PipelineHarness(handler)
    await h.feed([origin(to_line(event))])
    handler.poison.clear()  # the fix
    outcome = await h.feed([origin(to_line(event), 1)])
    assert outcome.handled == 1


async def test_a_deferred_record_is_neither_handled_nor_dead_lettered_and_stays_unclaimed() -> None:
    waiting, ready = contact(), contact()
    later: set[str] = {str(waiting["event_id"])}

    async def handler(unit: Unit, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            if str(d.id) in later:
                unit.defer(d)

    h = PipelineHarness(handler)
    with capture_logs() as logs:
        outcome = await h.feed([origin(to_line(waiting)), origin(to_line(ready), 1)])
    assert (outcome.handled, outcome.deferred, outcome.dead_lettered) == (1, 1, 0)
    assert h.sent_to("frontdoor.deadletter") == []
    assert [e["outcome"] for e in logs if e.get("event") == "record_handled"] == [
        "deferred",
        "handled",
    ]
    later.clear()  # the world caught up: the same record, fed again, is handled as new
    again = await h.feed([origin(to_line(waiting))])
    assert (again.handled, again.repeats) == (1, 0)


async def test_nul_in_a_text_field_is_a_validation_dead_letter_naming_the_field_not_value() -> None:
    event = contact()
    event["payload"]["summary"] = "secret story \u0000 more"  # type: ignore[index]
    good = contact()
    h = PipelineHarness(Echo())
    outcome = await h.feed([origin(to_line(event)), origin(to_line(good), 1)])
    assert (outcome.handled, outcome.dead_lettered) == (1, 1)
    headers = header_map(h.sent_to("frontdoor.deadletter")[0].headers)
    assert headers["dlq.reason"] == "validation"
    assert "summary" in headers["dlq.exception.message"]
    assert "secret story" not in headers["dlq.exception.message"]


async def test_nul_in_a_header_is_a_validation_dead_letter() -> None:
    h = PipelineHarness(Echo())
    outcome = await h.feed([origin(to_line(contact()), headers=(("trace", b"a\x00b"),))])
    assert outcome.dead_lettered == 1
    headers = header_map(h.sent_to("frontdoor.deadletter")[0].headers)
    assert headers["dlq.reason"] == "validation"
    assert "U+0000" in headers["dlq.exception.message"]


async def test_a_rejected_value_never_appears_in_the_dead_letter_message() -> None:
    event = contact()
    event["payload"]["child"]["date_of_birth"] = "2017-13-45"  # type: ignore[index]
    h = PipelineHarness(Echo())
    await h.feed([origin(to_line(event))])
    message = header_map(h.sent_to("frontdoor.deadletter")[0].headers)["dlq.exception.message"]
    assert "date_of_birth" in message
    assert "2017-13-45" not in message
    assert "input_value" not in message


async def test_unwanted_types_are_skipped_by_header_without_parsing() -> None:
    h = PipelineHarness(Echo(), event_types=frozenset({"police.da_notification"}))
    outcome = await h.feed(
        [origin(b"not even json", headers=(("event_type", b"contact.received"),))]
    )
    assert (outcome.ignored, outcome.dead_lettered, h.sent) == (1, 0, [])


async def test_infrastructure_failure_is_retried_whole_and_never_dead_lettered() -> None:
    class Flaky(Echo):
        async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
            self.calls += 1
            if self.calls <= 2:
                raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
            await super().__call__(unit, deliveries)

    handler = Flaky()
    h = PipelineHarness(handler)
    outcome = await h.feed([origin(to_line(e), i) for i, e in enumerate(batch(10))])
    assert (outcome.handled, outcome.dead_lettered) == (10, 0)
    assert h.sent_to("frontdoor.deadletter") == []


async def test_infrastructure_away_too_long_makes_the_worker_give_up() -> None:
    class Down(Echo):
        async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
            raise ConnectionRefusedError("connection refused")

    h = PipelineHarness(Down())
    h.pipeline.give_up_seconds = 0.0
    with pytest.raises(WorkerGivesUpError):
        await h.feed([origin(to_line(contact()))])
    assert h.sent == []


def test_data_errors_are_the_records_and_connection_errors_the_infrastructures() -> None:
    assert is_infrastructure(asyncpg.exceptions.AdminShutdownError("terminating"))
    assert is_infrastructure(OSError("unreachable"))
    assert not is_infrastructure(asyncpg.exceptions.UntranslatableCharacterError("\\u0000"))
    assert not is_infrastructure(ValueError("bad record"))


async def test_repeat_is_a_noop_and_logged_once_per_record() -> None:
    line = to_line(contact())
    handler = Echo()
    h = PipelineHarness(handler)
    await h.feed([origin(line)])
    with capture_logs() as logs:
        outcome = await h.feed([origin(line, 1), origin(line, 2)])
    assert (outcome.handled, outcome.repeats) == (0, 2)
    assert [entry["outcome"] for entry in logs if entry["event"] == "record_handled"] == [
        "repeat",
        "repeat",
    ]
    assert len(handler.seen) == 1


def test_dead_letters_are_identified_by_content_not_offset() -> None:
    a = Origin("partner.events", 3, 7, b"k", b"one", (("h", b"1"),))
    moved = Origin("partner.events", 3, 99, b"k", b"one", (("h", b"1"),))
    other = Origin("partner.events", 3, 7, b"k", b"two", (("h", b"1"),))
    assert content_id(a) == content_id(moved)
    assert content_id(a) != content_id(other)


async def test_catch_up_feeds_only_records_the_broker_no_longer_holds() -> None:
    h = PipelineHarness(Echo(), consumer="reader", topic="frontdoor.casework")
    producer = PipelineHarness(Echo(), consumer="writer")
    events = batch(3)
    await producer.feed([origin(to_line(e), i) for i, e in enumerate(events)])
    stored = producer.ledger.outbox
    old, new = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)
    for n, s in enumerate(stored):
        s.relay_ts = old if n < 2 else new  # two sent to a broker that has since forgotten
    fed: list[Origin] = []

    async def process(origins: Sequence[Origin]) -> None:
        fed.extend(origins)
        await h.feed(origins)

    async def oldest(topic: str, partitions: Sequence[int]) -> dict[int, datetime | None]:
        return dict.fromkeys(partitions, old + timedelta(hours=1))

    catchup = CatchUp("reader", "frontdoor.casework", None, producer.ledger, oldest, process)
    partition = stored[0].row.partition
    assert await catchup.run([partition]) == 2
    assert [orjson.loads(o.value or b"")["event_id"] for o in fed] == [
        str(e["event_id"]) for e in events[:2]
    ]
    assert all(o.offset == -1 for o in fed)


def test_the_same_record_refused_by_two_groups_is_two_letters() -> None:
    record = Origin("frontdoor.casework", 0, 1, b"k", b"v", ())
    assert letter_id(record, "frontdoor-sla") != letter_id(record, "frontdoor-conferences")
    assert letter_id(record, "frontdoor-sla") == letter_id(record, "frontdoor-sla")


async def test_a_dead_letter_that_cannot_be_kept_is_never_dead_lettered_onto_itself() -> None:
    class Broken:
        async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
            raise ValueError("cannot store this letter")

    h = PipelineHarness(Broken(), topic="frontdoor.deadletter", raw=True)
    letter = Origin("frontdoor.deadletter", 0, 4, b"k", b"garbage", (("dlq.reason", b"x"),))
    with capture_logs() as logs:
        outcome = await h.feed([letter])
        again = await h.feed([letter])
    assert h.sent == []  # no loop
    assert outcome.dead_lettered == 0
    assert again.repeats == 1  # claimed: it does not come round again
    assert [e["outcome"] for e in logs if e["event"] == "record_handled"] == [
        "unstorable",
        "repeat",
    ]
