"""services/cli/errors.py: how a failure becomes one line and an exit code, and the shared checks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import typer

from services.cli import errors


def _app(exc: BaseException) -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.command()
    def boom(n: int = 1) -> None:
        raise exc

    @app.command()
    def fine() -> None:
        typer.echo("ok")

    return app


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_a_bug_is_one_line_and_its_traceback_goes_to_a_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FRONTDOOR_DEBUG", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    code = errors.run(_app(KeyError("lost")), ["boom"])

    (line,) = _lines(capsys)
    assert code == 1
    assert line.startswith("frontdoor boom: unexpected error KeyError: 'lost'; the details are in ")
    (saved,) = tmp_path.glob("frontdoor-error-*.txt")
    assert "Traceback" in saved.read_text()
    assert "KeyError: 'lost'" in saved.read_text()


def test_frontdoor_debug_shows_the_traceback_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDOOR_DEBUG", "1")
    with pytest.raises(KeyError):
        errors.run(_app(KeyError("lost")), ["boom"])


def test_a_server_away_is_exit_code_1_and_a_usage_error_exit_code_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FRONTDOOR_DEBUG", raising=False)
    assert errors.run(_app(ConnectionRefusedError(111, "refused")), ["boom"]) == 1
    (line,) = _lines(capsys)
    assert "cannot reach the database or the broker (ConnectionRefusedError" in line

    assert errors.run(_app(typer.BadParameter("no good", param_hint="--n")), ["boom"]) == 2
    (line,) = _lines(capsys)
    assert line == "frontdoor boom: Invalid value for --n: no good (see 'frontdoor boom --help')"

    assert errors.run(_app(ValueError()), ["boom", "--n", "x"]) == 2
    (line,) = _lines(capsys)
    assert "'--n'" in line
    assert "frontdoor boom --help" in line

    assert errors.run(_app(ValueError()), ["fine"]) == 0
    assert errors.run(_app(typer.Exit(3)), ["boom"]) == 3


def test_the_command_named_is_never_a_file_argument() -> None:
    assert errors._command_words(["replay", "/tmp/x.png"]) == ["replay"]
    assert errors._command_words(["returns", "annex-a", "--as-of", "x"]) == ["returns", "annex-a"]


def test_dates_and_periods() -> None:
    assert errors.parse_day("2025-04-01", "--as-of") == date(2025, 4, 1)
    assert errors.parse_day(None, "--as-of") is None
    with pytest.raises(typer.BadParameter, match="YYYY-MM-DD"):
        errors.parse_day("01/04/2025", "--as-of")


def test_output_paths(tmp_path: Path) -> None:
    taken = tmp_path / "taken.xml"
    taken.write_text("x")
    errors.output_file(tmp_path / "new.xml")
    errors.output_file(taken, overwrite=True)
    errors.output_folder(tmp_path / "new-folder")
    errors.output_folder(tmp_path)
    with pytest.raises(typer.BadParameter, match="already exists"):
        errors.output_file(taken)
    with pytest.raises(typer.BadParameter, match="is a folder"):
        errors.output_file(tmp_path)
    with pytest.raises(typer.BadParameter, match="does not exist"):
        errors.output_file(tmp_path / "no" / "x.xml")
    with pytest.raises(typer.BadParameter, match="not a folder"):
        errors.output_folder(taken)
    with pytest.raises(typer.BadParameter, match="does not exist"):
        errors.output_folder(tmp_path / "no" / "deeper")
