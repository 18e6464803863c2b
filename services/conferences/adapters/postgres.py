"""The conferences store on PostgreSQL, bound to the pipeline unit's connection.

Everything here runs inside the batch's one transaction (the pipeline's), so the children's
records, the invitations and the batch's ``processed_events`` claims commit together. `load`
inserts any child the service has not seen into ``conference_children`` and locks the batch's
children rows (sorted, ``FOR UPDATE``) and loads each child's record from the service's tables. A
referral an event names that the service has not seen on ``frontdoor.casework`` (it was deployed
after the referral, or the topic's retention dropped it, or the referral is in the same batch)
has its date read from intake's ``events`` history and copied into ``conference_referrals``.
`save` upserts only the records the batch changed (plans that ended first, so the one-open-plan
index never sees two) and records the invitations. Nothing here talks to Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.conferences.adapters.rows import (
    CONFERENCE_SQL,
    ENQUIRY_SQL,
    INVITATION_SQL,
    PLAN_SQL,
    REFERRAL_SQL,
    REPORT_SQL,
    child_file,
    conference_args,
    enquiry_args,
    invitation_args,
    plan_args,
    referral_args,
    report_args,
)
from services.conferences.domain.state import ChildFile, Referral
from services.conferences.ports import BatchWrite

LOCK_CHILDREN_SQL = """
INSERT INTO conference_children (child_id)
SELECT c FROM unnest($1::text[]) AS c ORDER BY c
ON CONFLICT (child_id) DO NOTHING
"""

SELECT_CHILDREN_SQL = """
SELECT child_id FROM conference_children
WHERE child_id = ANY($1::text[]) ORDER BY child_id FOR UPDATE
"""

HISTORY_SQL = """
SELECT DISTINCT ON (child_id, body->'payload'->>'referral_id')
       child_id, body->'payload'->>'referral_id' AS referral_id,
       body->'payload'->>'referral_at' AS referral_at
FROM events
WHERE child_id = ANY($1::text[])
  AND event_type = 'referral.accepted'
  AND body->'payload'->>'referral_id' = ANY($2::text[])
ORDER BY child_id, body->'payload'->>'referral_id', occurred_at
"""


async def _history_referrals(
    conn: asyncpg.Connection, missing: Mapping[str, set[UUID]]
) -> dict[str, list[Referral]]:
    """The dates of referrals the service has not seen, from intake's event history.

    Only the referral's date is taken: it never changes. Its closure is not, because intake runs
    ahead of this service and a closure recorded there may be later in the stream than the event
    being checked; closures reach this service on ``frontdoor.casework`` in order.
    """
    wanted = sorted({str(r) for ids in missing.values() for r in ids})
    if not wanted:
        return {}
    found: dict[str, list[Referral]] = {}
    for row in await conn.fetch(HISTORY_SQL, sorted(missing), wanted):
        referral_id = UUID(row["referral_id"])
        if referral_id in missing.get(row["child_id"], set()) and row["referral_at"]:
            found.setdefault(row["child_id"], []).append(
                Referral(
                    referral_id=referral_id,
                    referral_at=datetime.fromisoformat(row["referral_at"]),
                )
            )
    return found


def _changed(before: Mapping[Any, Any], after: Mapping[Any, Any]) -> list[Any]:
    return [value for key, value in after.items() if before.get(key) != value]


class PostgresConferenceStore:
    """The ``ConferenceStore`` port over one connection inside an open transaction."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def load(
        self, child_ids: Sequence[str], referral_ids: Mapping[str, Sequence[UUID]]
    ) -> dict[str, ChildFile]:
        conn = self._conn
        children = sorted(set(child_ids))
        await conn.execute(LOCK_CHILDREN_SQL, children)
        await conn.fetch(SELECT_CHILDREN_SQL, children)
        files = await child_file(conn, children)
        missing = {
            child: {r for r in wanted if r not in files[child].referrals}
            for child, wanted in referral_ids.items()
            if child in files
        }
        for child, found in (await _history_referrals(conn, missing)).items():
            for referral in found:
                files[child] = files[child].with_referral(referral)
            await conn.executemany(REFERRAL_SQL, [referral_args(child, r) for r in found])
        return files

    async def save(self, write: BatchWrite) -> None:
        referrals: list[tuple[Any, ...]] = []
        enquiries: list[tuple[Any, ...]] = []
        conferences: list[tuple[Any, ...]] = []
        reports: list[tuple[Any, ...]] = []
        plans: list[tuple[Any, ...]] = []
        for change in write.children:
            b, a, child = change.before, change.after, change.after.child_id
            referrals += [referral_args(child, r) for r in _changed(b.referrals, a.referrals)]
            enquiries += [enquiry_args(child, e) for e in _changed(b.enquiries, a.enquiries)]
            for conference in _changed(b.conferences, a.conferences):
                conferences.append(conference_args(child, conference))
                earlier = b.conferences.get(conference.conference_id)
                old = set() if earlier is None else set(earlier.reports)
                reports += [
                    report_args(child, conference.conference_id, r)
                    for r in conference.reports
                    if r not in old
                ]
            ended_first = sorted(_changed(b.plans, a.plans), key=lambda p: p.open)
            plans += [plan_args(child, p) for p in ended_first]
        for sql, rows in (
            (REFERRAL_SQL, referrals),
            (ENQUIRY_SQL, enquiries),
            (CONFERENCE_SQL, conferences),
            (REPORT_SQL, reports),
            (PLAN_SQL, plans),
        ):
            if rows:
                await self._conn.executemany(sql, rows)
        invitations = [invitation_args(i) for i in write.invitations]
        if invitations:
            await self._conn.executemany(INVITATION_SQL, invitations)
        if write.children:
            await self._conn.execute(
                "UPDATE conference_children SET updated_at = $2 WHERE child_id = ANY($1::text[])",
                [c.after.child_id for c in write.children],
                write.recorded_at,
            )
