"""The workforce worker refuses unknown teams and workers; the profile export reads the history.

Through the real intake and workforce workers (embedded broker, real PostgreSQL): a supervision
session of a worker who never joined, one with an unknown supervisor, a worker joining a team
never recorded, an allocation into that team, an oversight note by an unknown manager and a
referral naming an unknown team each become a ``validation`` dead letter whose message names the
field and the rule (``known_worker`` / ``known_team``) and never the value; the good events
published around them are kept, and no team or worker is created. The NQSW's child protection
case without a co-worker shows in ``workforce_allocation_flags`` (what the ops dashboard reads)
with the team's manager. ``frontdoor returns workforce-profile`` then writes the workbook (real
dates, frozen and filtered header) and ``--json`` from the events table; a bad --as-of is exit 2.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from schemas.topics import DEADLETTER
from services.cli.replay import publish_lines
from services.cli.returns import returns_app
from services.common.deadletter import header_map
from services.common.settings import Endpoints
from tests.conftest import Workers, event_id_of, read_topic, wait_until
from tests.factories import envelope, to_line
from tests.unit.contract_examples import example

pytestmark = pytest.mark.integration

AT = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)


def directory(event_type: str, payload: dict[str, Any], at: datetime = AT) -> dict[str, Any]:
    return envelope(event_type, 1, payload, child="workforce", at=at)


def session(worker: str, supervisor: str, day: int) -> dict[str, Any]:
    started = datetime(2025, 9, day, 9, tzinfo=UTC)
    payload = {"worker_id": worker, "supervisor_id": supervisor, "kind": "professional",
               "duration_minutes": 90, "started_at": started.isoformat()}  # fmt: skip
    return directory("supervision.held", payload, at=started.replace(hour=11))


def allocated(child: str, worker: str, team: str) -> dict[str, Any]:
    at = datetime(2025, 9, 2, 10, tzinfo=UTC)
    payload = {"worker_id": worker, "team_id": team, "allocated_at": at.isoformat(),
               "case_type": "cp"}  # fmt: skip
    return envelope("child.allocated", 1, payload, child=child, at=at)


async def rows(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def test_unknown_teams_and_workers_are_dead_letters_and_the_profile_is_exported(
    endpoints: Endpoints, workers: Workers, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    team, manager, nqsw = f"T-{tag}", f"M-{tag}", f"N-{tag}"
    ghost, lost_team = f"X-{tag}", f"U-{tag}"
    dsn, bootstrap = endpoints.database_url, endpoints.bootstrap_servers
    workers.start("intake")
    workers.start("workforce")
    joined = {"role": "case_holder", "employed_from": "2025-09-01", "team_id": team}
    await publish_lines(bootstrap, [to_line(e) for e in (
        directory("team.recorded", {"team_id": team, "name": "Team", "manager_id": manager,
                                    "establishment_fte": "2"}),
        directory("worker.joined", {**joined, "worker_id": manager, "role": "first_line_manager",
                                    "fte": "1", "case_holder": False}),
        directory("worker.joined", {**joined, "worker_id": nqsw, "fte": "0.5",
                                    "newly_qualified": True}),
    )])  # fmt: skip
    await wait_until(
        lambda: rows(dsn, "SELECT 1 FROM workforce_workers WHERE worker_id = $1", nqsw)
    )
    child, lost_child, note_child = f"C{tag}1", f"C{tag}2", f"C{tag}3"
    unknown_referral = example("referral.accepted", 1)
    unknown_referral["payload"].update(team=lost_team, worker=None)
    known_referral = example("referral.accepted", 1)
    known_referral["payload"].update(team=team, worker=nqsw)
    oversight = envelope("oversight.recorded", 1, {"manager_id": ghost, "note": "Seen.",
                         "recorded_at": "2025-09-03T10:00:00+00:00"}, child=note_child)  # fmt: skip
    bad = {
        "payload.worker_id known_worker": session(ghost, manager, 3),
        "payload.supervisor_id known_worker": session(nqsw, ghost, 4),
        "payload.team_id known_team": directory(
            "worker.joined", {**joined, "worker_id": ghost, "fte": "1", "team_id": lost_team}
        ),
        "payload.team_id known_team ": allocated(lost_child, nqsw, lost_team),
        "payload.manager_id known_worker": oversight,
        "payload.team known_team": unknown_referral,
    }
    good = [session(nqsw, manager, 8), allocated(child, nqsw, team), known_referral]
    interleaved = [e for pair in zip(bad.values(), good + good, strict=False) for e in pair]
    await publish_lines(bootstrap, [to_line(e) for e in interleaved])

    wanted = {e["event_id"]: reason.split() for reason, e in bad.items()}

    async def letters() -> dict[str, dict[str, str]] | None:
        found: dict[str, dict[str, str]] = {}
        for r in await read_topic(bootstrap, DEADLETTER.name, DEADLETTER.partitions):
            event_id = event_id_of(r.value)  # the session's topic holds other tests' garbage too
            if event_id is not None and event_id in wanted:
                found[event_id] = header_map(r.headers)
        return found if len(found) == len(wanted) else None

    got = await wait_until(letters)
    assert isinstance(got, dict)
    for event_id, (field, rule) in wanted.items():
        message = got[event_id]["dlq.exception.message"]
        assert got[event_id]["dlq.reason"] == "validation"
        assert field in message
        assert f"rule: {rule}" in message
        assert ghost not in message
        assert lost_team not in message
    # the good events around them are kept
    await wait_until(lambda: rows(dsn, "SELECT 1 FROM workforce_sessions WHERE worker_id = $1 "
                                  "AND flag IS NULL", nqsw))  # fmt: skip
    await wait_until(lambda: rows(dsn, "SELECT 1 FROM workforce_allocations WHERE child_id = $1",
                                  child))  # fmt: skip
    await wait_until(lambda: rows(dsn, "SELECT 1 FROM workforce_referrals WHERE child_id = $1",
                                  known_referral["subject"]["child_id"]))  # fmt: skip
    assert await rows(dsn, "SELECT 1 FROM workforce_teams WHERE team_id = $1", lost_team) == []
    assert await rows(dsn, "SELECT 1 FROM workforce_workers WHERE worker_id = $1", ghost) == []
    assert await rows(dsn, "SELECT 1 FROM workforce_allocations WHERE child_id = $1",
                      lost_child) == []  # fmt: skip
    flags = await wait_until(lambda: rows(
        dsn, "SELECT rule, manager_id, team_id FROM workforce_allocation_flags WHERE child_id = $1",
        child))  # fmt: skip
    assert [tuple(f) for f in flags] == [("nqsw_cp_not_co_worked", manager, team)]  # type: ignore[union-attr]

    runner = CliRunner()
    out = tmp_path / "profile.xlsx"
    done = await asyncio.to_thread(runner.invoke, returns_app, ["workforce-profile", "--as-of", "2025-09-30", "--out",
                                       str(out), "--database", dsn])  # fmt: skip
    assert done.exit_code == 0, done.output
    book = load_workbook(out)
    sheet = book["Workers"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None
    headings = [c.value for c in sheet[1]]
    by_worker = {r[0]: dict(zip(headings, r, strict=True))
                 for r in sheet.iter_rows(min_row=2, values_only=True)}  # fmt: skip
    row = by_worker[nqsw]
    started, last = row["Employment start date"], row["Last supervision date"]
    assert isinstance(started, datetime)  # a real date cell, not text
    assert isinstance(last, datetime)
    assert (started.date(), last.date()) == (date(2025, 9, 1), date(2025, 9, 8))
    assert (row["NQSW"], row["Cases"], row["CP cases not co-worked (NQSW)"]) == ("yes", 1, 1)
    # the refused joiner and allocation are in the events history, but the profile leaves them
    # out by the workforce service's own rule instead of inventing a team
    assert ghost not in by_worker
    as_json = await asyncio.to_thread(runner.invoke, returns_app, ["workforce-profile", "--as-of", "2025-09-30", "--json",
                                          "--database", dsn])  # fmt: skip
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    (mine,) = [t for t in document["teams"] if t["team_id"] == team]
    assert (mine["headcount"], mine["manager_id"], mine["vacancies_fte"]) == (2, manager, "0.5")
    assert date.fromisoformat(document["as_of"]) == date(2025, 9, 30)
    assert document["refused_events"] >= 4  # joiner, allocation, two sessions (all refused)
    bad_day = await asyncio.to_thread(
        runner.invoke, returns_app, ["workforce-profile", "--as-of", "30/09/2025"]
    )
    assert bad_day.exit_code == 2
    assert "is not a date" in bad_day.output
