"""Caseloads two ways, and the alerts an allocation raises — pure, from the allocations given.

The DfE way (CSWW): children allocated to case-holding social workers ÷ those workers' FTE, on a
snapshot date (30 September); above ``dfe_implausible_per_fte`` the figure is flagged as the DfE
flags it. The council's way: each child weighs ``points[case_type]``; a worker's cap is
``cap_points × FTE``, and an NQSW's ``× nqsw_factor``. Alerts (for the team manager): an
allocation that takes a worker's load over their cap (raised when the load *crosses* the cap, so
one breach is one alert, however many redeliveries or later allocations follow while over), and
child protection work given to an NQSW without a co-worker. Invariant: a figure depends only on
the allocations open at the moment asked about and the profile in force then; an allocation's
alerts only on the worker's allocations open just before it in event time (``held_before``), never
on the order the children's partitions were read in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from schemas.events.workforce import AlertRule, CaseType
from services.workforce.domain.profiles import Profile


@dataclass(frozen=True)
class Term:
    """What one worker.joined / worker.changed set from its day on (None: left as it was)."""

    effective_from: date
    occurred_at: datetime
    event_id: UUID
    fte: Decimal | None
    case_holder: bool | None


def terms_on(
    terms: Iterable[Term], day: date, *, current: tuple[Decimal, bool]
) -> tuple[Decimal, bool]:
    """The (FTE, case holder) in force on ``day``: the terms from that day or before, applied in
    the order they took effect (then were recorded). With none in force yet — an allocation
    dated before the employment start the directory knows — the worker's ``current`` ones."""
    fte: Decimal | None = None
    holder: bool | None = None
    for t in sorted(terms, key=lambda t: (t.effective_from, t.occurred_at, str(t.event_id))):
        if t.effective_from > day:
            break
        fte = t.fte if t.fte is not None else fte
        holder = t.case_holder if t.case_holder is not None else holder
    return (
        current[0] if fte is None else fte,
        current[1] if holder is None else holder,
    )


@dataclass(frozen=True)
class Holder:
    worker_id: str
    fte: Decimal
    case_holder: bool
    nqsw: bool


@dataclass(frozen=True)
class Allocation:
    child_id: str
    worker_id: str
    case_type: CaseType
    co_worked: bool = False


@dataclass(frozen=True)
class Allocated:
    """One allocation in a worker's history: from ``allocated_at`` until ``ended_at``."""

    event_id: UUID
    allocation: Allocation
    allocated_at: datetime
    ended_at: datetime | None
    team_id: str


def held_before(history: Iterable[Allocated], new: Allocated) -> list[Allocation]:
    """The worker's allocations of other children open just before ``new`` in event time (an
    allocation at the same moment counts before it if its event id is smaller)."""
    at = (new.allocated_at, str(new.event_id))
    return [
        h.allocation
        for h in history
        if h.allocation.child_id != new.allocation.child_id
        and (h.allocated_at, str(h.event_id)) < at
        and (h.ended_at is None or h.ended_at > new.allocated_at)
    ]


@dataclass(frozen=True)
class DfeCaseload:
    children: int
    fte: Decimal
    per_fte: Decimal | None
    implausible: bool


def dfe_caseload(
    profile: Profile, holders: Iterable[Holder], allocations: Iterable[Allocation]
) -> DfeCaseload:
    """Distinct children held by case-holding workers ÷ their total FTE (2 decimal places)."""
    holding = {h.worker_id: h for h in holders if h.case_holder and h.fte > 0}
    children = {a.child_id for a in allocations if a.worker_id in holding}
    fte = sum((h.fte for h in holding.values()), Decimal(0))
    if fte == 0:
        return DfeCaseload(len(children), fte, None, False)
    per = (Decimal(len(children)) / fte).quantize(Decimal("0.01"))
    return DfeCaseload(len(children), fte, per, per > profile.dfe_implausible_per_fte)


def weighted_load(profile: Profile, allocations: Iterable[Allocation]) -> Decimal:
    return sum((profile.points[a.case_type] for a in allocations), Decimal(0))


def cap(profile: Profile, holder: Holder) -> Decimal:
    factor = profile.nqsw_factor if holder.nqsw else Decimal(1)
    return (profile.cap_points * holder.fte * factor).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class AllocationCheck:
    points_before: Decimal
    points_after: Decimal
    cap: Decimal
    rules: tuple[AlertRule, ...]


def check_allocation(
    profile: Profile,
    holder: Holder,
    held_before: Sequence[Allocation],
    new: Allocation,
) -> AllocationCheck:
    """The alerts ``new`` raises against the worker's allocations just before it."""
    before = weighted_load(profile, held_before)
    after = before + profile.points[new.case_type]
    limit = cap(profile, holder)
    rules: list[AlertRule] = []
    if after > limit >= before:
        rules.append(AlertRule.CASELOAD_CAP)
    if (
        profile.nqsw_cp_co_worked
        and holder.nqsw
        and new.case_type is CaseType.CP
        and not new.co_worked
    ):
        rules.append(AlertRule.NQSW_CP_NOT_CO_WORKED)
    return AllocationCheck(before, after, limit, tuple(rules))
