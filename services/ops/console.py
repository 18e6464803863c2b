"""The dead-letter console's use cases: open a letter, preview a replay, replay after confirmation.

Over one port, ``DeadLetterConsole`` (``adapters/deadletters.py`` in production: the
``deadletters`` table, and the dead-letter service's own replay — the one implementation
``frontdoor dlq replay`` runs too). What a letter shows is the pure ``domain.deadletters``;
who may do any of it is the door's business (``guard.py``, ``domain/access.py``: ops only).
Every replay is audited by the dead-letter service as ``ops:<credential id>`` and logged here
with the ids it re-sent (ids and counts only, never a value).
"""

from __future__ import annotations

from typing import Protocol

import structlog

from services.ops.domain.deadletters import (
    LetterRecord,
    LetterView,
    ReplayFilter,
    ReplayPreview,
    ReplayRequest,
    letter_view,
    replay_preview,
)

log = structlog.get_logger(__name__)


class DeadLetterConsole(Protocol):
    async def letter(self, letter_id: int) -> LetterRecord | None: ...

    async def preview(self, choice: ReplayFilter) -> list[int]:
        """The ids a replay with ``choice`` would re-send now; refusals raise
        ``domain.deadletters.ReplayRefusedError``."""
        ...

    async def replay(self, request: ReplayRequest, *, actor: str) -> int:
        """Re-send what ``request`` chooses if it still chooses ``request.confirm`` letters
        (else ``ReplayCountChangedError``); how many were re-sent."""
        ...


async def open_letter(console: DeadLetterConsole, letter_id: int) -> LetterView | None:
    record = await console.letter(letter_id)
    return None if record is None else letter_view(record)


async def preview_replay(console: DeadLetterConsole, choice: ReplayFilter) -> ReplayPreview:
    return replay_preview(choice, await console.preview(choice))


async def replay(console: DeadLetterConsole, request: ReplayRequest, *, actor: str) -> int:
    count = await console.replay(request, actor=actor)
    log.info(
        "deadletters_replayed",
        actor=actor,
        count=count,
        ids=list(request.ids) if request.ids else None,
        filter_reason=request.reason,
        filter_event_type=request.event_type,
        filter_agency=request.agency,
    )
    return count
