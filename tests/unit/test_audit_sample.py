"""Case-file audit samples (issue 13 §6, DOMAIN.md §7 case audits): reproducible for a seed,
never a file audited in the last twelve months, managers audit other teams' files, strata in
proportion."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from schemas.envelope import EventBase
from schemas.registry import parse_event
from services.returns.domain.audit_sample import (
    Mode,
    SampleError,
    as_of_start,
    audit_pool,
    draw,
)
from tests.factories import envelope

AS_OF = as_of_start(date(2025, 6, 2))
BEFORE = datetime(2025, 1, 6, 10, tzinfo=UTC)


def event(event_type: str, payload: dict[str, Any], *, child: str, at: datetime) -> EventBase:
    return parse_event(envelope(event_type, 1, payload, child=child, at=at))


def team(team_id: str, manager: str | None) -> EventBase:
    payload = {"team_id": team_id, "name": f"Team {team_id}", "manager_id": manager}
    return event("team.recorded", payload, child="workforce", at=BEFORE - timedelta(days=30))


def allocated(child: str, team_id: str, stage: str, worker: str = "W1") -> EventBase:
    payload = {"worker_id": worker, "team_id": team_id, "allocated_at": BEFORE.isoformat(),
               "case_type": stage}  # fmt: skip
    return event("child.allocated", payload, child=child, at=BEFORE)


def audited(child: str, days_before: int) -> EventBase:
    done = AS_OF - timedelta(days=days_before)
    payload = {"audit_id": str(uuid.uuid4()), "auditor_id": "M9", "completed_at": done.isoformat(),
               "tool": "practice-standards-v2", "grade": "good"}  # fmt: skip
    return event("audit.completed", payload, child=child, at=done)


def history() -> list[EventBase]:
    """Three teams (T3 without a manager), twelve allocated files, one audited lately, one a
    year and more ago, one unallocated again."""
    events = [team("T1", "M1"), team("T2", "M2"), team("T3", None)]
    layout = {"T1": ["cp", "cp", "cin", "cin", "cin", "cin"], "T2": ["cp", "cla", "cla", "cin"],
              "T3": ["cin", "cin"]}  # fmt: skip
    n = 0
    for team_id, stages in layout.items():
        for stage in stages:
            n += 1
            events.append(allocated(f"C{n:02d}", team_id, stage))
    events.append(audited("C01", 100))  # inside twelve months: excluded
    events.append(audited("C02", 400))  # older: drawn again
    unallocated = {"worker_id": "W1", "unallocated_at": (BEFORE + timedelta(days=3)).isoformat(),
                   "reason": "case_closed"}  # fmt: skip
    events.append(event("child.unallocated", unallocated, child="C12", at=BEFORE + timedelta(3)))
    return events


def test_the_pool_is_every_allocated_file_less_those_audited_in_the_last_twelve_months() -> None:
    pool = audit_pool(history(), as_of=AS_OF)
    assert [f.child_id for f in pool.excluded] == ["C01"]
    ids = [f.child_id for f in pool.files]
    assert ids == [f"C{n:02d}" for n in range(2, 12)]  # C01 excluded, C12 unallocated
    assert pool.files[0].last_audited == AS_OF - timedelta(days=400)


def test_the_history_folds_by_event_time_whatever_order_it_arrives_in() -> None:
    events = history()
    assert audit_pool(list(reversed(events)), as_of=AS_OF) == audit_pool(events, as_of=AS_OF)


def test_a_sample_is_reproducible_for_a_seed_and_differs_for_another() -> None:
    pool = audit_pool(history(), as_of=AS_OF)
    first = draw(pool, mode=Mode.RANDOM, seed=7, size=4)
    assert draw(audit_pool(history(), as_of=AS_OF), mode=Mode.RANDOM, seed=7, size=4) == first
    assert len(first) == 4
    assert [p.file.child_id for p in draw(pool, mode=Mode.RANDOM, seed=8, size=4)] != [
        p.file.child_id for p in first
    ]


def test_no_seed_ever_draws_a_file_audited_in_the_last_twelve_months() -> None:
    pool = audit_pool(history(), as_of=AS_OF)
    for seed in range(60):
        for mode in (Mode.RANDOM, Mode.STRATIFIED, Mode.QUOTA):
            picked = {p.file.child_id for p in draw(pool, mode=mode, seed=seed, size=8)}
            assert "C01" not in picked


def test_each_manager_audits_files_of_other_teams_only_and_no_file_twice() -> None:
    pool = audit_pool(history(), as_of=AS_OF)
    picks = draw(pool, mode=Mode.QUOTA, seed=3, per_manager=2)
    by_auditor = Counter(p.auditor_id for p in picks)
    assert by_auditor == {"M1": 2, "M2": 2}  # T3 has no manager: no quota
    team_of_manager = {"M1": "T1", "M2": "T2"}
    assert all(p.file.team_id != team_of_manager[str(p.auditor_id)] for p in picks)
    assert len({p.file.child_id for p in picks}) == len(picks)


def test_a_thematic_sample_keeps_to_its_case_type_and_needs_one() -> None:
    pool = audit_pool(history(), as_of=AS_OF)
    picks = draw(pool, mode=Mode.THEMATIC, seed=1, size=5, theme="cp")
    assert {p.file.stage for p in picks} == {"cp"}
    assert len(picks) == 2  # C02 and C07: C01 is excluded
    with pytest.raises(SampleError, match="--theme"):
        draw(pool, mode=Mode.THEMATIC, seed=1, size=5)


def test_a_stratified_sample_spreads_over_team_and_stage_in_proportion() -> None:
    pool = audit_pool(history(), as_of=AS_OF)
    # strata of the ten files: T1/cp 1 (C02), T1/cin 4, T2/cp 1, T2/cla 2, T2/cin 1, T3/cin 1
    # size 6 of 10, six strata: each at least one (6 × 1 = 6), so exactly one from each
    picks = draw(pool, mode=Mode.STRATIFIED, seed=5, size=6)
    assert Counter(p.stratum for p in picks) == {
        "T1/cp": 1, "T1/cin": 1, "T2/cp": 1, "T2/cla": 1, "T2/cin": 1, "T3/cin": 1,
    }  # fmt: skip
    # size 10 of 10: everything, each stratum its whole size
    assert Counter(p.stratum for p in draw(pool, mode=Mode.STRATIFIED, seed=5, size=10)) == {
        "T1/cp": 1, "T1/cin": 4, "T2/cp": 1, "T2/cla": 2, "T2/cin": 1, "T3/cin": 1,
    }  # fmt: skip
    # size 3 < six strata: largest remainders, 3 × 4/10 = 1.2 for T1/cin, 0.6 for T2/cla,
    # 0.3 for each of the others (ties by name: T1/cp) → T1/cin 1, T2/cla 1, T1/cp 1
    assert Counter(p.stratum for p in draw(pool, mode=Mode.STRATIFIED, seed=5, size=3)) == {
        "T1/cin": 1, "T2/cla": 1, "T1/cp": 1,
    }  # fmt: skip


def test_a_size_below_one_is_refused() -> None:
    pool = audit_pool(history(), as_of=AS_OF)
    with pytest.raises(SampleError):
        draw(pool, mode=Mode.RANDOM, seed=1, size=0)
