"""No traceback ever reaches a user of the CLI (issue 14, "Everyone (CLI)").

Every case runs the real entry point, ``python -m services.cli.main …`` (what the ``frontdoor``
script runs), as a subprocess, against the session's real broker and database where one is needed,
and asserts: the exit code (2 for a usage error, 1 for a server that cannot be reached), exactly one
non-empty line on stderr saying what was wrong, and no "Traceback" anywhere. Unknown filter values
(``dlq replay --reason bogus`` / ``--id 99999``, ``sla --kind bogus``) are errors, not silent
successes; ``frontdoor replay`` refuses a PNG and publishes nothing; ``dlq replay`` refuses to
re-send a letter that is not JSON. The sweep at the end walks every registered command and gives
each typed option a value it cannot take (and every command an option it does not have).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import typer.main
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import PARTNER_EVENTS
from services.cli.main import app
from services.common.settings import Endpoints

ROOT = Path(__file__).resolve().parents[2]
NO_DB = "postgresql://nobody@127.0.0.1:1/nowhere"
NO_BROKER = "127.0.0.1:1"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)) * 8


def cli(
    *args: str, cwd: Path | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    # what a user's shell has: no log level asked for, so a stray log line shows as one here
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "KAFKA_BOOTSTRAP_SERVERS",
            "FRONTDOOR_DEBUG",
            "FRONTDOOR_LOG_LEVEL",
            "FRONTDOOR_LIBRARY_LOG_LEVEL",
        )
    }
    env["FRONTDOOR_DATA_DIR"] = str(cwd or ROOT / "test-artifacts" / "no-stack")
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
        env=env,
        check=False,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """Exit ``code``, one line on stderr containing ``words``, no traceback; the line."""
    where = f"stdout={result.stdout[-2000:]!r} stderr={result.stderr[-2000:]!r}"
    assert "Traceback" not in result.stdout + result.stderr, where
    assert result.returncode == code, where
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, where
    for word in words:
        assert word in lines[0], where
    assert "unexpected error" not in lines[0], where  # each known case is handled by name
    return lines[0]


@pytest.fixture
def db(endpoints: Endpoints) -> str:
    return endpoints.database_url


# -- the known cases (issue 14) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["returns", "annex-a", "--as-of", "01/04/2025"], ["--as-of", "YYYY-MM-DD"]),
        (["audit", "sample", "--as-of", "2025-02-30"], ["--as-of", "YYYY-MM-DD"]),
        (["returns", "inspection-bundle", "C1", "--as-of", "yesterday"], ["--as-of"]),
        (["returns", "workforce-profile", "--as-of", "2025-13-01"], ["--as-of"]),
        (["ooh", "handover", "--night", "tonight"], ["--night"]),
        (["simulate", "--days", "-3"], ["--days"]),
        (["simulate", "--days", "1", "--start", "2025-99-01"], ["--start", "YYYY-MM-DD"]),
        (["simulate", "--days", "1", "--scale", "-1"], ["--scale"]),
        (["dlq", "list", "--limit", "-1"], ["--limit"]),
        (["sla", "--limit", "0"], ["--limit"]),
        (["sla", "--period", "2025-05-01"], ["--period", "FROM..TO"]),
        (["sla", "--period", "2025-06-01..2025-05-01"], ["--period", "ends before"]),
        (["sla", "--status", "late"], ["--status", "open, breached, met, cancelled"]),
        (["sla", "--all", "--limit", "5"], ["--all"]),
        (["rebuild", "--view", "nope"], ["nope"]),
        (["worker", "nope"], ["nope"]),
        (["nosuchcommand"], ["nosuchcommand"]),
    ],
)
def test_a_bad_value_is_one_line_and_exit_code_2(args: list[str], words: list[str]) -> None:
    assert_one_line(cli(*args, "--database", NO_DB) if _takes_db(args) else cli(*args), 2, *words)


def _takes_db(args: list[str]) -> bool:
    return args[0] in ("returns", "audit", "sla", "dlq", "rebuild") and args[-1] != "nope"


def test_an_unknown_kind_names_every_kind_including_the_workforce_ones(db: str) -> None:
    line = assert_one_line(cli("sla", "--kind", "bogus", "--database", db), 2, "'bogus'")
    for kind in ("icpc", "operation_encompass", "supervision", "asye_review", "allocation"):
        assert kind in line


def test_out_on_an_existing_file_or_a_missing_folder_is_a_usage_error(
    db: str, tmp_path: Path
) -> None:
    existing = tmp_path / "taken.json"
    existing.write_text("{}")
    assert_one_line(
        cli("returns", "annex-a", "--out", str(existing), "--database", db), 2, "not a folder"
    )
    assert_one_line(
        cli("returns", "inspection-bundle", "C1", "--out", str(existing), "--database", db),
        2,
        "exists",
    )
    missing = tmp_path / "no" / "such" / "folder"
    assert_one_line(
        cli("returns", "annex-a", "--out", str(missing), "--database", db), 2, "does not exist"
    )
    assert_one_line(
        cli("returns", "cin-census", "--out", str(missing / "c.xml"), "--database", db),
        2,
        "does not exist",
    )
    assert_one_line(
        cli("simulate", "--days", "1", "--out", str(missing / "feed.jsonl")), 2, "does not exist"
    )
    assert existing.read_text() == "{}"


@pytest.mark.parametrize(
    "args",
    [
        ["sla"],
        ["sla", "--json", "--all"],
        ["init", "--bootstrap", NO_BROKER],
        ["rebuild", "--bootstrap", NO_BROKER],
        ["conferences", "--bootstrap", NO_BROKER],
        ["workforce", "--bootstrap", NO_BROKER],
        ["dlq", "list", "--bootstrap", NO_BROKER],
        ["dlq", "replay", "--reason", "processing", "--bootstrap", NO_BROKER],
        ["agencies", "list"],
        ["agencies", "add", "police"],
        ["ops-keys", "list"],
        ["ooh", "ack", "--team", "T", "--bootstrap", NO_BROKER],
        ["returns", "annex-a"],
        ["returns", "cin-census"],
        ["returns", "inspection-bundle", "C1", "--json"],
        ["audit", "sample"],
    ],
    ids=" ".join,
)
def test_an_unreachable_database_is_one_line_and_exit_code_1(
    args: list[str], tmp_path: Path
) -> None:
    assert_one_line(cli(*args, "--database", NO_DB, cwd=tmp_path), 1, "reach the")


@pytest.mark.parametrize(
    "args",
    [
        ["lag"],
        ["init"],
        ["replay", "{feed}"],
        ["dlq", "replay", "--id", "{letter}"],
        ["ooh", "handover"],
        ["ooh", "ack", "--team", "MASH"],
    ],
    ids=" ".join,
)
def test_an_unreachable_broker_is_one_line_and_exit_code_1(
    args: list[str], db: str, tmp_path: Path
) -> None:
    """The database answers, the broker does not: frontdoor's line alone, naming the broker —
    no aiokafka "Unable connect to", no structlog warning before it, nothing on stdout."""
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"event_type": "x"}\n')
    letter = None
    if "{letter}" in args:  # a waiting letter that is JSON: only the broker stands in the way
        letter = asyncio.run(_insert_letter(db, b'{"event_type": "x"}', 700_000_000 + os.getpid()))
    try:
        filled = [a.format(feed=feed, letter=letter) for a in args]
        result = cli(*filled, "--bootstrap", NO_BROKER, "--database", db, cwd=tmp_path)

        assert_one_line(result, 1, "reach the broker", "--bootstrap", "frontdoor dev")
        assert result.stdout.strip() == "", result.stdout
        if letter is not None:
            assert asyncio.run(_replayed_at(db, letter)) is None  # given back, still waiting
    finally:
        if letter is not None:  # marked done: no later `dlq replay` of the session re-sends it
            asyncio.run(_mark_replayed(db, letter))


def test_dlq_replay_refuses_an_unknown_reason_and_an_unknown_id(
    db: str, endpoints: Endpoints
) -> None:
    eps = ["--database", db, "--bootstrap", endpoints.bootstrap_servers]
    assert_one_line(cli("dlq", "replay", "--reason", "bogus", *eps), 2, "'bogus'", "reasons are")
    assert_one_line(cli("dlq", "replay", "--id", "99999999", *eps), 2, "99999999")


async def _insert_letter(db: str, value: bytes, offset: int) -> int:
    conn = await asyncpg.connect(db)
    try:
        return int(
            await conn.fetchval(
                """INSERT INTO deadletters (dlq_partition, dlq_offset, reason, exception_class,
                       exception_message, original_topic, original_partition, original_offset,
                       consumer_group, failed_at, record_key, record_value, record_headers)
                   VALUES (0, $1, 'deserialization', 'JSONDecodeError', 'not JSON',
                           'partner.events', 0, $1, 'test-cli-errors', now(), NULL, $2,
                           '[]'::jsonb)
                   RETURNING id""",
                offset,
                value,
            )
        )
    finally:
        await conn.close()


async def _mark_replayed(db: str, letter: int) -> None:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute("UPDATE deadletters SET replayed_at = now() WHERE id = $1", letter)
    finally:
        await conn.close()


async def _replayed_at(db: str, letter: int) -> object:
    conn = await asyncpg.connect(db)
    try:
        return await conn.fetchval("SELECT replayed_at FROM deadletters WHERE id = $1", letter)
    finally:
        await conn.close()


def test_dlq_replay_does_not_resend_a_letter_that_is_not_json(
    db: str, endpoints: Endpoints
) -> None:
    offset = 900_000_000 + os.getpid()
    letter = asyncio.run(_insert_letter(db, PNG[:200], offset))
    before = asyncio.run(_end_offsets(endpoints.bootstrap_servers))

    result = cli(
        "dlq",
        "replay",
        "--id",
        str(letter),
        "--database",
        db,
        "--bootstrap",
        endpoints.bootstrap_servers,
    )

    assert_one_line(result, 2, "not JSON", str(letter), "--raw")
    assert asyncio.run(_replayed_at(db, letter)) is None  # still waiting, not marked replayed
    assert asyncio.run(_end_offsets(endpoints.bootstrap_servers)) == before


async def _end_offsets(bootstrap: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(PARTNER_EVENTS.name, p) for p in range(PARTNER_EVENTS.partitions)]
        ends = await consumer.end_offsets(parts)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


def test_replay_refuses_a_png_and_publishes_nothing(endpoints: Endpoints, tmp_path: Path) -> None:
    picture = tmp_path / "photo.png"
    picture.write_bytes(PNG + b"\n" + PNG)
    before = asyncio.run(_end_offsets(endpoints.bootstrap_servers))

    result = cli("replay", str(picture), "--bootstrap", endpoints.bootstrap_servers)

    assert_one_line(result, 2, "PNG image", "not JSON lines", "nothing published")
    assert asyncio.run(_end_offsets(endpoints.bootstrap_servers)) == before


def test_replay_refuses_lines_that_are_not_json_objects_naming_the_first(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"event_type": "x"}\n["an", "array"]\nplain text\n')
    before = asyncio.run(_end_offsets(endpoints.bootstrap_servers))

    result = cli("replay", str(feed), "--bootstrap", endpoints.bootstrap_servers)

    assert_one_line(result, 2, "2 of 3 lines", "line 2")
    assert asyncio.run(_end_offsets(endpoints.bootstrap_servers)) == before


# -- the sweep: every command, a value it cannot take ---------------------------------------------


def _commands() -> Iterator[tuple[list[str], object]]:
    root = typer.main.get_command(app)

    def walk(command: object, path: list[str]) -> Iterator[tuple[list[str], object]]:
        if hasattr(command, "commands"):
            for name in command.list_commands(None):  # type: ignore[attr-defined]
                yield from walk(command.get_command(None, name), [*path, name])  # type: ignore[attr-defined]
        else:
            yield path, command

    return walk(root, [])


def _bad_values(command: object) -> Iterator[list[str]]:
    """For each typed option: a value it cannot take. Always: an option no command has."""
    yield ["--no-such-option", "1"]
    for param in command.params:  # type: ignore[attr-defined]
        if param.param_type_name != "option" or getattr(param, "is_flag", False):
            continue
        name = param.opts[0]
        kind = param.bare_type()
        if kind in (int, float):
            yield [name, "not-a-number"]
        elif name in ("--as-of", "--start", "--night", "--period"):
            yield [name, "31/12/2025"]
        elif isinstance(kind, type) and issubclass(kind, __import__("enum").Enum):
            yield [name, "no-such-value"]


SWEEP = [(path, bad) for path, command in _commands() for bad in _bad_values(command)]


def test_the_sweep_covers_every_command() -> None:
    swept = {" ".join(path) for path, _ in SWEEP}
    assert {
        "sla",
        "dlq list",
        "dlq replay",
        "replay",
        "simulate",
        "returns annex-a",
        "audit sample",
        "ooh handover",
        "agencies add",
        "ops-keys list",
    } <= swept
    assert len(swept) >= 25


@pytest.mark.parametrize(("path", "bad"), SWEEP, ids=[" ".join(p + b) for p, b in SWEEP])
def test_every_command_refuses_a_bad_option_in_one_line(
    path: list[str], bad: list[str], tmp_path: Path
) -> None:
    args = [*path, *bad]
    if path[0] in ("replay",):
        args.append(str(tmp_path / "missing.jsonl"))
    result = cli(*args, cwd=tmp_path, timeout=60)
    assert_one_line(result, 2)


def test_dlq_list_says_showing_n_of_m(db: str, endpoints: Endpoints) -> None:
    base = 800_000_000 + os.getpid() * 10
    for i in range(3):
        asyncio.run(_insert_letter(db, b'{"event_type": "x"}', base + i))

    result = cli("dlq", "list", "--limit", "1", "--database", db, "--bootstrap", NO_BROKER)

    assert result.returncode == 0, result.stderr
    assert "showing 1 of " in result.stdout
    assert "more with --limit" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_database_that_refuses_or_has_no_tables_says_what_to_do(endpoints: Endpoints) -> None:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(endpoints.database_url)
    missing = urlunsplit(parts._replace(path="/no_such_frontdoor_database"))
    bare = urlunsplit(parts._replace(path="/postgres"))  # the server's own: never migrated

    assert_one_line(cli("sla", "--database", missing), 1, "does not exist", "--database")
    assert_one_line(cli("sla", "--database", bare), 1, "frontdoor init")
