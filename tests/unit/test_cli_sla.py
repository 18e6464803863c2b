"""The pure parts of ``frontdoor sla``: option parsing, the known kinds, the table's width."""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import typer

from schemas.events.sla import TimerKind
from services.cli.errors import parse_period
from services.cli.sla import breached_command, parse_kinds, parse_statuses, plural, table_lines
from services.sla.adapters.board import WORKFORCE_KINDS, Filters, known_kinds

ROOT = Path(__file__).resolve().parents[2]


def unstyle(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_the_known_kinds_are_every_timer_kind_and_every_kind_the_workforce_writes() -> None:
    tree = ast.parse((ROOT / "services/workforce/handlers.py").read_text())
    written = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "Clock"
        and isinstance(node.args[0], ast.Constant)
    }
    assert written == set(WORKFORCE_KINDS)
    assert set(known_kinds()) == {k.value for k in TimerKind} | written


def test_kinds_are_validated_repeatable_and_comma_separated() -> None:
    assert parse_kinds(["icpc,supervision", "icpc"]) == ("icpc", "supervision")
    assert parse_kinds(None) == ()
    with pytest.raises(typer.BadParameter, match=r"'bogus'.*operation_encompass.*allocation"):
        parse_kinds(["bogus"])


def test_statuses_live_is_open_and_breached_and_an_unknown_one_is_refused() -> None:
    assert parse_statuses(["live"]) == ("open", "breached")
    assert parse_statuses(["met,cancelled", "met"]) == ("met", "cancelled")
    assert parse_statuses(None) is None
    with pytest.raises(typer.BadParameter, match="open, breached, met, cancelled"):
        parse_statuses(["late"])


def test_a_period_is_from_to_with_either_end_open() -> None:
    assert parse_period("2025-04-01..2025-06-30") == (date(2025, 4, 1), date(2025, 6, 30))
    assert parse_period("2025-04-01..") == (date(2025, 4, 1), None)
    assert parse_period("..2025-06-30") == (None, date(2025, 6, 30))
    assert parse_period(None) == (None, None)
    for bad in ("2025-04-01", "..", "2025-06-30..2025-04-01", "1/4/2025..", "2025-02-30.."):
        with pytest.raises(typer.BadParameter):
            parse_period(bad)


def test_the_filters_are_said_in_words_and_the_breached_pointer_keeps_them() -> None:
    f = Filters(kinds=("icpc",), child="C1", period=(date(2025, 4, 1), None))
    assert f.described() == "status open+breached; kind icpc; child C1; due 2025-04-01..…"
    assert (
        breached_command(f) == "frontdoor sla --status breached --kind icpc --period 2025-04-01.."
    )


def test_plurals() -> None:
    assert plural(1, "clock") == "1 clock"
    assert plural(10_050, "clock") == "10,050 clocks"


def test_a_table_row_fits_80_columns() -> None:
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    rows = [
        {
            "due_at": now - timedelta(days=700),
            "status": "breached",
            "kind": "operation_encompass",
            "team": "Front Door East",
            "child_id": "S1C0000012345",
        },
        {
            "due_at": now + timedelta(hours=3),
            "status": "open",
            "kind": "screening_decision",
            "team": None,
            "child_id": "S1C9",
        },
    ]
    lines = table_lines(rows, now=now)
    assert len(lines) == 3
    assert all(len(unstyle(line)) <= 80 for line in lines)
    assert "-700 d" in unstyle(lines[1])
    assert "+3.0 h" in unstyle(lines[2])
    assert "S1C0000012345" in lines[1]
    assert "Front D" in lines[1]
