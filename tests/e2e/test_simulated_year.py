"""The simulated front door on the real stack (short form of ``bench/simulated_year.py``).

Issue 12: a simulated history replayed produces no dead letters (the simulator injects no poison
here), every conference that has happened has the reports of the agencies frontdoor invited, and
the clocks look like a stressed but working service, not one where most clocks breach. Four weeks
at a fifth of a borough's volume, under a child-id prefix of its own, so the other tests' records
on the session's shared broker and database do not count. The year, with the DfE validator on its
census, is ``python bench/simulated_year.py`` (the census alone over a simulated year is
``tests/integration/test_returns_export.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
import pytest

from services.cli.replay import publish_lines
from services.common.settings import Endpoints
from services.simulate.cli import write_feed
from tests.conftest import Workers, wait_until

START = date(2025, 1, 6)
DAYS = 28
SERVICES = ("intake", "deadletter", "screening", "sla", "outofhours", "conferences")


@pytest.mark.timeout(300)
async def test_a_simulated_month_has_no_dead_letters_and_every_held_conference_its_reports(
    endpoints: Endpoints, workers: Workers, tmp_path: Path
) -> None:
    prefix = f"Y{uuid.uuid4().hex[:6]}"
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, days=DAYS, seed=21, start=START, scale=0.2, child_prefix=prefix)
    lines = [line for line in feed.read_bytes().splitlines() if line.strip()]
    # the workforce directory's events are keyed ``workforce``, not a child: count by event id
    ids = [orjson.loads(line)["event_id"] for line in lines]
    for name in SERVICES:
        workers.start(name)
    await publish_lines(endpoints.bootstrap_servers, lines)
    conn = await asyncpg.connect(endpoints.database_url)
    like = prefix + "%"
    try:
        window_end = datetime.combine(START + timedelta(days=DAYS), datetime.min.time(), UTC)

        async def settled() -> tuple[int, ...] | None:
            counts = (
                await conn.fetchval(
                    "SELECT count(*) FROM events WHERE event_id = ANY($1::uuid[])", ids
                ),
                await conn.fetchval(
                    "SELECT count(*) FROM screening_results WHERE child_id LIKE $1", like
                ),
                await conn.fetchval("SELECT count(*) FROM sla_timers WHERE child_id LIKE $1", like),
                await conn.fetchval(
                    "SELECT count(*) FROM conferences WHERE child_id LIKE $1", like
                ),
            )
            open_due = await conn.fetchval(
                "SELECT count(*) FROM sla_timers WHERE child_id LIKE $1 AND status = 'open'"
                " AND due_at < $2",
                like,
                window_end,
            )
            waiting = await conn.fetchval("SELECT count(*) FROM outbox WHERE relayed_at IS NULL")
            done = counts[0] == len(lines) and counts[2] > 0 and open_due == 0 and waiting == 0
            return counts if done else None

        counts = await wait_until(settled, timeout=240)
        for _ in range(20):  # then until nothing more changes for 3 s (clocks, conferences)
            await asyncio.sleep(3)
            again = await settled()
            if again == counts:
                break
            counts = again

        letters = await conn.fetchval(  # a child's by its key, the directory's by our ids in it
            "SELECT count(*) FROM deadletters WHERE encode(record_key, 'escape') LIKE $1"
            " OR position(convert_to($2, 'UTF8') IN coalesce(record_value, '')) > 0",
            like,
            prefix,
        )
        assert letters == 0
        held, missing = await conn.fetchrow(
            """
            SELECT count(*), count(*) FILTER (WHERE EXISTS (
                SELECT 1 FROM unnest(c.invited_agencies) AS a(agency)
                 WHERE a.agency <> 'social_care' AND NOT EXISTS (
                     SELECT 1 FROM conference_reports r
                      WHERE r.conference_id = c.conference_id AND r.agency = a.agency)))
            FROM conferences c WHERE c.status = 'held' AND c.child_id LIKE $1
            """,
            like,
        )
        assert held > 0
        assert missing == 0
        rows = await conn.fetch(
            """
            SELECT kind, count(*) FILTER (WHERE status <> 'cancelled') AS decided,
                   count(*) FILTER (WHERE status = 'breached'
                                    OR (status = 'met' AND met_at > due_at)) AS late
            FROM sla_timers WHERE child_id LIKE $1 AND due_at < $2 GROUP BY kind
            """,
            like,
            window_end,
        )
        shares = {r["kind"]: r["late"] / r["decided"] for r in rows if r["decided"] >= 20}
        assert "screening_decision" in shares
        assert all(share < 0.25 for share in shares.values()), shares
    finally:
        await conn.close()
