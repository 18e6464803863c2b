"""The teams frontdoor knows, for checking a team someone types (``frontdoor ooh ack --team``).

The known teams are the workforce register's (``workforce_teams``: each team's id and its name,
from ``team.recorded``), and, for a history recorded before the register, the teams the history
names (every screening decision, referral and assessment in ``events``, indexed by event type),
plus the out-of-hours service's own day team and the MASH. A team nobody has ever named is
refused instead of silently moving a child's clocks to it.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

TEAM_EVENT_TYPES = ("screening.decision_recorded", "referral.accepted", "assessment.started")

TEAMS_SQL = """
SELECT DISTINCT body->'payload'->>'team' AS team FROM events
WHERE event_type = ANY($1::text[]) AND body->'payload' ? 'team'
"""


REGISTER_SQL = "SELECT team_id, name FROM workforce_teams"


async def known_teams(database_url: str, configured: Iterable[str]) -> list[str]:
    """Every team the register, the history or the configuration names, sorted."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(TEAMS_SQL, list(TEAM_EVENT_TYPES))
        register = await conn.fetch(REGISTER_SQL)
    finally:
        await conn.close()
    named = {r["team"] for r in rows if r["team"]}
    named |= {r["team_id"] for r in register} | {r["name"] for r in register if r["name"]}
    return sorted(named | set(configured))
