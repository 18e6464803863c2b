"""Consumer-lag status the way Burrow evaluates it: a sliding window of commits, no thresholds.

Per partition a `CommitWindow` keeps the last N (default 10) commits seen, each with its offset,
the moment it was seen and the lag at that moment (log end − committed offset). `partition_status`
applies Burrow's rules in order, first match wins (REFERENCE.md):

1. the current lag is 0, or any lag in the window is 0 → OK
2. some committed offset is lower than the one before it → REWIND
3. the time since the last commit exceeds the time the window spans (last − first) → STOP
4. every commit in the window has the same offset (and, by rule 1, lag > 0) → STALL
5. the offsets advance but the lag never decreases anywhere in the window → WARN
6. otherwise → OK

`group_status` is the worst partition status, with STOP, STALL and REWIND reported as ERR, as
Burrow does. A window holding fewer than N commits is still evaluated; `complete` says how full it
is (Burrow's completeness), so a display can show that a verdict rests on little history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

DEFAULT_WINDOW = 10


class PartitionStatus(StrEnum):
    OK = "OK"
    WARN = "WARN"
    STOP = "STOP"
    STALL = "STALL"
    REWIND = "REWIND"


class GroupStatus(StrEnum):
    OK = "OK"
    WARN = "WARN"
    ERR = "ERR"


SEVERITY: dict[PartitionStatus, int] = {
    PartitionStatus.OK: 0,
    PartitionStatus.WARN: 1,
    PartitionStatus.STOP: 2,
    PartitionStatus.STALL: 3,
    PartitionStatus.REWIND: 4,
}
"""Burrow's order of badness (its status constants): OK < WARN < STOP < STALL < REWIND."""

_AS_GROUP: dict[PartitionStatus, GroupStatus] = {
    PartitionStatus.OK: GroupStatus.OK,
    PartitionStatus.WARN: GroupStatus.WARN,
    PartitionStatus.STOP: GroupStatus.ERR,
    PartitionStatus.STALL: GroupStatus.ERR,
    PartitionStatus.REWIND: GroupStatus.ERR,
}


class Commit(BaseModel):
    """One committed offset as seen at ``at``, with the partition's lag at that moment."""

    model_config = ConfigDict(frozen=True)

    offset: int = Field(ge=0)
    at: AwareDatetime
    lag: int = Field(ge=0)


class CommitWindow(BaseModel):
    """The last ``size`` commits of one group on one partition, oldest first."""

    model_config = ConfigDict(frozen=True)

    size: int = Field(default=DEFAULT_WINDOW, ge=1)
    commits: tuple[Commit, ...] = ()

    def add(self, commit: Commit) -> CommitWindow:
        """The window with ``commit`` appended, the oldest commit dropped once it is full."""
        return CommitWindow(size=self.size, commits=(*self.commits, commit)[-self.size :])

    @property
    def last(self) -> Commit | None:
        return self.commits[-1] if self.commits else None

    @property
    def complete(self) -> float:
        """How full the window is, 0.0–1.0."""
        return len(self.commits) / self.size


def _lag_ever_zero(commits: Sequence[Commit]) -> bool:
    return any(c.lag == 0 for c in commits)


def _rewound(commits: Sequence[Commit]) -> bool:
    return any(b.offset < a.offset for a, b in pairwise(commits))


def _stopped(commits: Sequence[Commit], now: datetime) -> bool:
    first, last = commits[0], commits[-1]
    return (now - last.at) > (last.at - first.at)


def _stalled(commits: Sequence[Commit]) -> bool:
    return all(c.offset == commits[0].offset for c in commits)


def _lag_never_decreases(commits: Sequence[Commit]) -> bool:
    return all(b.lag >= a.lag for a, b in pairwise(commits))


def partition_status(window: CommitWindow, *, current_lag: int, now: datetime) -> PartitionStatus:
    """Burrow's verdict on one partition; ``ValueError`` for a window without commits."""
    commits = window.commits
    if not commits:
        raise ValueError("a partition without commits has no status")
    if current_lag == 0 or _lag_ever_zero(commits):
        return PartitionStatus.OK
    if _rewound(commits):
        return PartitionStatus.REWIND
    if _stopped(commits, now):
        return PartitionStatus.STOP
    if _stalled(commits):
        return PartitionStatus.STALL
    if _lag_never_decreases(commits):
        return PartitionStatus.WARN
    return PartitionStatus.OK


def worst(statuses: Iterable[PartitionStatus]) -> PartitionStatus:
    """The worst of the statuses by Burrow's order; OK when there are none."""
    return max(statuses, key=SEVERITY.__getitem__, default=PartitionStatus.OK)


def group_status(statuses: Iterable[PartitionStatus]) -> GroupStatus:
    """The group's status: its worst partition's, with STOP, STALL and REWIND as ERR."""
    return _AS_GROUP[worst(statuses)]
