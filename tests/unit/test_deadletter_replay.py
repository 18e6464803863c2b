"""``frontdoor dlq replay`` 's use case with in-memory ports: what it re-sends (byte for byte,
``dlq.*`` headers left out), what it refuses (loops, unknown filters) and what a failed send
leaves behind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from services.common.publishing import OutRecord
from services.deadletter.domain.replay import (
    ReplayAudit,
    ReplayChoice,
    ReplayCountChangedError,
    ReplayRefusedError,
    StoredLetter,
)
from services.deadletter.handlers import preview_letters, replay_letters

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


class MemoryBook:
    def __init__(self, letters: Sequence[StoredLetter]) -> None:
        self.letters = {le.id: le for le in letters}
        self.released: list[UUID] = []
        self.selects = 0
        self.audits: list[tuple[ReplayAudit, list[int]]] = []

    async def select(self, ids: Sequence[int] | None, reason: str | None) -> list[StoredLetter]:
        self.selects += 1
        if ids:
            return [le for i, le in sorted(self.letters.items()) if i in ids]
        return [
            le
            for _, le in sorted(self.letters.items())
            if le.replayed_at is None and reason in (None, le.reason)
        ]

    async def take(self, ids: Sequence[int], *, audit: ReplayAudit | None = None) -> list[int]:
        taken = [i for i in ids if self.letters[i].replayed_at is None]
        if audit is not None and taken:
            self.audits.append((audit, taken))
        for i in taken:
            letter = self.letters[i]
            self.letters[i] = StoredLetter(**{**letter.__dict__, "replayed_at": NOW})
            if letter.letter_id is not None:
                self.released.append(letter.letter_id)
        return taken

    async def give_back(self, ids: Sequence[int]) -> None:
        for i in ids:
            self.letters[i] = StoredLetter(**{**self.letters[i].__dict__, "replayed_at": None})


class MemoryPublisher:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.sent: list[OutRecord] = []
        self.fail = fail

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.extend(records)


HEADERS = (
    ("trace", b"a\x00b"),
    ("raw", b"\xff\xfe"),
    ("dup", b"1"),
    ("dup", b"2"),
    ("dlq.reason", b"processing"),
    ("dlq.id", str(uuid4()).encode()),
    ("empty", b""),
)


def letter(
    id_: int,
    *,
    topic: str = "partner.events",
    reason: str = "processing",
    replayed: bool = False,
    key: bytes | None = b"child-1",
) -> StoredLetter:
    return StoredLetter(
        id=id_,
        letter_id=uuid4(),
        reason=reason,
        original_topic=topic,
        key=key,
        value=b'{"event_id": "\xff raw bytes"}',
        headers=HEADERS,
        replayed_at=NOW if replayed else None,
    )


async def test_replay_resends_key_value_and_original_headers_byte_for_byte() -> None:
    book, sender = MemoryBook([letter(1), letter(2, key=None)]), MemoryPublisher()
    count = await replay_letters(book, sender, ids=None, reason=None)
    assert count == 2
    assert [(r.topic, r.key, r.value) for r in sender.sent] == [
        ("partner.events", b"child-1", b'{"event_id": "\xff raw bytes"}'),
        ("partner.events", None, b'{"event_id": "\xff raw bytes"}'),
    ]
    assert sender.sent[0].headers == [
        ("trace", b"a\x00b"),
        ("raw", b"\xff\xfe"),
        ("dup", b"1"),
        ("dup", b"2"),
        ("empty", b""),
    ]
    assert all(le.replayed_at == NOW for le in book.letters.values())
    # un-claimed, so that a record failing again is kept again
    assert book.released == [book.letters[1].letter_id, book.letters[2].letter_id]


async def test_replay_refuses_letters_from_the_deadletter_topic_and_sends_nothing() -> None:
    book = MemoryBook([letter(1), letter(2, topic="frontdoor.deadletter", reason="unknown")])
    sender = MemoryPublisher()
    with pytest.raises(ReplayRefusedError, match=r"dead letter 2 came from frontdoor\.deadletter"):
        await replay_letters(book, sender, ids=None, reason=None)
    with pytest.raises(ReplayRefusedError, match="loop"):
        await replay_letters(book, sender, ids=[2], reason=None)
    assert sender.sent == []
    assert all(le.replayed_at is None for le in book.letters.values())


async def test_unknown_reason_is_refused_before_the_table_is_read() -> None:
    book = MemoryBook([letter(1)])
    with pytest.raises(ReplayRefusedError, match="no dead-letter reason 'bogus'") as refused:
        await replay_letters(book, MemoryPublisher(), ids=None, reason="bogus")
    assert "deserialization, processing, unknown, validation" in str(refused.value)
    assert book.selects == 0


async def test_unknown_id_is_refused() -> None:
    book, sender = MemoryBook([letter(1)]), MemoryPublisher()
    with pytest.raises(ReplayRefusedError, match="no dead letter with id 99999"):
        await replay_letters(book, sender, ids=[1, 99999], reason=None)
    assert sender.sent == []
    assert book.letters[1].replayed_at is None


async def test_letter_already_replayed_is_refused_by_id() -> None:
    book = MemoryBook([letter(1, replayed=True)])
    with pytest.raises(ReplayRefusedError, match="dead letter 1 was already replayed"):
        await replay_letters(book, MemoryPublisher(), ids=[1], reason=None)


async def test_id_with_another_reason_is_refused() -> None:
    book = MemoryBook([letter(1, reason="validation")])
    with pytest.raises(ReplayRefusedError, match="1 does not have reason processing"):
        await replay_letters(book, MemoryPublisher(), ids=[1], reason="processing")


async def test_reason_selects_only_waiting_letters_with_that_reason() -> None:
    book = MemoryBook([letter(1), letter(2, reason="validation"), letter(3, replayed=True)])
    sender = MemoryPublisher()
    assert await replay_letters(book, sender, ids=None, reason="processing") == 1
    assert book.letters[2].replayed_at is None


async def test_refusal_is_one_line_naming_at_most_ten_ids() -> None:
    book = MemoryBook([])
    with pytest.raises(ReplayRefusedError) as refused:
        await replay_letters(book, MemoryPublisher(), ids=list(range(1, 30)), reason=None)
    message = str(refused.value)
    assert "\n" not in message
    assert "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 19 more" in message


async def test_failed_send_gives_the_letters_back() -> None:
    book = MemoryBook([letter(1), letter(2)])
    with pytest.raises(ConnectionError):
        await replay_letters(book, MemoryPublisher(fail=ConnectionError()), ids=None, reason=None)
    assert all(le.replayed_at is None for le in book.letters.values())


async def test_letter_taken_by_a_concurrent_replay_is_not_sent_twice() -> None:
    book, sender = MemoryBook([letter(1), letter(2)]), MemoryPublisher()
    selected = await book.select(None, None)
    await book.take([2])  # another `dlq replay` got there first (its audit is not ours)

    async def stale_select(ids: Sequence[int] | None, reason: str | None) -> list[StoredLetter]:
        return selected

    book.select = stale_select  # type: ignore[method-assign]
    assert await replay_letters(book, sender, ids=None, reason=None) == 1
    assert len(sender.sent) == 1


def event(id_: int, event_type: str, agency: str, *, header: bool = True) -> StoredLetter:
    value = (
        f'{{"event_type": "{event_type}", "source": {{"agency": "{agency}"}}, '
        '"payload": {"child": {"given_name": "Ada"}}}'
    ).encode()
    headers = (("event_type", event_type.encode()),) if header else ()
    return StoredLetter(
        id=id_,
        letter_id=uuid4(),
        reason="validation",
        original_topic="partner.events",
        key=b"child-1",
        value=value,
        headers=(*headers, ("dlq.reason", b"validation")),
        replayed_at=None,
    )


async def test_event_type_and_agency_filters_choose_only_matching_letters() -> None:
    book = MemoryBook(
        [
            event(1, "contact.received", "police"),
            event(2, "contact.received", "health", header=False),  # type from the JSON
            event(3, "police.da_notification", "police"),
        ]
    )
    by_type = await preview_letters(book, ReplayChoice(event_type="contact.received"))
    assert [le.id for le in by_type] == [1, 2]
    by_agency = await preview_letters(book, ReplayChoice(agency="police"))
    assert [le.id for le in by_agency] == [1, 3]
    both = await preview_letters(book, ReplayChoice(event_type="contact.received", agency="police"))
    assert [le.id for le in both] == [1]
    assert all(le.replayed_at is None for le in book.letters.values())  # a preview takes nothing


async def test_unknown_event_type_or_agency_is_refused_with_the_known_values() -> None:
    book = MemoryBook([event(1, "contact.received", "police")])
    with pytest.raises(ReplayRefusedError, match=r"the agencies are .*police"):
        await preview_letters(book, ReplayChoice(agency="polise"))
    with pytest.raises(ReplayRefusedError, match=r"the event types are .*contact\.received"):
        await replay_letters(book, MemoryPublisher(), ids=None, reason=None, event_type="bogus")
    assert book.selects == 0


async def test_an_id_outside_the_filter_is_refused() -> None:
    book = MemoryBook([event(1, "contact.received", "police")])
    with pytest.raises(ReplayRefusedError, match="dead letter 1 does not have the event type"):
        await replay_letters(book, MemoryPublisher(), ids=[1], reason=None, agency="health")


async def test_a_confirmed_count_that_no_longer_holds_is_refused_before_anything_is_taken() -> None:
    book, sender = MemoryBook([letter(1), letter(2)]), MemoryPublisher()
    with pytest.raises(ReplayCountChangedError) as refused:
        await replay_letters(book, sender, ids=None, reason=None, expected=1)
    assert (refused.value.expected, refused.value.found) == (1, 2)
    assert sender.sent == []
    assert book.audits == []
    assert all(le.replayed_at is None for le in book.letters.values())
    assert await replay_letters(book, sender, ids=None, reason=None, expected=2) == 2


async def test_every_replay_is_audited_with_who_which_ids_and_the_filters() -> None:
    book, sender = MemoryBook([letter(1), letter(2, reason="validation")]), MemoryPublisher()
    count = await replay_letters(
        book, sender, ids=None, reason="validation", actor="ops:abc", expected=1
    )
    assert count == 1
    [(audit, taken)] = book.audits
    assert audit == ReplayAudit(actor="ops:abc", choice={"reason": "validation", "raw": True})
    assert taken == [2]


async def test_json_only_refuses_letters_that_are_not_json_objects() -> None:
    book = MemoryBook([letter(1), event(2, "contact.received", "police")])
    with pytest.raises(ReplayRefusedError, match=r"1 of the 2 letters chosen are not JSON"):
        await replay_letters(book, MemoryPublisher(), ids=None, reason=None, json_only=True)
    sender = MemoryPublisher()
    assert await replay_letters(book, sender, ids=[2], reason=None, json_only=True) == 1
