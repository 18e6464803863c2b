"""The dead-letter service's use cases: keep every dead letter; replay chosen ones after a fix.

**Keeping** (the ``frontdoor.deadletter`` subscription, raw: records are not events). The
pipeline has identified each letter by its content (``dlq.id``) and claimed it, so a letter
delivered twice reaches this handler once; the table is keyed by the same id, so one caught up
from PostgreSQL after its claim expired changes nothing either, while two letters that happen to
share an offset (a broker restart reuses them) are both kept. A letter replayed before that
failed again is waiting again (``domain.letters.decide``). Any bytes are kept (``read_letter``).

**Replaying** (``frontdoor dlq replay`` and the ops console, the one implementation): choose the
letters (``domain.replay.choose`` refuses a filter that names nothing and any letter that would
loop; a count the caller confirmed that no longer holds is refused before anything is taken),
mark them replayed, un-claim them and write the audit row (who, when, which ids, which filters)
in one transaction *before* sending — so a record that fails again is kept again however quickly
it comes back — then re-send each original record. If sending fails the letters are given back
(waiting again); what was already acknowledged may then be re-sent by the next replay, which its
consumers drop as a repeat. ``preview_letters`` is the same choice without taking anything: what
a confirmation shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from services.common.pipeline import Delivery, Unit
from services.common.publishing import Publisher
from services.deadletter.domain.letters import Stored, decide, read_letter
from services.deadletter.domain.replay import (
    ReplayAudit,
    ReplayChoice,
    ReplayCountChangedError,
    StoredLetter,
    check_choice,
    choose,
    resend_record,
)
from services.deadletter.ports import LetterStore, ReplayBook


class DeadLetterHandler:
    def __init__(self, store_for: Callable[[Any], LetterStore]) -> None:
        self._store_for = store_for

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        store = self._store_for(unit.connection)
        letters = [read_letter(d.origin, d.id, received_at=unit.now) for d in deliveries]
        kept = await store.kept([letter.letter_id for letter in letters])
        outcomes = [decide(letter, kept.get(letter.letter_id)) for letter in letters]
        await store.add(
            [le for le, o in zip(letters, outcomes, strict=True) if o is Stored.NEW],
            received_at=unit.now,
        )
        await store.reopen(
            [le for le, o in zip(letters, outcomes, strict=True) if o is Stored.REOPENED],
            received_at=unit.now,
        )
        for d, letter, outcome in zip(deliveries, letters, outcomes, strict=True):
            unit.note(
                d,
                stored=outcome.value,
                reason=letter.reason,
                original_topic=letter.original_topic,
                original_partition=letter.original_partition,
                original_offset=letter.original_offset,
                consumer_group=letter.consumer_group,
            )


async def preview_letters(book: ReplayBook, choice: ReplayChoice) -> list[StoredLetter]:
    """The letters a replay with ``choice`` would re-send now (refusals as for the replay)."""
    check_choice(choice)  # before touching anything
    found = await book.select(choice.ids, choice.reason)
    return choose(choice.ids, choice.reason, found, choice=choice)


async def replay_letters(
    book: ReplayBook,
    publisher: Publisher,
    *,
    ids: Sequence[int] | None,
    reason: str | None,
    event_type: str | None = None,
    agency: str | None = None,
    json_only: bool = False,
    expected: int | None = None,
    actor: str = "unknown",
) -> int:
    """Re-send the chosen letters to their original topics; how many were re-sent.

    ``json_only`` refuses letters whose value is not a JSON object; ``expected`` is the count the
    caller confirmed (refused with ``ReplayCountChangedError`` if the filter now chooses another
    number); ``actor`` is who asked, for the audit row.
    """
    choice = ReplayChoice(
        ids=tuple(ids) if ids else None,
        reason=reason,
        event_type=event_type,
        agency=agency,
        raw=not json_only,
    )
    chosen = await preview_letters(book, choice)
    if expected is not None and len(chosen) != expected:
        raise ReplayCountChangedError(expected, len(chosen))
    audit = ReplayAudit(actor=actor, choice=choice.described())
    taken = set(await book.take([letter.id for letter in chosen], audit=audit))
    records = [resend_record(letter) for letter in chosen if letter.id in taken]
    try:
        await publisher.publish(records)
    except BaseException:
        await book.give_back(sorted(taken))
        raise
    return len(records)
