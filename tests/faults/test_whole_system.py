"""The whole system under faults, short form: the full form is ``python bench/faults.py``.

Two replicas of every stream service, a simulated feed replayed once undisturbed and once while
random workers, embedded PostgreSQL and the broker are SIGKILLed: every view must come out
identical, row by row — nothing lost, nothing applied twice.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


def _faults() -> object:
    spec = importlib.util.spec_from_file_location("bench_faults", ROOT / "bench" / "faults.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


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
