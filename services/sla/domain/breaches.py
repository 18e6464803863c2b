"""What the breach scanner decides for an owed clock at a moment: breach it, warn about it, or not.

`settle_at(now)` is the pure decision the scanner applies to the clocks its store offers (open
clocks past their deadline or owed a warning): a breach only strictly after ``due_at``, a
warning only while the deadline is still ahead, and for each transition the announcement that
goes into the outbox with it (`announcements.scanner_entry`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.sla.domain import announcements
from services.sla.domain.announcements import OutboxEntry
from services.sla.domain.timers import Timer, breach, due_for_breach, due_for_warning, warn


@dataclass(frozen=True)
class DueTimer:
    """An open clock the scanner may have to act on, with the child's current team."""

    timer: Timer
    team: str | None


@dataclass(frozen=True)
class Settlement:
    """A clock's new state and the announcement that goes to the outbox with it."""

    timer: Timer
    entry: OutboxEntry


Settle = Callable[[Sequence[DueTimer]], list[Settlement]]


def settle_at(now: datetime) -> Settle:
    """The pure decision for owed clocks at `now`: breach if overdue, else warn if owed."""

    def settle(due: Sequence[DueTimer]) -> list[Settlement]:
        settled: list[Settlement] = []
        for item in due:
            timer = item.timer
            if due_for_breach(timer, now):
                after = breach(timer, now)
            elif due_for_warning(timer, now):
                after = warn(timer, now)
            else:  # a row the query offered but the domain does not owe (e.g. exactly at due)
                continue
            settled.append(Settlement(after, announcements.scanner_entry(after, team=item.team)))
        return settled

    return settle
