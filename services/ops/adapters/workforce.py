"""The workforce section's facts: the workforce service's own read model, on an ops connection.

The one place ops reads the workforce: ``services/workforce/adapters/summary.py`` ``read_board``
— the same queries and caseload rules ``frontdoor workforce`` prints — so the dashboard can never
count a caseload or a cap differently from the CLI. This module is the single import the
independence contract admits between the two services (``pyproject.toml``, import-linter).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.workforce.adapters.summary import read_board


async def workforce_facts(conn: Any, *, now: datetime, alerts: int) -> Mapping[str, Any]:
    return await read_board(conn, now=now, alerts=alerts)
