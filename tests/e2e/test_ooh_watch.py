"""`frontdoor ooh watch` driven in a real terminal (tmux) against the running stack.

The view catches up on an item recorded before it opened, shows a new item live, acknowledges it
with `a` (the acknowledgement travels partner.events → intake → outofhours back to the view),
records an action with `r`, and after a restart shows every item exactly once.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.cli.replay import publish_lines
from services.common.settings import Endpoints
from tests.conftest import ROOT, Workers, wait_until
from tests.factories import child_id, envelope, to_line

pytestmark = pytest.mark.e2e

TMUX = shutil.which("tmux")


class Tmux:
    """One private tmux server (its own socket) holding the watch view's terminal."""

    def __init__(self, tmux: str) -> None:
        self.tmux = tmux
        self.socket = f"frontdoor-test-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [self.tmux, "-u", "-L", self.socket, *args],
            capture_output=True, text=True, check=True, timeout=20,
        )  # fmt: skip
        return done.stdout

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        command = shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), *argv])
        self.run("new-session", "-d", "-s", name, "-x", "200", "-y", "40", command)
        self.run("set-option", "-t", name, "remain-on-exit", "on")

    def keys(self, name: str, *keys: str) -> None:
        self.run("send-keys", "-t", name, *keys)

    def type(self, name: str, text: str) -> None:
        self.run("send-keys", "-t", name, "-l", text)

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name)

    def stop(self) -> None:
        subprocess.run(
            [self.tmux, "-L", self.socket, "kill-server"], capture_output=True, check=False
        )


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    if TMUX is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is needed to drive the watch view in a terminal")
        pytest.skip("tmux is not installed")
    terminal = Tmux(TMUX)
    yield terminal
    terminal.stop()


def protection(child: str, at: datetime) -> dict[str, Any]:
    return envelope(
        "police.protection_started", 1,
        {"protection_id": str(uuid.uuid4()), "started_at": at.isoformat(),
         "police_ref": "SYP-9", "summary": "Found wandering at night."},
        child=child, agency="police", at=at,
    )  # fmt: skip


def watch_env(endpoints: Endpoints) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "DATABASE_URL": endpoints.database_url,
        "LANG": "C.UTF-8",
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),
    }


WATCH = [sys.executable, "-m", "services.cli.ooh", "watch", "--worker", "EDT09"]


async def showing(tmux: Tmux, name: str, *texts: str, line: str | None = None) -> str:
    """Wait until the screen shows every text (on ``line``'s row when given); the screen."""

    def shown() -> bool:
        screen = tmux.screen(name)
        where = line_of(screen, line) if line else screen
        return all(text in where for text in texts)

    try:
        await wait_until(shown, timeout=30)
    except AssertionError as exc:
        raise AssertionError(f"{texts} not shown; the screen:\n{tmux.screen(name)}") from exc
    return tmux.screen(name)


def line_of(screen: str, child: str) -> str:
    lines = [line for line in screen.splitlines() if child in line]
    return lines[0] if lines else ""


async def test_the_watch_catches_up_shows_new_items_live_and_acknowledges_them(
    endpoints: Endpoints, workers: Workers, tmux: Tmux
) -> None:
    workers.start("intake")
    workers.start("screening")
    workers.start("outofhours")
    db = await asyncpg.connect(endpoints.database_url)
    try:
        earlier, later = child_id(), child_id()
        now = datetime.now(UTC)
        await publish_lines(
            endpoints.bootstrap_servers, [to_line(protection(earlier, now - timedelta(minutes=3)))]
        )
        await wait_until(
            lambda: db.fetchval("SELECT 1 FROM ooh_crisis_items WHERE child_id = $1", earlier),
            timeout=90,
        )

        # caught up: recorded before the view opened
        tmux.start("watch", WATCH, watch_env(endpoints))
        await showing(tmux, "watch", earlier)

        # live: published while it is open
        await publish_lines(
            endpoints.bootstrap_servers, [to_line(protection(later, datetime.now(UTC)))]
        )
        await showing(tmux, "watch", later)
        assert "IMMEDIATE" in line_of(tmux.screen("watch"), later)

        # `a` on the newest item (the top row)
        tmux.keys("watch", *["Up"] * 20)
        tmux.keys("watch", "a")
        await showing(tmux, "watch", "ACK", line=later)
        assert "EDT09" in line_of(tmux.screen("watch"), later)
        assert "ACK" not in line_of(tmux.screen("watch"), earlier)
        recorded = await db.fetchrow(
            "SELECT e.source_agency, a.kind FROM ooh_actions a JOIN events e USING (event_id)"
            " WHERE a.child_id = $1",
            later,
        )
        assert recorded is not None
        assert (recorded["source_agency"], recorded["kind"]) == ("ooh", "acknowledged")

        # `r` on the other item: what was done, then why
        tmux.keys("watch", "Down", "r")
        await showing(tmux, "watch", "What was done")
        tmux.type("watch", "Spoke to police; child taken to foster carer")
        tmux.keys("watch", "Enter")
        tmux.type("watch", "Parents could not be found overnight")
        tmux.keys("watch", "Enter")
        await showing(tmux, "watch", "ACK", line=earlier)
        action = await db.fetchrow("SELECT * FROM ooh_actions WHERE child_id = $1", earlier)
        assert action is not None
        assert action["summary"] == "Spoke to police; child taken to foster carer"
        assert action["decision_reason"] == "Parents could not be found overnight"

        # closed and opened again: everything once, acknowledged
        tmux.keys("watch", "q")
        tmux.start("again", WATCH, watch_env(endpoints))
        screen = await showing(tmux, "again", later, earlier)
        assert screen.count(later) == 1
        assert screen.count(earlier) == 1
        assert "ACK" in line_of(screen, later)
        assert "ACK" in line_of(screen, earlier)
    finally:
        await db.close()
