"""How ``frontdoor rebuild`` splits the chain into lanes (services/common/rebuild.py ``lanes``).

A lane per service by default, the SLA service's children shared between ``shares`` lanes (its
views are ``by_child``); each lane reads the lanes holding the services its services read; the
workforce reads none. ``--jobs N`` groups consecutive services into N lanes; 1 is one process.
A child's share is the same in every process (CRC-32 of its id), and every child has one.
"""

from __future__ import annotations

from services.cli.rebuild import NAMES, chain
from services.common.rebuild import Lane, _needed, lanes, share_of


def _plan(jobs: int | None, shares: int = 2) -> list[Lane]:
    return lanes(_needed(chain(), list(NAMES)), jobs, shares)


def test_a_lane_per_service_and_the_sla_children_in_two_shares() -> None:
    plan = _plan(None)
    assert [lane.label for lane in plan] == [
        "screening", "conferences", "outofhours", "sla[1/2]", "sla[2/2]", "workforce",
    ]  # fmt: skip
    upstream = {lane.label: lane.upstream for lane in plan}
    assert upstream == {
        "screening": (),
        "conferences": (0,),
        "outofhours": (0, 1),
        "sla[1/2]": (0, 1, 2),
        "sla[2/2]": (0, 1, 2),
        "workforce": (),
    }
    assert plan[3].share == (0, 2)
    assert plan[4].share == (1, 2)
    assert "sla_timers" in plan[3].tables
    assert "sla_timers" not in plan[0].tables


def test_jobs_group_consecutive_services_and_one_is_a_single_lane() -> None:
    assert [(lane.names, lane.upstream) for lane in _plan(2)] == [
        (("screening", "conferences", "outofhours"), ()),
        (("sla", "workforce"), (0,)),
    ]
    (only,) = _plan(1)
    assert only.names == tuple(NAMES)
    assert only.upstream == ()
    assert only.share is None
    assert [lane.label for lane in _plan(None, shares=1)] == list(NAMES)


def test_a_rebuild_of_one_view_has_lanes_only_for_what_it_reads() -> None:
    plan = lanes(_needed(chain(), ["workforce"]), None, 2)
    assert [(lane.label, lane.upstream) for lane in plan] == [("workforce", ())]


def test_a_child_has_one_share_the_same_in_every_process() -> None:
    children = [f"S5C01{n:05d}" for n in range(2000)]
    counts = [sum(1 for c in children if share_of(c, 2) == k) for k in (0, 1)]
    assert sum(counts) == len(children)
    assert min(counts) > 800
    assert all(share_of(c, 2) == share_of(c.encode(), 2) for c in children)  # str and key bytes
    # pinned: CRC-32 is the same everywhere (unlike hash(), salted per process)
    assert share_of("S5C0100093", 2) == 1  # crc32 = 3513593327
    assert share_of("S5C0100093", 3) == 2
    assert share_of(None, 3) == 0
