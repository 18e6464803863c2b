"""How the two scales triage works on are ordered: DASH risk levels and MASH priorities.

Both enums belong to the contract (``schemas.codes``); this module adds the ordering the rules
need. DASH grades risk standard < medium < high, and judgement may move it up, never down
(DOMAIN.md §3). The priority order is blue < green < amber < red: red, amber and green set how
fast screening must happen, and blue ("not shared") marks a notification recorded on the child's
history without being passed on for partner screening. Raising never produces blue; blue only
replaces a green result (see ``triage``).
"""

from __future__ import annotations

from schemas.codes import TriagePriority

PRIORITY_ORDER: tuple[TriagePriority, ...] = (
    TriagePriority.BLUE,
    TriagePriority.GREEN,
    TriagePriority.AMBER,
    TriagePriority.RED,
)


def priority_rank(priority: TriagePriority) -> int:
    """The position of ``priority`` on the scale, blue lowest."""
    return PRIORITY_ORDER.index(priority)


def raised(priority: TriagePriority, levels: int) -> TriagePriority:
    """``priority`` moved up ``levels`` steps, never past red."""
    return PRIORITY_ORDER[min(priority_rank(priority) + levels, len(PRIORITY_ORDER) - 1)]


def highest_priority(first: TriagePriority, *others: TriagePriority) -> TriagePriority:
    """The highest of the given priorities."""
    return max((first, *others), key=priority_rank)
