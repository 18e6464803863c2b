"""Which dead letters a ``frontdoor dlq replay`` may re-send, and the record it re-sends.

A replay re-sends the original key, value and headers (every header but the ``dlq.*`` ones, in
their order, byte for byte) to the letter's original topic, so the record is read again exactly
as it was first sent. It never re-sends a letter whose original topic is ``frontdoor.deadletter``
itself (a record written there by hand, or one the dead-letter service could not keep): that would
put it straight back on the dead-letter topic, in a loop. A filter that names nothing — a reason
that does not exist, an id the table does not hold, a letter already replayed — is refused as a
whole, with one line saying why, before anything is sent.

The filters are the same for ``frontdoor dlq replay`` and the ops console (``ReplayChoice``): ids,
the ``dlq.reason``, the event type (the record's ``event_type`` header, else its JSON's) and the
agency (its JSON's ``source.agency``). Letters whose value is not a JSON object are refused unless
the caller asks for ``raw`` (no fix makes them readable). A caller that showed a count and asked
for confirmation passes it as ``expected``: a different count now is refused
(``ReplayCountChangedError``) before anything is taken or sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from schemas.envelope import Agency
from schemas.registry import INBOUND_TYPES, OUTBOUND_TYPES
from schemas.topics import DEADLETTER
from services.common.publishing import OutRecord
from services.deadletter.domain.letters import REASONS, Header, original_headers

MAX_LISTED = 10
"""At most this many ids are named in one refusal."""


class ReplayRefusedError(ValueError):
    """The replay asked for is a usage error; the message is one line."""


class ReplayCountChangedError(ReplayRefusedError):
    """The letters the filter chooses are not as many as the caller confirmed."""

    def __init__(self, expected: int, found: int) -> None:
        super().__init__(
            f"{found} dead letter{'s' if found != 1 else ''} match now, not the {expected} "
            "confirmed; look again and confirm the new count"
        )
        self.expected = expected
        self.found = found


@dataclass(frozen=True)
class ReplayChoice:
    """Which letters a replay re-sends: every filter given must hold (ids: any of them)."""

    ids: tuple[int, ...] | None = None
    reason: str | None = None
    event_type: str | None = None
    agency: str | None = None
    raw: bool = False
    """Re-send letters whose value is not a JSON object too."""

    def described(self) -> dict[str, Any]:
        """The filters given, for the audit row."""
        return {
            k: v
            for k, v in (
                ("ids", list(self.ids) if self.ids else None),
                ("reason", self.reason),
                ("event_type", self.event_type),
                ("agency", self.agency),
                ("raw", self.raw or None),
            )
            if v is not None
        }


@dataclass(frozen=True)
class ReplayAudit:
    """Who asked for a replay and with which filters (the letters taken are added by the book)."""

    actor: str
    choice: dict[str, Any]


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


AGENCIES = frozenset(a.value for a in Agency)
EVENT_TYPES = INBOUND_TYPES | OUTBOUND_TYPES
"""The event types a filter may name (a letter of another type is chosen by its id)."""


def check_choice(choice: ReplayChoice, event_types: frozenset[str] = EVENT_TYPES) -> None:
    """Refuse a filter value nothing could ever match, naming the known values."""
    check_reason(choice.reason)
    if choice.agency is not None and choice.agency not in AGENCIES:
        known = ", ".join(sorted(AGENCIES))
        raise ReplayRefusedError(f"no agency {choice.agency!r}; the agencies are {known}")
    if choice.event_type is not None and choice.event_type not in event_types:
        known = ", ".join(sorted(event_types))
        raise ReplayRefusedError(
            f"no event type {choice.event_type!r}; the event types are {known}"
        )


def _json(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def is_json_object(value: bytes | None) -> bool:
    return isinstance(_json(value), dict)


def event_type_of(letter: StoredLetter) -> str | None:
    """The record's ``event_type`` header (the last one), else its JSON's ``event_type``."""
    found = [v for k, v in letter.headers if k == "event_type"]
    if found:
        return found[-1].decode("utf-8", "replace")
    body = _json(letter.value)
    kind = body.get("event_type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


def agency_of(letter: StoredLetter) -> str | None:
    """The agency the record claims (``source.agency`` of its JSON)."""
    body = _json(letter.value)
    source = body.get("source") if isinstance(body, dict) else None
    agency = source.get("agency") if isinstance(source, dict) else None
    return agency if isinstance(agency, str) else None


def _matches(choice: ReplayChoice, letter: StoredLetter) -> bool:
    return (
        (choice.reason is None or letter.reason == choice.reason)
        and (choice.event_type is None or event_type_of(letter) == choice.event_type)
        and (choice.agency is None or agency_of(letter) == choice.agency)
    )


def _named(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:MAX_LISTED])
    more = len(ids) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def choose(
    ids: Sequence[int] | None,
    reason: str | None,
    found: Sequence[StoredLetter],
    *,
    choice: ReplayChoice | None = None,
) -> list[StoredLetter]:
    """The letters to re-send, in ``found`` 's order; refuses the whole replay on any problem.

    ``found``: the letters with ``ids`` when ids are given (whatever their state), else the
    letters waiting (not replayed) with ``reason``. ``choice`` adds the event-type and agency
    filters and the JSON check (its ``ids`` and ``reason`` are the ones given here).
    """
    check_reason(reason)
    choice = choice or ReplayChoice(ids=tuple(ids) if ids else None, reason=reason, raw=True)
    problems: list[str] = []
    chosen = [letter for letter in found if ids or _matches(choice, letter)]
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
        kind = replace(choice, reason=None)  # the reason was judged just above
        if unmatched := [i for i in wanted if i in by_id and not _matches(kind, by_id[i])]:
            problems.append(
                f"dead letter {_named(unmatched)} does not have the event type or agency asked for"
            )
        chosen = [by_id[i] for i in wanted if i in by_id]
    if loops := [letter.id for letter in chosen if letter.original_topic == DEADLETTER.name]:
        problems.append(
            f"dead letter {_named(loops)} came from {DEADLETTER.name} itself and would loop "
            "back onto it; leave it out (choose others with --id or --reason)"
        )
    if not choice.raw and (garbage := [le.id for le in chosen if not is_json_object(le.value)]):
        problems.append(
            f"{len(garbage)} of the {len(chosen)} letters chosen are not JSON objects "
            f"(letter {_named(garbage)}): re-sending them would only dead-letter them again; "
            "choose others, or re-send them anyway with --raw"
        )
    if problems:
        raise ReplayRefusedError("; ".join(problems) + " (see `frontdoor dlq list --all`)")
    return chosen


def resend_record(letter: StoredLetter) -> OutRecord:
    """The original record again: its topic, key, value and non-``dlq.*`` headers, unchanged."""
    return OutRecord(
        letter.original_topic, letter.key, letter.value, list(original_headers(letter.headers))
    )
