"""Case-file audit samples: which children's files to audit, drawn reproducibly from the history.

DOMAIN.md §7 (case audits, [NG]/[LP]): Laming (2003) asks senior managers to read a random
selection of case files at least every three months; local practice, e.g., has each team manager
audit two random files a month of ANOTHER team, never a file audited in the last twelve months.
Inspectors (2012) tracked 73 children. ``audit_pool`` folds the history as of a date into the
files that can be audited — every child allocated to a worker then (team, worker, case type as
the stage), less any file with an audit completed in the twelve months before — and
``draw`` takes one of four samples from it:

- ``random``: ``size`` files at random;
- ``quota``: each team with a manager gets ``per_manager`` files of other teams, the manager
  named as auditor (a manager never audits their own team's files, nor one file twice);
- ``thematic``: ``size`` files of one case type (``theme``: cp, cin, cla …);
- ``stratified``: ``size`` files spread over (team, stage) in proportion to their sizes (largest
  remainder), every stratum at least one when ``size`` allows.

Reproducible: the pool is sorted by child id and the generator is seeded with the seed and the
mode, so the same history, date, seed and options always give the same sample. Pure: no I/O.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from schemas.envelope import EventBase
from schemas.events.audits import AuditCompleted
from schemas.events.workforce import (
    ChildAllocated,
    ChildReallocated,
    ChildUnallocated,
    TeamRecorded,
)
from services.common.calendar import LONDON

EXCLUSION = timedelta(days=365)
"""A file audited in the twelve months before the sample's date is not drawn again."""

SAMPLE_EVENT_TYPES = (
    "team.recorded",
    "child.allocated",
    "child.reallocated",
    "child.unallocated",
    "audit.completed",
)


class Mode(StrEnum):
    RANDOM = "random"
    QUOTA = "quota"
    THEMATIC = "thematic"
    STRATIFIED = "stratified"


class SampleError(ValueError):
    """The options cannot make a sample (a thematic draw without a theme, a size below 1 …)."""


class CaseFile(BaseModel):
    """One child's file as it stood on the sample's date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    child_id: str
    team_id: str
    worker_id: str
    stage: str
    allocated_since: datetime
    last_audited: datetime | None = None


class Team(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    team_id: str
    name: str
    manager_id: str | None = None


class Pool(BaseModel):
    """What can be audited on ``as_of``, and what was left out because it was audited lately."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: datetime
    files: tuple[CaseFile, ...]
    excluded: tuple[CaseFile, ...]
    teams: tuple[Team, ...]


class Pick(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    file: CaseFile
    auditor_id: str | None = None
    stratum: str | None = None


def audit_pool(events: Iterable[EventBase], *, as_of: datetime) -> Pool:
    """Fold the history (any order: events are applied by event time, then id) as of ``as_of``."""
    ordered = sorted(
        (e for e in events if e.occurred_at < as_of), key=lambda e: (e.occurred_at, e.event_id)
    )
    open_: dict[str, CaseFile] = {}
    audited: dict[str, datetime] = {}
    teams: dict[str, Team] = {}
    for e in ordered:
        if isinstance(e, TeamRecorded):
            t = e.payload
            teams[t.team_id] = Team(team_id=t.team_id, name=t.name, manager_id=t.manager_id)
        elif isinstance(e, ChildAllocated | ChildReallocated):
            a = e.payload
            open_[e.subject.child_id] = CaseFile(
                child_id=e.subject.child_id,
                team_id=a.team_id,
                worker_id=a.worker_id,
                stage=a.case_type.value,
                allocated_since=a.allocated_at,
            )
        elif isinstance(e, ChildUnallocated):
            held = open_.get(e.subject.child_id)
            if held is not None and held.worker_id == e.payload.worker_id:
                del open_[e.subject.child_id]
        elif isinstance(e, AuditCompleted):
            done = e.payload.completed_at
            audited[e.subject.child_id] = max(done, audited.get(e.subject.child_id, done))
    files: list[CaseFile] = []
    excluded: list[CaseFile] = []
    for child_id in sorted(open_):
        f = open_[child_id].model_copy(update={"last_audited": audited.get(child_id)})
        recent = f.last_audited is not None and as_of - f.last_audited < EXCLUSION
        (excluded if recent else files).append(f)
    return Pool(
        as_of=as_of,
        files=tuple(files),
        excluded=tuple(excluded),
        teams=tuple(teams[t] for t in sorted(teams)),
    )


def draw(
    pool: Pool,
    *,
    mode: Mode,
    seed: int,
    size: int = 10,
    theme: str | None = None,
    per_manager: int = 2,
) -> tuple[Pick, ...]:
    """One sample from the pool; the same arguments always give the same picks."""
    if size < 1 or per_manager < 1:
        raise SampleError("--size and --per-manager must be at least 1")
    rng = random.Random(f"{seed}:{mode.value}")
    files = list(pool.files)
    if mode is Mode.RANDOM:
        return tuple(Pick(file=f) for f in _some(rng, files, size))
    if mode is Mode.THEMATIC:
        if theme is None:
            raise SampleError("a thematic sample needs --theme (a case type: cp, cin, cla …)")
        return tuple(Pick(file=f) for f in _some(rng, [f for f in files if f.stage == theme], size))
    if mode is Mode.QUOTA:
        return _quota(rng, files, pool.teams, per_manager)
    return _stratified(rng, files, size)


def _some(rng: random.Random, files: Sequence[CaseFile], size: int) -> list[CaseFile]:
    picked = rng.sample(list(files), min(size, len(files)))
    return sorted(picked, key=lambda f: f.child_id)


def _quota(
    rng: random.Random, files: list[CaseFile], teams: Sequence[Team], per_manager: int
) -> tuple[Pick, ...]:
    taken: set[str] = set()
    picks: list[Pick] = []
    for team in teams:  # sorted by team id: the order of turns is part of the reproducibility
        if team.manager_id is None:
            continue
        others = [f for f in files if f.team_id != team.team_id and f.child_id not in taken]
        for f in _some(rng, others, per_manager):
            taken.add(f.child_id)
            picks.append(Pick(file=f, auditor_id=team.manager_id, stratum=team.team_id))
    return tuple(picks)


def _stratified(rng: random.Random, files: list[CaseFile], size: int) -> tuple[Pick, ...]:
    strata: dict[str, list[CaseFile]] = defaultdict(list)
    for f in files:
        strata[f"{f.team_id}/{f.stage}"].append(f)
    if not strata:
        return ()
    total = len(files)
    size = min(size, total)
    names = sorted(strata)
    floor_one = size >= len(names)
    quota: Counter[str] = Counter()
    remainders: list[tuple[float, str]] = []
    for name in names:
        exact = size * len(strata[name]) / total
        quota[name] = max(int(exact), 1 if floor_one else 0)
        remainders.append((exact - int(exact), name))
    # largest remainder first (ties by name) until the quotas add up to the size
    for _, name in sorted(remainders, key=lambda r: (-r[0], r[1])):
        if sum(quota.values()) >= size:
            break
        if quota[name] < len(strata[name]):
            quota[name] += 1
    while sum(quota.values()) > size:  # the floor of one overshot: trim the largest quotas
        largest = max(names, key=lambda n: (quota[n], n))
        quota[largest] -= 1
    picks = [
        Pick(file=f, stratum=name)
        for name in names
        for f in _some(rng, strata[name], min(quota[name], len(strata[name])))
    ]
    return tuple(picks)


def as_of_start(day: date) -> datetime:
    """The start of ``day`` in England: a sample "as of" a date sees the history before it."""
    return datetime(day.year, day.month, day.day, tzinfo=LONDON)
