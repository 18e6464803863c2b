"""What the SLA board shows: the live clocks (open or breached and still owed), soonest first.

Read by ``frontdoor sla`` (and anything else that wants the same list). ``breaching`` keeps the
clocks already past their deadline or due before the end of today (Europe/London); the team is the
child's current one, else the team when the clock started.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.common.calendar import end_of_day, to_london

LIVE_SQL = """
SELECT t.timer_id, t.child_id, t.kind, t.policy, t.subject_ref, t.started_at, t.due_at,
       t.warn_at, t.status, t.warned_at, t.breached_at, COALESCE(c.team, t.team) AS team
FROM sla_timers t LEFT JOIN sla_children c ON c.child_id = t.child_id
WHERE t.status IN ('open', 'breached')
  AND ($1::text IS NULL OR t.kind = $1)
  AND ($2::timestamptz IS NULL OR t.due_at <= $2)
ORDER BY t.due_at, t.timer_id
LIMIT $3
"""


async def live_timers(
    conn: asyncpg.Connection,
    *,
    now: datetime,
    kind: str | None = None,
    breaching: bool = False,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Live clocks, soonest deadline first, as plain dicts (datetimes aware, in London time)."""
    until = end_of_day(to_london(now).date()) if breaching else None
    rows = await conn.fetch(LIVE_SQL, kind, until, limit)
    return [
        {
            key: to_london(value) if isinstance(value, datetime) else value
            for key, value in dict(row).items()
        }
        for row in rows
    ]
