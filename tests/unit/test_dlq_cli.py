"""``frontdoor dlq replay`` as a command: a usage error is one line and exit code 2, before the
database or the broker is contacted (the ones named here do not exist)."""

from __future__ import annotations

from typer.testing import CliRunner

from services.cli.main import app

NOWHERE = ["--database", "postgresql://nobody@127.0.0.1:1/none", "--bootstrap", "127.0.0.1:1"]


def test_unknown_reason_is_one_line_and_exit_code_2() -> None:
    result = CliRunner().invoke(app, ["dlq", "replay", "--reason", "bogus", *NOWHERE])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no dead-letter reason 'bogus'" in lines[0]
    assert "Traceback" not in result.output
