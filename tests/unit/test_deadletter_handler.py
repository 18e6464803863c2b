"""The dead-letter service's keeping handler through the real pipeline (raw subscription) with an
in-memory table: identity by content, exact headers whatever their bytes, unknown records kept,
letters failing again after a replay waiting again, and the canonical log line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from structlog.testing import capture_logs

from schemas.text import FORBIDDEN_CHARACTERS
from services.common.deadletter import DeadLetterReason, Origin
from services.common.pipeline import dead_letter_row
from services.deadletter.domain.letters import KeptLetter, Letter, shown
from services.deadletter.handlers import DeadLetterHandler
from tests.factories import contact, to_line
from tests.harness import NOW, PipelineHarness


class MemoryLetterStore:
    """The ``deadletters`` table's rules in memory (``PostgresLetterStore`` is the real one)."""

    def __init__(self) -> None:
        self.rows: dict[UUID, Letter] = {}
        self.replayed: dict[UUID, datetime | None] = {}

    def __call__(self, _connection: Any) -> MemoryLetterStore:
        return self

    async def kept(self, letter_ids: Sequence[UUID]) -> dict[UUID, KeptLetter]:
        return {
            i: KeptLetter(self.rows[i].failed_at, self.replayed[i])
            for i in letter_ids
            if i in self.rows
        }

    async def add(self, letters: Sequence[Letter], *, received_at: datetime) -> None:
        for letter in letters:
            if letter.letter_id not in self.rows:
                self.rows[letter.letter_id] = letter
                self.replayed[letter.letter_id] = None

    async def reopen(self, letters: Sequence[Letter], *, received_at: datetime) -> None:
        for letter in letters:
            self.rows[letter.letter_id] = letter
            self.replayed[letter.letter_id] = None

    def replay(self, letter_id: UUID, harness: PipelineHarness) -> None:
        """What ``frontdoor dlq replay`` does to the table and to the pipeline's claim."""
        self.replayed[letter_id] = NOW
        harness.ledger.processed.pop(("deadletter", letter_id), None)


def failed(
    value: bytes,
    *,
    headers: tuple[tuple[str, bytes], ...] = (("trace", b"t-1"),),
    offset: int = 7,
    at: datetime = NOW,
    reason: DeadLetterReason = DeadLetterReason.VALIDATION,
) -> tuple[tuple[str, bytes], ...]:
    """The headers the pipeline writes on a dead letter of a partner.events record."""
    original = Origin("partner.events", 3, offset, b"child-1", value, headers)
    row = dead_letter_row(original, reason, ValueError("payload.x: bad"), "frontdoor-intake", at)
    return row.headers


def on_topic(
    value: bytes,
    headers: tuple[tuple[str, bytes], ...],
    *,
    offset: int = 0,
    key: bytes = b"child-1",
) -> Origin:
    return Origin("frontdoor.deadletter", 1, offset, key, value, headers)


def harness(store: MemoryLetterStore) -> PipelineHarness:
    return PipelineHarness(
        DeadLetterHandler(store), consumer="deadletter", topic="frontdoor.deadletter", raw=True
    )


def letter_id(headers: tuple[tuple[str, bytes], ...]) -> UUID:
    return UUID(dict(headers)["dlq.id"].decode())


async def test_dead_letter_is_kept_with_its_reason_and_original_bytes() -> None:
    store = MemoryLetterStore()
    value = to_line(contact())
    headers = failed(value)
    outcome = await harness(store).feed([on_topic(value, headers)])
    assert outcome.handled == 1
    kept = store.rows[letter_id(headers)]
    assert (kept.reason, kept.original_topic, kept.original_partition, kept.original_offset) == (
        "validation",
        "partner.events",
        3,
        7,
    )
    assert kept.consumer_group == "frontdoor-intake"
    assert kept.exception_class == "builtins.ValueError"
    assert kept.failed_at == NOW
    assert (kept.key, kept.value, kept.headers) == (b"child-1", value, headers)
    assert kept.shown_headers == {"trace": "t-1"}


