"""The log pipeline drops personal data whatever a caller passes, at any depth, in exception text
and tracebacks, and for stdlib loggers (faust, mode, aiokafka, asyncpg, uvicorn) as for our own."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

import asyncpg
import pydantic
import pytest
import structlog

from services.common.logging import configure_logging, redact, shared_processors

NAME = "Zebedee-Quentin"
FAMILY = "Farquharson-Smythe"
DOB = "2016-02-29"
POSTCODE = "SW1A 1AA"
VALUES = (NAME, FAMILY, DOB, POSTCODE)
ROOT = Path(__file__).resolve().parents[2]


class Capture:
    """The end of the real processor chain: what a renderer would be given."""

    def __init__(self) -> None:
        self.entries: list[MutableMapping[str, Any]] = []

    def __call__(self, _l: Any, _m: str, event_dict: MutableMapping[str, Any]) -> Any:
        self.entries.append(dict(event_dict))
        raise structlog.DropEvent


@pytest.fixture
def captured() -> Iterator[Capture]:
    capture = Capture()
    # from the defaults: a CLI command run earlier in the process may have left a level filter
    # (its quiet wrapper class), which configure(processors=...) alone would keep
    structlog.reset_defaults()
    structlog.configure(processors=[*shared_processors(), capture])
    yield capture
    structlog.reset_defaults()


def leaks(text: str) -> list[str]:
    return [v for v in VALUES if v in text]


def test_personal_keys_are_removed_at_any_depth_and_named(captured: Capture) -> None:
    structlog.get_logger("t").info(
        "referral_screened",
        child_id="C1",
        Summary="story",
        context={"team": "north", "child": {"given_name": NAME}, "people": [{"dob": DOB}]},
        rows=[{"postcode": POSTCODE, "offset": 3}],
    )
    (entry,) = captured.entries
    assert entry["child_id"] == "C1"
    assert entry["context"] == {"team": "north", "people": [{}]}
    assert entry["rows"] == [{"offset": 3}]
    assert entry["redacted_keys"] == [
        "Summary",
        "context.child",
        "context.people.dob",
        "rows.postcode",
    ]
    assert not leaks(repr(entry))


class Person(pydantic.BaseModel):
    child_id: str
    given_name: str
    family_name: str
    date_of_birth: str


def test_a_pydantic_model_is_dumped_then_redacted(captured: Capture) -> None:
    child = Person(child_id="C-7", given_name=NAME, family_name=FAMILY, date_of_birth=DOB)
    structlog.get_logger("t").info("child_seen", record=child)
    (entry,) = captured.entries
    assert entry["record"]["child_id"] == "C-7"
    assert not leaks(repr(entry))


def test_a_validation_error_traceback_keeps_frames_but_not_values(captured: Capture) -> None:
    try:
        pydantic.TypeAdapter(dict[str, int]).validate_python({"family_name": NAME})
    except pydantic.ValidationError:
        structlog.get_logger("t").exception("record_failed", error_class="ValidationError")
    (entry,) = captured.entries
    text = entry["exception"]
    assert text.startswith("Traceback (most recent call last):")
    assert "test_logging.py" in text
    assert "pydantic_core._pydantic_core.ValidationError: family_name:" in text
    assert "exc_info" not in entry
    assert not leaks(text)


def test_an_asyncpg_detail_line_never_reaches_a_log(captured: Capture) -> None:
    exc = asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint")
    exc.detail = f"Key (family_name)=({FAMILY}) already exists."
    try:
        try:
            raise exc
        except asyncpg.PostgresError as inner:
            raise RuntimeError(f"store failed for {FAMILY!r}") from inner
    except RuntimeError as outer:
        structlog.get_logger("t").error("store_failed", exc_info=outer, error=str(outer))
    (entry,) = captured.entries
    assert "The above exception was the direct cause" in entry["exception"]
    assert "sqlstate 23505" in entry["exception"]
    assert entry["error"] == "store failed for '…'"
    assert not leaks(repr(entry))


def test_bytes_are_logged_as_their_length_only() -> None:
    out = redact(None, "info", {"event": "x", "raw": f'{{"dob": "{DOB}"}}'.encode()})
    assert out["raw"] == "<21 bytes>"


def test_stdlib_records_go_through_the_same_chain() -> None:
    buf = io.StringIO()
    with redirect_stderr(buf):
        configure_logging(json=True)
        logging.getLogger("aiokafka.consumer").warning(
            "record %s failed: %s", {"family_name": FAMILY, "offset": 9}, ValueError(f"bad {DOB}")
        )
    structlog.reset_defaults()
    (line,) = [json.loads(x) for x in buf.getvalue().splitlines() if x.strip()]
    assert line["logger"] == "aiokafka.consumer"
    assert line["level"] == "warning"
    assert line["event"] == "record {'family_name': …, '…': 9} failed: bad …"
    assert not leaks(buf.getvalue())


@pytest.mark.parametrize(("setting", "shown"), [(None, False), ("INFO", True), ("bogus", False)])
def test_library_lines_below_warning_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, shown: bool
) -> None:
    if setting is None:
        monkeypatch.delenv("FRONTDOOR_LIBRARY_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("FRONTDOOR_LIBRARY_LOG_LEVEL", setting)
    buf = io.StringIO()
    with redirect_stderr(buf):
        configure_logging(json=True)
        logging.getLogger("faust.worker").info("joined group as %s", {"given_name": NAME})
        logging.getLogger("faust.worker").warning("rebalancing")
    structlog.reset_defaults()
    lines = [json.loads(x) for x in buf.getvalue().splitlines() if x.strip()]
    assert [x["event"] for x in lines] == (
        ["joined group as {'given_name': …}", "rebalancing"] if shown else ["rebalancing"]
    )
    assert not leaks(buf.getvalue())


def test_json_lines_when_not_on_a_terminal_without_personal_data() -> None:
    buf = io.StringIO()
    with redirect_stderr(buf):
        configure_logging(json=True)
        structlog.get_logger("t").info("referral_screened", child_id="C9", family_name=FAMILY)
    structlog.reset_defaults()
    line = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert line["event"] == "referral_screened"
    assert line["child_id"] == "C9"
    assert FAMILY not in buf.getvalue()


CHILD_PROCESS = f"""
import logging, pydantic
from services.common.logging import configure_logging
configure_logging(json=True)
person = {{"child": {{"given_name": {NAME!r}, "family_name": {FAMILY!r}}}, "dob": {DOB!r},
          "address": {{"postcode": {POSTCODE!r}}}}}
logging.getLogger("faust.agents").error("agent crashed on %r", person)
logging.getLogger("asyncpg.pool").warning("%s", person)
logging.getLogger("uvicorn.error").info("not shown: below WARNING")
try:
    pydantic.TypeAdapter(dict[str, int]).validate_python(person)
except pydantic.ValidationError:
    logging.getLogger("mode.worker").exception("crashed: %s", person)
import structlog
structlog.get_logger("own").warning("own_line", context=person)
"""


def test_a_real_process_logging_personal_data_through_stdlib_prints_none_of_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD_PROCESS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(x) for x in done.stderr.splitlines() if x.strip()]
    assert [x.get("logger", "own") for x in lines] == [
        "faust.agents",
        "asyncpg.pool",
        "mode.worker",
        "own",
    ]
    assert "Traceback (most recent call last)" in lines[2]["exception"]
    assert lines[3]["redacted_keys"] == ["context.address", "context.child", "context.dob"]
    assert leaks(done.stderr + done.stdout) == []
    assert NAME in CHILD_PROCESS  # the values searched for were really logged
