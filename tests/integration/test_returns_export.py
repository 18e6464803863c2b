"""Returns from a real PostgreSQL `events` table, judged by the DfE validator and the XSD.

Events go straight into `events` in intake's layout (body = the validated, upcast event), no
broker involved. Each test gets its own database on the session's PostgreSQL server: the
returns read the whole table, so they must not see other tests' events. The DfE validator
(csc-validator-be-cin 0.1.13) runs in .venv-cin through scripts/cin-validator.sh, which creates
that virtualenv on first use.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import uuid
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
import pytest
from typer.testing import CliRunner

from schemas.codes import upn_check_letter
from schemas.envelope import EventBase
from schemas.registry import parse_event
from services.cli.registry import migration_dirs
from services.cli.returns import returns_app
from services.cli.stack import Infrastructure
from services.common.calendar import WorkingCalendar
from services.common.db import migrate
from services.returns.adapters.events import PostgresEventSource
from services.returns.cin_xml import CensusHeader, census_xml, xsd_errors
from services.returns.config import ReturnsSettings
from services.returns.dfe_validator import run_dfe_validator
from services.returns.domain.annex_a import annex_a
from services.returns.domain.census_return import census_return
from services.returns.domain.history import fold_child
from services.returns.domain.issues import Severity
from services.returns.domain.periods import census_year, start_of
from services.returns.handlers import EmptyCensusError, export_annex_a, export_cin_census
from tests.unit.test_returns_annex_a import overdue_birth, plan_ended, two_referrals, unborn
from tests.unit.test_returns_story import Story, at, details

pytestmark = pytest.mark.integration

AS_OF = date(2025, 4, 1)
YEAR = 2025
CALENDAR = WorkingCalendar.england_and_wales(2020, 2030)
COLUMNS = (
    "event_id", "event_type", "schema_version", "occurred_at", "child_id", "family_id",
    "source_agency", "content_hash", "source_topic", "source_partition", "source_offset", "body",
)  # fmt: skip
RETURN_LEVEL_EXPECTED = {"2886Q", "2887Q", "2888Q"}
"""Return-level DfE queries about proportions, which a small or synthetic file may trigger:
2886Q (over 2% without a recorded sex), 2887Q (fewer than 8 disability codes used), 2888Q
(only one disability code per child). None of them names a child."""


@pytest.fixture
def database(infra: Infrastructure) -> Iterator[str]:
    """A fresh database with every migration, on the session's PostgreSQL server."""
    name = f"frontdoor_returns_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(infra.endpoints.database_url)
    dsn = urlunsplit(parts._replace(path=f"/{name}"))

    async def create() -> None:
        admin = await asyncpg.connect(infra.endpoints.database_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        await migrate(dsn, migration_dirs())

    async def drop() -> None:
        admin = await asyncpg.connect(infra.endpoints.database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(create())
    yield dsn
    asyncio.run(drop())


def rows(events: Iterable[EventBase]) -> list[tuple[object, ...]]:
    """`events` rows as intake writes them: the canonical JSON of the upcast model as body."""
    out = []
    for offset, e in enumerate(events):
        body = e.model_dump_json()
        out.append(
            (
                e.event_id, e.event_type, e.schema_version, e.occurred_at, e.subject.child_id,
                e.subject.family_id, e.source.agency.value, hashlib.sha256(body.encode()).digest(),
                "partner.events", zlib.crc32(e.subject.child_id.encode()) % 8, offset, body,
            )
        )  # fmt: skip
    return out


def insert(dsn: str, events: Iterable[EventBase]) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.copy_records_to_table("events", records=rows(events), columns=COLUMNS)
        finally:
            await conn.close()

    asyncio.run(go())


def stories() -> list[Story]:
    return [two_referrals(), plan_ended(), unborn(), overdue_birth()]


def test_annex_a_from_the_events_table_is_the_lists_the_domain_computes(
    database: str, tmp_path: Path
) -> None:
    written = stories()
    insert(database, [e for s in written for e in s.events])
    result = asyncio.run(
        export_annex_a(PostgresEventSource(database), as_of=AS_OF, out_dir=tmp_path)
    )
    until = start_of(AS_OF)
    expected = annex_a(
        [fold_child(s.child_id, s.events, until=until) for s in written], as_of=AS_OF
    )
    assert result.annex == expected
    with result.files[1].open(encoding="utf-8") as f:  # list 3: the hand-computed referrals
        table = list(csv.reader(f))
    assert table[1:] == [
        [
            "BILAL2",
            "a) Male",
            "k) APKN",
            "03/11/2012",
            "12",
            "07/10/2024",
            "q) 6: Police",
            "b) No",
            "1",
            "Team C",
            "SW020",
        ],
        [
            "AVA1",
            "b) Female",
            "a) WBRI",
            "20/05/2016",
            "8",
            "10/02/2025",
            "q) 6: Police",
            "b) No",
            "2",
            "Team B",
            "SW010",
        ],
    ]
    with result.issues_file.open(encoding="utf-8") as f:
        assert [r[:3] for r in csv.reader(f)][1:] == [["DUE4", "date of birth", "gap"]]


def test_the_commands_write_the_workbook_and_the_census_from_the_database(
    database: str, tmp_path: Path
) -> None:
    insert(database, [e for s in stories() for e in s.events])
    runner = CliRunner()
    annex = runner.invoke(
        returns_app,
        [
            "annex-a",
            "--as-of",
            "2025-04-01",
            "--out",
            str(tmp_path),
            "--format",
            "xlsx",
            "--database",
            database,
        ],
    )
    assert annex.exit_code == 0, annex.output
    assert (tmp_path / "annex_a_2025-04-01.xlsx").stat().st_size > 0
    out = tmp_path / "cin.xml"
    cin = runner.invoke(
        returns_app, ["cin-census", "--year", "2025", "--out", str(out), "--database", database]
    )
    assert cin.exit_code == 0, cin.output
    assert xsd_errors(out.read_bytes()) == []
    strict = runner.invoke(
        returns_app,
        ["cin-census", "--year", "2025", "--out", str(out), "--database", database, "--strict"],
    )
    # Ava's March 2024 referral was never closed, so her later ones overlap it: the DfE would
    # reject her record; --strict fails and the issues file says who and why
    assert strict.exit_code == 1
    with (tmp_path / "cin_issues.csv").open(encoding="utf-8") as f:
        errors = {(r[0], r[3]) for r in csv.reader(f) if r[2] == "error"}
    assert errors == {("AVA1", "8816"), ("AVA1", "8820")}


def simulated_year(scale: float) -> list[EventBase]:
    from services.simulate.cli import write_feed

    path = Path(f"/tmp/frontdoor-returns-sim-{uuid.uuid4().hex}.jsonl")
    try:
        write_feed(path, days=365, seed=11, start=date(2024, 4, 1), scale=scale)
        return [parse_event(orjson.loads(line)) for line in path.read_bytes().splitlines()]
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.timeout(1200)
def test_a_simulated_year_passes_the_dfe_rules_with_no_child_level_error(
    database: str, tmp_path: Path
) -> None:
    insert(database, simulated_year(scale=0.25))
    out = tmp_path / "cin_census_2025.xml"
    result = asyncio.run(
        export_cin_census(
            PostgresEventSource(database),
            year=YEAR,
            out=out,
            settings=ReturnsSettings(),
            made_at=datetime.now(UTC),
            calendar=CALENDAR,
        )
    )
    assert len(result.census.children) > 500
    assert xsd_errors(out.read_bytes()) == []
    report = run_dfe_validator(out)
    assert report.crashed_rules == ()
    assert report.child_errors == ()
    assert {f.rule for f in report.return_level} <= RETURN_LEVEL_EXPECTED
    # every query the DfE raises about a child, the export raised about the same child
    kept = {c.la_child_id for c in result.census.children}
    ours = {(i.rule, i.child_id) for i in result.census.queries if i.child_id in kept}
    theirs = {(f.rule, f.child_id) for f in report.child_level}
    assert theirs <= ours


@pytest.mark.timeout(900)
def test_an_assessment_authorised_before_it_started_gets_the_validators_rule_number(
    database: str, tmp_path: Path
) -> None:
    broken = Story("BROKEN1", details(upn=upn_check_letter("372200012345") + "372200012345"))
    referral = broken.referral(at(date(2024, 9, 2)))
    broken.assessment(referral, at(date(2024, 9, 20)), at(date(2024, 9, 10)))
    insert(database, broken.events)
    histories = [fold_child("BROKEN1", broken.events, until=census_year(YEAR).ends_at)]
    ours = census_return(histories, year=YEAR, calendar=CALENDAR)
    assert ours.children == ()
    assert [(i.rule, i.severity) for i in ours.issues] == [("8608", Severity.ERROR)]
    shown = census_return(histories, year=YEAR, calendar=CALENDAR, keep_invalid=True)
    out = tmp_path / "broken.xml"
    header = CensusHeader(
        la_code="372", software_code="frontdoor", release="0.1.0", serial_no="001",
        made_at=datetime.now(UTC),
    )  # fmt: skip
    out.write_bytes(census_xml(shown.children, period=census_year(YEAR), header=header))
    report = run_dfe_validator(out)
    assert [(f.rule, f.child_id) for f in report.child_errors] == [("8608", "BROKEN1")]
    with pytest.raises(EmptyCensusError) as refused:  # the only child is left out
        asyncio.run(
            export_cin_census(
                PostgresEventSource(database), year=YEAR, out=tmp_path / "real.xml",
                settings=ReturnsSettings(), made_at=datetime.now(UTC), calendar=CALENDAR,
            )
        )  # fmt: skip
    assert refused.value.census.left_out == ("BROKEN1",)
    assert not (tmp_path / "real.xml").exists()


def messy() -> list[Story]:
    """Histories whose episodes break the DfE's episode rules in the ways a case system can."""
    same_day = Story("MESSY1", details(upn=upn_check_letter("372200012346") + "372200012346"))
    same_day.referral(at(date(2024, 9, 2), 9))  # referred twice the same day, both left open
    same_day.referral(at(date(2024, 9, 2), 11))
    both_open = Story("MESSY2", details(upn=upn_check_letter("372200012347") + "372200012347"))
    both_open.referral(at(date(2024, 5, 1)))  # never closed when the next referral came
    both_open.referral(at(date(2024, 9, 2)))
    closed_late = Story("MESSY3", details(upn=upn_check_letter("372200012348") + "372200012348"))
    first = closed_late.referral(at(date(2024, 5, 1)))
    closed_late.referral(at(date(2024, 9, 2)))  # inside the first, which closes a month later
    closed_late.closed(first, at(date(2024, 10, 1)), reason="RC8")
    back_to_back = Story("TIDY4", details(upn=upn_check_letter("372200012349") + "372200012349"))
    earlier = back_to_back.referral(at(date(2024, 5, 1)))
    back_to_back.closed(earlier, at(date(2024, 9, 2), 9), reason="RC8")
    back_to_back.referral(at(date(2024, 9, 2), 11))  # ends the day the next starts: no overlap
    return [same_day, both_open, closed_late, back_to_back]


@pytest.mark.timeout(900)
def test_the_exports_own_checks_catch_every_error_the_dfe_rules_find_in_a_messy_history(
    tmp_path: Path,
) -> None:
    """DfE rules 8815, 8816 and 8820 (cin2024_25) on the same file: nothing they reject gets by."""
    until = census_year(YEAR).ends_at
    histories = [fold_child(s.child_id, s.events, until=until) for s in messy()]
    ours = census_return(histories, year=YEAR, calendar=CALENDAR, keep_invalid=True)
    out = tmp_path / "messy.xml"
    header = CensusHeader(
        la_code="372", software_code="frontdoor", release="0.1.0", serial_no="001",
        made_at=datetime.now(UTC),
    )  # fmt: skip
    out.write_bytes(census_xml(ours.children, period=census_year(YEAR), header=header))
    theirs = {(f.rule, f.child_id) for f in run_dfe_validator(out).child_errors}
    mine = {(i.rule, i.child_id) for i in ours.errors}
    assert {"8816", "8820"} <= {rule for rule, _ in theirs}  # the file really is messy
    assert ("8820", "MESSY1") in theirs  # the same-day case
    assert ("8816", "MESSY1") in theirs
    assert theirs <= mine
    assert not {c for _, c in mine} & {"TIDY4"}  # and the tidy child is not accused
    assert not {c for _, c in theirs} & {"TIDY4"}


def test_audit_sample_draws_the_same_files_from_the_events_table_for_a_seed(database: str) -> None:
    """Issue 13 §6: `frontdoor audit sample` on a real `events` table — reproducible for a seed,
    the twelve-month exclusion honoured, one-line usage errors."""
    from services.cli.main import app
    from tests.unit.test_audit_sample import AS_OF, history

    insert(database, history())
    runner = CliRunner()
    day = AS_OF.date().isoformat()
    args = ["audit", "sample", "--database", database, "--as-of", day, "--json", "--size", "4"]
    first = runner.invoke(app, [*args, "--seed", "11"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, [*args, "--seed", "11"])
    drawn = orjson.loads(first.output)
    assert orjson.loads(again.output) == drawn
    assert len(drawn["sample"]) == 4
    assert drawn["excluded_audited_in_last_12_months"] == 1
    assert "C01" not in {s["child_id"] for s in drawn["sample"]}
    quota = orjson.loads(runner.invoke(app, [*args, "--mode", "quota"]).output)
    assert {s["auditor_id"] for s in quota["sample"]} == {"M1", "M2"}
    bad = runner.invoke(app, [*args, "--mode", "thematic"])
    assert bad.exit_code == 2
    assert "--theme" in bad.output
    assert "Traceback" not in bad.output


def test_the_inspection_bundle_reads_each_tracked_child_from_the_events_table(
    database: str, tmp_path: Path
) -> None:
    """Issue 13 §6: `frontdoor returns inspection-bundle CHILD…` on a real `events` table."""
    from services.cli.main import app
    from tests.unit.test_inspection_bundle import AS_OF as BUNDLE_AS_OF
    from tests.unit.test_inspection_bundle import child_events, directory

    insert(database, [*child_events(), *directory()])
    out = tmp_path / "bundle.json"
    day = BUNDLE_AS_OF.date().isoformat()
    done = CliRunner().invoke(
        app, ["returns", "inspection-bundle", "C1", "NOBODY9", "--as-of", day,
              "--database", database, "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 1, done.output  # one child has no record: named, exit 1
    assert "no record in frontdoor: NOBODY9" in done.output
    document = orjson.loads(out.read_bytes())
    assert document["no_record"] == ["NOBODY9"]
    (child,) = document["children"]
    assert [a["worker_id"] for a in child["allocations"]] == ["W1"]
    assert len(child["case_supervision"]) == 2
    assert child["workers"][0]["status"] == "overdue"
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    again = CliRunner().invoke(
        app, ["returns", "inspection-bundle", "C1", "--database", database, "--out", str(out)]
    )
    assert again.exit_code == 2
    assert "exists" in again.output