async def test_same_letter_delivered_twice_is_kept_once() -> None:
    store = MemoryLetterStore()
    h = harness(store)
    value = to_line(contact())
    headers = failed(value)
    await h.feed([on_topic(value, headers, offset=0)])
    outcome = await h.feed(
        [on_topic(value, headers, offset=40), on_topic(value, headers, offset=41)]
    )
    assert (outcome.handled, outcome.repeats) == (0, 2)
    assert len(store.rows) == 1


async def test_same_letter_caught_up_after_its_claim_expired_changes_nothing() -> None:
    store = MemoryLetterStore()
    value = to_line(contact())
    headers = failed(value)
    await harness(store).feed([on_topic(value, headers)])
    before = dict(store.rows)
    later = harness(store)  # a fresh ledger: the claim is past its retention, the table is not
    with capture_logs() as logs:
        await later.feed([on_topic(value, headers, offset=-1)])
    assert store.rows == before
    assert [e["stored"] for e in logs if e.get("event") == "record_handled"] == ["kept_before"]


async def test_letters_sharing_group_topic_partition_and_offset_are_both_kept() -> None:
    """After a broker restart offsets start again: two letters at the same place, other content."""
    store = MemoryLetterStore()
    h = harness(store)
    first, second = to_line(contact()), to_line(contact())
    before_restart = on_topic(first, failed(first, offset=0), offset=0)
    after_restart = on_topic(second, failed(second, offset=0), offset=0)
    await h.feed([before_restart])
    outcome = await h.feed([after_restart])
    assert outcome.handled == 1
    assert sorted(le.value for le in store.rows.values()) == sorted([first, second])  # type: ignore[type-var]


@pytest.mark.parametrize(
    "header",
    [
        ("trace", b"a\x00b"),  # NUL
        ("trace", b"\xff\xfe not utf-8"),
        ("trace", b"bell \x07 and \x1b[31m escape"),
        ("na\x00me", b"v"),  # NUL in a header name
        ("empty", b""),
    ],
)
async def test_any_header_bytes_are_kept_exactly_and_shown_escaped(
    header: tuple[str, bytes],
) -> None:
    store = MemoryLetterStore()
    value = to_line(contact())
    headers = failed(value, headers=(header, ("dup", b"1"), ("dup", b"2")))
    outcome = await harness(store).feed([on_topic(value, headers)])
    assert outcome.handled == 1
    kept = store.rows[letter_id(headers)]
    assert kept.headers == headers  # every byte, dlq.* included, in order
    assert kept.headers[:3] == (header, ("dup", b"1"), ("dup", b"2"))
    for text in (*kept.shown_headers, *kept.shown_headers.values()):
        assert FORBIDDEN_CHARACTERS.search(text) is None  # what jsonb or a terminal cannot take
    assert kept.shown_headers[shown(header[0])] == shown(header[1])


def test_shown_escapes_what_cannot_be_stored_or_printed() -> None:
    assert shown(b"a\x00b") == "a\\u0000b"
    assert shown(b"\xff ok") == "\\xff ok"
    assert shown("tab\tstays") == "tab\tstays"
    assert shown(None) == ""


async def test_record_without_dlq_headers_is_kept_as_unknown() -> None:
    store = MemoryLetterStore()
    record = on_topic(b"written by hand \x00", (("h", b"\x00"),), offset=12)
    outcome = await harness(store).feed([record])
    assert outcome.handled == 1
    [kept] = store.rows.values()
    assert kept.reason == "unknown"
    assert kept.original_topic == "frontdoor.deadletter"  # so a replay refuses it (no loop)
    assert (kept.original_partition, kept.original_offset) == (1, 12)
    assert "dlq.reason" in kept.exception_message
    assert kept.failed_at == NOW
    assert (kept.value, kept.headers) == (record.value, record.headers)


