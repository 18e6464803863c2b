"""The teams `frontdoor ooh ack --team` accepts: the workforce register's (id and name), the
history's and the configured ones — never a team nobody has named (real PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from services.common.settings import Endpoints
from services.outofhours.adapters.teams import known_teams

pytestmark = pytest.mark.integration


async def test_the_register_names_the_teams_an_acknowledgement_may_move_clocks_to(
    endpoints: Endpoints,
) -> None:
    team_id, name = f"T-{uuid.uuid4().hex[:8]}", f"Assessment Team {uuid.uuid4().hex[:4]}"
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        await conn.execute(
            "INSERT INTO workforce_teams (team_id, name, recorded_at) VALUES ($1, $2, $3)",
            team_id,
            name,
            datetime(2025, 9, 1, tzinfo=UTC),
        )
    finally:
        await conn.close()
    known = await known_teams(endpoints.database_url, ("MASH", "Day Team"))
    assert {team_id, name, "MASH", "Day Team"} <= set(known)
    assert "Nobody Team" not in known
    assert known == sorted(known)
