"""``frontdoor sla`` on the real database, through the real entry point (issues 12 §6 and 14).

Each test writes its own children's clocks (ids unique to the test) into ``sla_timers`` and
``workforce_clocks`` and reads them back with ``python -m services.cli.main sla``: the board never
stops at 10,000 clocks, says "showing N of M" with its filters, leads with the clocks that can
still be met (not the breached ones), filters by child, period, kind and status, reads the
workforce's clocks too, and ``--json`` is one valid JSON array of every matching clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from services.common.settings import Endpoints

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")


def sla(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FRONTDOOR_DEBUG")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "sla", *args, "--database", db],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def child_id() -> str:
    return f"B{uuid.uuid4().hex[:12].upper()}"


async def insert(
    db: str,
    child: str,
    dues: list[datetime],
    *,
    kind: str = "icpc",
    status: str = "open",
) -> None:
    """One clock per due moment, by SQL in the shape the sla worker writes."""
    conn = await asyncpg.connect(db)
    try:
        await conn.executemany(
            "INSERT INTO sla_timers (timer_id, child_id, kind, policy, subject_ref, started_at,"
            " due_at, status, breached_at, met_at, cancelled_at, team)"
            " VALUES ($1, $2, $3, 'wt2023', $4, $5, $6, $7, $8, $9, $10, 'Front Door East')",
            [
                (
                    uuid.uuid4(),
                    child,
                    kind,
                    f"ref-{i}",
                    due - timedelta(days=3),
                    due,
                    status,
                    due + timedelta(minutes=1) if status == "breached" else None,
                    due - timedelta(hours=1) if status == "met" else None,
                    due - timedelta(hours=2) if status == "cancelled" else None,
                )
                for i, due in enumerate(dues)
            ],
        )
    finally:
        await conn.close()


async def insert_workforce(db: str, child: str, kind: str, due: datetime) -> None:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(
            "INSERT INTO workforce_clocks (timer_id, child_id, kind, policy, subject_ref,"
            " started_at, due_at, team) VALUES ($1, $2, $3, 'local', $4, $5, $6, 'T1')",
            uuid.uuid4(),
            child,
            kind,
            child,
            due - timedelta(days=30),
            due,
        )
    finally:
        await conn.close()


@pytest.fixture
def db(endpoints: Endpoints) -> str:
    return endpoints.database_url


def test_more_than_10000_clocks_are_all_listed_and_counted(db: str) -> None:
    child = child_id()
    now = datetime.now(UTC)
    dues = [now + timedelta(days=400, minutes=i) for i in range(10_050)]
    asyncio.run(insert(db, child, dues))

    rows = json.loads(sla(db, "--child", child, "--json").stdout)
    assert len(rows) == 10_050
    assert [r["due_at"] for r in rows] == sorted(r["due_at"] for r in rows)

    listed = sla(db, "--child", child, "--all")
    assert listed.returncode == 0
    assert "showing 10,050 of 10,050 clocks" in listed.stdout
    assert sum(1 for line in listed.stdout.splitlines() if f" {child} " in line) == 10_050

    page = sla(db, "--child", child)
    assert sum(1 for line in page.stdout.splitlines() if f" {child} " in line) == 20
    assert f"showing 20 of 10,050 clocks (status open+breached; child {child})" in page.stdout


def test_the_default_view_leads_with_what_can_still_be_met_and_counts_the_breached(
    db: str,
) -> None:
    child = child_id()
    now = datetime.now(UTC)
    # far future so the session's other clocks do not come first; breached ones far in the past
    asyncio.run(
        insert(
            db,
            child,
            [now - timedelta(days=900 + i) for i in range(30)],
            kind="conference_reports",
            status="breached",
        )
    )
    soon = [now + timedelta(days=3000 + i) for i in range(3)]
    asyncio.run(insert(db, child, soon, kind="conference_reports"))

    period = f"{(now - timedelta(days=1000)).date()}..{(now + timedelta(days=4000)).date()}"
    out = sla(db, "--kind", "conference_reports", "--period", period, "--limit", "1000")

    assert out.returncode == 0
    text = out.stdout
    assert text.index("Due next (can still be met)") < text.index("breached clock")
    table = text.split("Due next (can still be met), soonest first:")[1].split("showing")[0]
    assert "breached" not in table  # only clocks that can still be met
    assert sum(1 for line in table.splitlines() if f" {child} " in line) == 3
    assert "open clock" in text
    assert "showing " in text
    assert "breached clocks, overdue since" in text
    assert "frontdoor sla --status breached --kind conference_reports --period" in text


def test_filters_by_period_status_and_kind_and_all_includes_closed_clocks(db: str) -> None:
    child = child_id()
    day = datetime(2031, 5, 14, 23, 30, tzinfo=LONDON)  # late on the 14th, London time
    asyncio.run(insert(db, child, [day], kind="cp_visit", status="met"))
    asyncio.run(insert(db, child, [day + timedelta(days=1)], kind="cp_visit", status="cancelled"))
    asyncio.run(insert(db, child, [day + timedelta(days=2)], kind="review"))

    every = json.loads(sla(db, "--child", child, "--json", "--all").stdout)
    assert sorted(r["status"] for r in every) == ["cancelled", "met", "open"]
    live = json.loads(sla(db, "--child", child, "--json").stdout)
    assert [r["kind"] for r in live] == ["review"]  # the default: what is still owed

    on_14th = json.loads(
        sla(db, "--child", child, "--json", "--all", "--period", "2031-05-14..2031-05-14").stdout
    )
    assert [r["status"] for r in on_14th] == ["met"]
    assert on_14th[0]["due_at"].startswith("2031-05-14T23:30:00")
    from_15th = json.loads(
        sla(db, "--child", child, "--json", "--all", "--period", "2031-05-15..").stdout
    )
    assert [r["status"] for r in from_15th] == ["cancelled", "open"]
    met = json.loads(sla(db, "--child", child, "--json", "--status", "met,cancelled").stdout)
    assert sorted(r["status"] for r in met) == ["cancelled", "met"]
    kind = json.loads(sla(db, "--child", child, "--json", "--all", "--kind", "cp_visit").stdout)
    assert {r["kind"] for r in kind} == {"cp_visit"}
    assert len(kind) == 2

    listed = sla(db, "--child", child, "--status", "met")
    assert f"showing 1 of 1 clock (status met; child {child})" in listed.stdout


def test_workforce_clocks_are_on_the_board_and_breach_when_past_due(db: str) -> None:
    child = child_id()
    now = datetime.now(UTC)
    asyncio.run(insert_workforce(db, child, "case_oversight", now - timedelta(days=2)))
    asyncio.run(insert_workforce(db, child, "allocation", now + timedelta(days=2)))

    rows = json.loads(sla(db, "--child", child, "--json").stdout)
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("case_oversight", "breached"),
        ("allocation", "open"),
    ]
    breached = json.loads(sla(db, "--child", child, "--json", "--status", "breached").stdout)
    assert [r["kind"] for r in breached] == ["case_oversight"]
    only = json.loads(sla(db, "--child", child, "--json", "--kind", "allocation").stdout)
    assert [r["kind"] for r in only] == ["allocation"]


def test_an_open_clock_past_its_deadline_counts_as_breached_not_as_due_next(db: str) -> None:
    child = child_id()
    now = datetime.now(UTC)
    asyncio.run(insert(db, child, [now - timedelta(minutes=5)], kind="triage"))  # not yet scanned

    rows = json.loads(sla(db, "--child", child, "--json", "--status", "open").stdout)
    assert rows == []
    rows = json.loads(sla(db, "--child", child, "--json", "--status", "breached").stdout)
    assert [r["status"] for r in rows] == ["breached"]


def test_json_says_how_many_it_wrote_on_stderr_and_is_valid_when_empty(db: str) -> None:
    out = sla(db, "--child", child_id(), "--json")
    assert json.loads(out.stdout) == []
    assert "wrote 0 of 0 clocks" in out.stderr
