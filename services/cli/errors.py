"""How every ``frontdoor`` command fails: one line on stderr, never a traceback (issue 14).

- A usage error — an option typer/click refuses, a ``typer.BadParameter`` or ``UsageError`` a
  command raises, a date that is not a date, an output path that cannot be written — is one line
  ``frontdoor <command>: <what was wrong> (see 'frontdoor <command> --help')`` and exit code 2.
- A database or broker that cannot be reached (``services.common.failures.is_infrastructure``) is
  one line naming it and exit code 1.
- Anything else is a bug: one line naming the error and exit code 1; the traceback is written to a
  file whose path the line gives (``FRONTDOOR_DEBUG=1`` shows it in place instead).

``run`` is what ``frontdoor`` (``services.cli.main:main``) calls. The helpers below are the checks
commands share (a date option, a period, an output file or folder), each raising
``typer.BadParameter`` so the message names the option, and ``quiet_logs``, which keeps the log
lines of the code a command runs (a pool waiting for its database, aiokafka failing to connect)
from adding to that one line.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import typer
from typer._click import exceptions as click_exceptions
from typer.exceptions import Abort as TyperAbort

PROG = "frontdoor"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _where(exc: click_exceptions.UsageError) -> str:
    ctx = exc.ctx
    return ctx.command_path if ctx is not None else PROG


def _say(message: str) -> None:
    typer.secho(_one_line(message), fg="red", err=True)


def _crash_file(exc: BaseException) -> Path | None:
    try:
        fd, name = tempfile.mkstemp(prefix="frontdoor-error-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write("".join(traceback.format_exception(exc)))
        return Path(name)
    except OSError:
        return None


def run(app: Any, args: Sequence[str] | None = None) -> int:
    """Run the typer ``app``; the exit code, every failure already said in one line."""
    argv = list(sys.argv[1:] if args is None else args)
    try:
        rv = app(args=argv, prog_name=PROG, standalone_mode=False)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("FRONTDOOR_DEBUG") and not isinstance(
            exc, click_exceptions.ClickException
        ):
            raise
        return failed(exc, argv)
    return rv if isinstance(rv, int) else 0


def described(exc: BaseException) -> str:
    """``Name: text`` on one line (a KafkaError's own text already starts with its name)."""
    name, text = type(exc).__name__, _one_line(str(exc))
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__
    return found


def _unreachable(exc: Exception) -> tuple[str, str]:
    """Which server is away, when the error says (aiokafka's and asyncpg's own errors)."""
    import asyncpg
    from aiokafka.errors import KafkaError

    chain = _chain(exc)
    if any(isinstance(e, KafkaError) for e in chain):
        return "the broker", "--bootstrap / KAFKA_BOOTSTRAP_SERVERS"
    if any(isinstance(e, asyncpg.PostgresError | asyncpg.InterfaceError) for e in chain):
        return "the database", "--database / DATABASE_URL"
    return "the database or the broker", "--database / --bootstrap"


def _server_trouble(exc: Exception) -> str | None:
    """A server that cannot be reached, or a database that answered but refused (no such
    database, wrong password, no frontdoor tables), with what to do; ``None`` for a bug."""
    import asyncpg

    from services.common.failures import is_infrastructure

    if is_infrastructure(exc):
        server, options = _unreachable(exc)
        return (
            f"cannot reach {server} ({described(exc)}); check {options}, or start `frontdoor dev`"
        )
    if not isinstance(exc, asyncpg.PostgresError):
        return None
    state = exc.sqlstate or ""
    if state.startswith(("28", "3D")):  # authorisation, unknown database
        return f"the database refused the connection ({exc}); check --database"
    if state in ("42P01", "42883"):  # undefined table or function: not migrated
        return f"the database has no frontdoor tables yet ({exc}); run `frontdoor init`"
    return None


def _command_words(argv: Sequence[str]) -> list[str]:
    """``returns annex-a`` from ``returns annex-a --as-of …`` (not a file argument)."""
    words: list[str] = []
    for arg in argv[:2]:
        if not re.fullmatch(r"[a-z][a-z-]*", arg):
            break
        words.append(arg)
    return words


def failed(exc: Exception, argv: Sequence[str]) -> int:
    """Say what went wrong in one line; the exit code."""
    if isinstance(exc, click_exceptions.NoArgsIsHelpError):
        exc.show()  # the help text itself, as with no arguments anywhere
        return 2
    if isinstance(exc, click_exceptions.UsageError):
        where = _where(exc)
        _say(f"{where}: {exc.format_message()} (see '{where} --help')")
        return 2
    if isinstance(exc, click_exceptions.ClickException):
        _say(f"{PROG}: {exc.format_message()}")
        return exc.exit_code
    if isinstance(exc, TyperAbort):
        _say(f"{PROG}: aborted")
        return 1
    command = " ".join(_command_words(argv))
    if trouble := _server_trouble(exc):
        _say(f"{PROG} {command}: {trouble}")
        return 1
    saved = _crash_file(exc)
    where = f"; the details are in {saved}" if saved else ""
    _say(f"{PROG} {command}: unexpected error {type(exc).__name__}: {exc}{where}")
    return 1


def quiet_logs() -> None:
    """Log lines off for a command whose answer is its output and whose failure is the one line
    above: below ERROR unless ``FRONTDOOR_LOG_LEVEL`` asks for more; not at all for aiokafka's
    own connection errors (a broker away is said once, by name, by ``failed``) nor for asyncio's
    reports of what a failed command left behind as it exits (a client whose start failed,
    "Unclosed AIOKafkaProducer")."""
    import logging

    from services.common.logging import configure_logging  # at use: structlog is slow to import

    configure_logging(level=os.environ.get("FRONTDOOR_LOG_LEVEL", "ERROR"))
    for library in ("aiokafka", "asyncio"):
        logging.getLogger(library).setLevel(logging.CRITICAL)


def parse_day(value: str | None, option: str) -> date | None:
    """``YYYY-MM-DD`` or ``None``; anything else is a usage error naming ``option``."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; write it as YYYY-MM-DD (e.g. 2025-04-01)",
            param_hint=option,
        ) from None


def parse_period(value: str | None, option: str = "--period") -> tuple[date | None, date | None]:
    """``FROM..TO`` (either end may be left open: ``2025-04-01..``, ``..2025-06-30``)."""
    if value is None:
        return None, None
    first, sep, last = value.partition("..")
    if not sep or not (first or last):
        raise typer.BadParameter(
            f"{value!r} is not a period; write FROM..TO with dates YYYY-MM-DD "
            "(either end may be left open: 2025-04-01.. or ..2025-06-30)",
            param_hint=option,
        )
    start = parse_day(first, option) if first else None
    end = parse_day(last, option) if last else None
    if start and end and end < start:
        raise typer.BadParameter(f"{value!r} ends before it starts", param_hint=option)
    return start, end


def output_file(path: Path | None, option: str = "--out", *, overwrite: bool = False) -> None:
    """An output file must have an existing folder and (unless ``overwrite``) not exist yet."""
    if path is None:
        return
    if path.is_dir():
        raise typer.BadParameter(f"{str(path)!r} is a folder, not a file", param_hint=option)
    if not path.parent.is_dir():
        raise typer.BadParameter(
            f"the folder {str(path.parent)!r} does not exist; create it first", param_hint=option
        )
    if path.exists() and not overwrite:
        raise typer.BadParameter(
            f"{str(path)!r} already exists; choose another name or remove it first",
            param_hint=option,
        )


def output_folder(path: Path, option: str = "--out") -> None:
    """An output folder may exist (files in it are replaced) or be made in an existing parent."""
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{str(path)!r} exists and is not a folder", param_hint=option)
    if not path.exists() and not path.parent.is_dir():
        raise typer.BadParameter(
            f"the folder {str(path.parent)!r} does not exist; create it first", param_hint=option
        )
