"""Which dead letters a ``frontdoor dlq replay`` may re-send, and the record it re-sends.

A replay re-sends the original key, value and headers (every header but the ``dlq.*`` ones, in
their order, byte for byte) to the letter's original topic, so the record is read again exactly
as it was first sent. It never re-sends a letter whose original topic is ``frontdoor.deadletter``
itself (a record written there by hand, or one the dead-letter service could not keep): that would
put it straight back on the dead-letter topic, in a loop. A filter that names nothing — a reason
that does not exist, an id the table does not hold, a letter already replayed — is refused as a
whole, with one line saying why, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from schemas.topics import DEADLETTER
from services.common.publishing import OutRecord
from services.deadletter.domain.letters import REASONS, Header, original_headers

MAX_LISTED = 10
"""At most this many ids are named in one refusal."""


class ReplayRefusedError(ValueError):
    """The replay asked for is a usage error; the message is one line."""


@dataclass(frozen=True)
class StoredLetter:
    """A kept letter as the replay needs it."""

    id: int
    letter_id: UUID | None
    """``None`` for letters kept before letters had ids."""
    reason: str
    original_topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    """The dead letter's headers (``dlq.*`` included, or not, for older letters)."""
    replayed_at: datetime | None


def check_reason(reason: str | None) -> None:
    if reason is not None and reason not in REASONS:
        known = ", ".join(sorted(REASONS))
        raise ReplayRefusedError(f"no dead-letter reason {reason!r}; the reasons are {known}")


def _named(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:MAX_LISTED])
    more = len(ids) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def choose(
    ids: Sequence[int] | None, reason: str | None, found: Sequence[StoredLetter]
) -> list[StoredLetter]:
    """The letters to re-send, in ``found`` 's order; refuses the whole replay on any problem.

    ``found``: the letters with ``ids`` when ids are given (whatever their state), else the
    letters waiting (not replayed) with ``reason``.
    """
    check_reason(reason)
    problems: list[str] = []
    chosen = list(found)
    if ids:
        by_id = {letter.id: letter for letter in found}
        wanted = list(dict.fromkeys(ids))
        if missing := [i for i in wanted if i not in by_id]:
            problems.append(f"no dead letter with id {_named(missing)}")
        if done := [i for i in wanted if i in by_id and by_id[i].replayed_at is not None]:
            problems.append(f"dead letter {_named(done)} was already replayed")
        if reason is not None and (
            other := [i for i in wanted if i in by_id and by_id[i].reason != reason]
        ):
            problems.append(f"dead letter {_named(other)} does not have reason {reason}")
        chosen = [by_id[i] for i in wanted if i in by_id]
    if loops := [letter.id for letter in chosen if letter.original_topic == DEADLETTER.name]:
        problems.append(
            f"dead letter {_named(loops)} came from {DEADLETTER.name} itself and would loop "
            "back onto it; leave it out (choose others with --id or --reason)"
        )
    if problems:
        raise ReplayRefusedError("; ".join(problems) + " (see `frontdoor dlq list --all`)")
    return chosen


def resend_record(letter: StoredLetter) -> OutRecord:
    """The original record again: its topic, key, value and non-``dlq.*`` headers, unchanged."""
    return OutRecord(
        letter.original_topic, letter.key, letter.value, list(original_headers(letter.headers))
    )
