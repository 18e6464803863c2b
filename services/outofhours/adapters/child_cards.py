"""The watch screen's child cards, read from the accepted history (``events``, written by intake).

For each child: the ``child`` block of the latest event that carries one (contact, police
notification, referral), the latest ``police_ref`` any payload carries, and the latest ``team``
(screening decision, referral, assessment …), each by event time. Read-only; ``events`` is the
history every view may read (DESIGN.md "State, delivery and failure"), indexed by child and time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from services.outofhours.domain.cards import ChildCard, card_from

CARDS_SQL = """
SELECT c.child_id,
       (SELECT body->'payload'->'child' FROM events e
         WHERE e.child_id = c.child_id AND body->'payload' ? 'child'
         ORDER BY occurred_at DESC, event_id LIMIT 1) AS child,
       (SELECT body->'payload'->>'police_ref' FROM events e
         WHERE e.child_id = c.child_id AND body->'payload' ? 'police_ref'
         ORDER BY occurred_at DESC, event_id LIMIT 1) AS police_ref,
       (SELECT body->'payload'->>'team' FROM events e
         WHERE e.child_id = c.child_id AND body->'payload' ? 'team'
         ORDER BY occurred_at DESC, event_id LIMIT 1) AS team
FROM unnest($1::text[]) AS c(child_id)
"""


async def child_cards(pool: asyncpg.Pool, child_ids: Sequence[str]) -> dict[str, ChildCard]:
    """One card per child id (an empty card for a child the history knows nothing about)."""
    if not child_ids:
        return {}
    rows = await pool.fetch(CARDS_SQL, sorted(set(child_ids)))
    return {
        r["child_id"]: card_from(
            r["child_id"], _json(r["child"]), police_ref=r["police_ref"], team=r["team"]
        )
        for r in rows
    }


def _json(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    parsed = orjson.loads(value) if isinstance(value, str | bytes) else value
    return parsed if isinstance(parsed, dict) else None