@pytest.mark.parametrize(
    ("name", "raw", "rule"),
    [
        ("dlq.original.partition", b"99999999999", "out of range"),
        ("dlq.original.offset", b"seven", "not an integer"),
        ("dlq.original.topic", b"partner\x00events", "not plain text"),
        ("dlq.failed.at", b"yesterday", "ISO 8601"),
        ("dlq.failed.at", b"0001-01-01T00:00:00+05:00", "out of range"),
        ("dlq.failed.at", b"9999-12-31T23:59:59-05:00", "out of range"),
        ("dlq.reason", b"bogus", "not a known reason"),
        ("dlq.reason", b"\xff", "not UTF-8"),
    ],
)
async def test_garbled_dlq_header_keeps_the_letter_as_unknown(
    name: str, raw: bytes, rule: str
) -> None:
    store = MemoryLetterStore()
    value = to_line(contact())
    headers = tuple((k, raw if k == name else v) for k, v in failed(value))
    outcome = await harness(store).feed([on_topic(value, headers)])
    assert (outcome.handled, outcome.dead_lettered) == (1, 0)
    kept = store.rows[letter_id(headers)]
    assert kept.reason == "unknown"
    assert name in kept.exception_message
    assert rule in kept.exception_message
    assert kept.headers == headers


async def test_text_dlq_headers_with_control_characters_are_stored_escaped() -> None:
    store = MemoryLetterStore()
    value = to_line(contact())
    headers = tuple(
        (k, b"bad\x00message" if k == "dlq.exception.message" else v) for k, v in failed(value)
    )
    await harness(store).feed([on_topic(value, headers)])
    kept = store.rows[letter_id(headers)]
    assert kept.reason == "validation"
    assert kept.exception_message == "bad\\u0000message"


async def test_letter_that_fails_again_after_a_replay_is_waiting_again() -> None:
    store = MemoryLetterStore()
    h = harness(store)
    value = to_line(contact())
    first = failed(value, reason=DeadLetterReason.PROCESSING)
    await h.feed([on_topic(value, first)])
    store.replay(letter_id(first), h)
    # the replayed record fails again: same content (same id), a later failure
    again = failed(value, reason=DeadLetterReason.PROCESSING, at=NOW + timedelta(minutes=5))
    assert letter_id(again) == letter_id(first)
    with capture_logs() as logs:
        outcome = await h.feed([on_topic(value, again, offset=99)])
    assert outcome.handled == 1
    assert store.replayed[letter_id(first)] is None
    assert store.rows[letter_id(first)].failed_at == NOW + timedelta(minutes=5)
    assert [e["stored"] for e in logs if e.get("event") == "record_handled"] == ["reopened"]


async def test_replayed_letter_delivered_again_stays_replayed() -> None:
    """The same outbox row again (a catch-up after the broker forgot it) is not a new failure."""
    store = MemoryLetterStore()
    h = harness(store)
    value = to_line(contact())
    headers = failed(value)
    await h.feed([on_topic(value, headers)])
    store.replay(letter_id(headers), h)
    await h.feed([on_topic(value, headers, offset=-1)])
    assert store.replayed[letter_id(headers)] == NOW


async def test_canonical_log_line_names_the_letter_and_never_its_content() -> None:
    store = MemoryLetterStore()
    event = contact()
    value = to_line(event)
    headers = failed(value)
    with capture_logs() as logs:
        await harness(store).feed([on_topic(value, headers, offset=5)])
    assert [e for e in logs if e.get("event") == "record_handled"] == [
        {
            "event": "record_handled",
            "log_level": "info",
            "consumer": "deadletter",
            "topic": "frontdoor.deadletter",
            "partition": 1,
            "offset": 5,
            "outcome": "handled",
            "event_id": str(letter_id(headers)),
            "stored": "new",
            "reason": "validation",
            "original_topic": "partner.events",
            "original_partition": 3,
            "original_offset": 7,
            "consumer_group": "frontdoor-intake",
        }
    ]
    text = orjson.dumps(logs).decode()
    for personal in ("Alex", "Example", "2017-05-01", "hungry"):
        assert personal not in text
