"""Reading the conferences views for people: the upcoming conferences and what is missing.

`upcoming_conferences` reads ``conferences_upcoming`` (pending conferences, soonest target first,
with the reports received, missing, late and not shared with the parents, and the quorum flags) as
plain dicts, for ``frontdoor conferences`` and the dashboard. ``reports_overdue`` is evaluated at
`now` (the view's own ``now()`` is the database's clock; tests and demos pass theirs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

UPCOMING_SQL = """
SELECT conference_id, child_id, kind, sequence, policy, plan_id, target_date, conference_at,
       reports_due_by, invited_agencies, reports_received, reports_missing, reports_late,
       reports_not_shared,
       ($1::timestamptz > reports_due_by AND cardinality(reports_missing) > 0) AS reports_overdue,
       quorate_on_invitations, quorate_on_reports
FROM conferences_upcoming
WHERE ($2::text IS NULL OR child_id = $2)
ORDER BY target_date, child_id, conference_id
"""


async def upcoming_conferences(
    conn: asyncpg.Connection, *, now: datetime, child_id: str | None = None
) -> list[dict[str, Any]]:
    """Pending conferences, soonest target date first."""
    rows = await conn.fetch(UPCOMING_SQL, now, child_id)
    return [dict(row) for row in rows]
