"""The whole system under faults, short form: the full form is ``python bench/faults.py``.

Two replicas of every stream service, a simulated feed replayed once undisturbed and once while
random workers, embedded PostgreSQL and the broker are SIGKILLed: every view must come out
identical, row by row — nothing lost, nothing applied twice.
"""

from __future__ import annotations

import os

import pytest

from tests.factories import bench_module

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

def _faults() -> object:
    return bench_module("faults")


async def test_views_are_identical_after_worker_database_and_broker_kills() -> None:
    faults = _faults()
    result = await faults.run(  # type: ignore[attr-defined]
        days=int(os.environ.get("FRONTDOOR_FAULT_DAYS", "5")),
        kills=int(os.environ.get("FRONTDOOR_FAULT_KILLS", "6")),
        replicas=2,
        seed=11,
        timeout=600,
    )
    assert result["disturbed"]["kills"] >= 6
    assert result["disturbed"]["postgres_kills"] == 1
    assert result["disturbed"]["broker_kills"] == 1
    assert result["rows"]["events"] > 0
    assert result["rows"]["sla_timers"] > 0
    assert result["differences"] == {}, result
