"""The README's command block, parsed and run against a running demo stack (issue 14).

``readme_commands`` reads the first ``sh`` block of README.md's "Commands" section and turns each
line into the commands it documents: the comment is dropped, ``a | b | c`` alternatives become
separate commands (an alternative without the group word gets the first one's, so
``agencies add police | rotate ID`` is ``agencies add police`` then ``agencies rotate ID``),
``[--optional]`` parts are left out (the default form is what a reader tries first) and
``<a|b>`` choices take the first. ``ID`` is the credential the group's own ``add`` printed,
``CHILD…`` a child of the demo. Only what never returns by design is not run: ``dev`` (it is
the stack under test), ``worker`` (a service process) and ``ooh watch`` (a full-screen view,
driven in tmux by test_ooh_watch.py) — ``LONG_RUNNING`` names them, so a new command cannot
slip out of the check unnoticed.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = (("dev",), ("worker",), ("ooh", "watch"))


@dataclass(frozen=True)
class Ran:
    argv: tuple[str, ...]
    code: int
    out: str


def readme_commands(readme: Path = ROOT / "README.md") -> list[list[str]]:
    text = readme.read_text(encoding="utf-8")
    section = text.split("\n## Commands", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands: list[list[str]] = []
    for raw in block.strip().splitlines():
        line = raw.split("  #", 1)[0].strip()
        line = re.sub(r"^(\.venv/bin/)?frontdoor\s*", "", line)
        line = re.sub(r"\s*\[[^\]]*\]", "", line)
        line = re.sub(r"<([^|>]+)[^>]*>", r"\1", line)
        group: str | None = None
        for alternative in (a.strip() for a in line.split(" | ")):
            words = shlex.split(alternative)
            if not words:
                continue
            if group is None:
                group = words[0]
            elif words[0] not in top_level():
                words = [group, *words]
            commands.append(words)
    return commands


def top_level() -> set[str]:
    """The command names ``frontdoor`` itself knows (its click group's commands and groups)."""
    import typer

    from services.cli.main import app

    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


def long_running(words: list[str]) -> bool:
    return any(tuple(words[: len(prefix)]) == prefix for prefix in LONG_RUNNING)


def run_all(env: dict[str, str], cwd: Path, *, child: str) -> list[Ran]:
    """Run every README command (in order) in ``cwd``; the results, skipped ones left out."""
    ran: list[Ran] = []
    credentials: dict[str, str] = {}  # per group: `agencies rotate ID` takes its own add's ID
    for words in readme_commands():
        if long_running(words):
            continue
        argv = [credentials.get(words[0], "ID") if w == "ID" else w for w in words]
        argv = [child if w in ("CHILD…", "CHILD...") else w for w in argv]
        done = subprocess.run(
            [sys.executable, "-m", "services.cli.main", *argv],
            env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        out = done.stdout + done.stderr
        if argv[1:2] == ["add"]:
            found = re.search(r"Credential (\S+) for", out)
            if found:
                credentials[argv[0]] = found.group(1)
        ran.append(Ran(tuple(argv), done.returncode, out))
    return ran
