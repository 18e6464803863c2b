"""What the dead-letter use cases need from the outside world.

``LetterStore`` is the ``deadletters`` table inside the pipeline's transaction (keeping letters);
``ReplayBook`` is the same table as a replay sees it (choosing letters, marking them replayed and
un-claiming them so that one failing again is kept again, auditing each replay in
``deadletter_replays``). Records go back on their topics through the shared
``services.common.publishing.Publisher`` port.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.deadletter.domain.letters import KeptLetter, Letter
from services.deadletter.domain.replay import ReplayAudit, StoredLetter


class LetterStore(Protocol):
    async def kept(self, letter_ids: Sequence[UUID]) -> dict[UUID, KeptLetter]: ...

    async def add(self, letters: Sequence[Letter], *, received_at: datetime) -> None: ...

    async def reopen(self, letters: Sequence[Letter], *, received_at: datetime) -> None:
        """Letters replayed before that failed again: their new failure, waiting again."""
        ...


class ReplayBook(Protocol):
    async def select(self, ids: Sequence[int] | None, reason: str | None) -> list[StoredLetter]:
        """The letters with ``ids`` (any state), else those waiting with ``reason`` (or all)."""
        ...

    async def take(self, ids: Sequence[int], *, audit: ReplayAudit) -> list[int]:
        """Mark those still waiting replayed, un-claim them and audit the replay (who, when,
        the ids taken, the filters); the ids taken."""
        ...

    async def give_back(self, ids: Sequence[int]) -> None:
        """Undo ``take`` for letters that could not be re-sent."""
        ...
