"""`frontdoor ooh watch` driven in a real terminal (tmux) against the running stack.

The view catches up on an item recorded before it opened, leads each row with the child (name,
address, police ref), shows a new IMMEDIATE item live with the terminal bell, after the one that
has waited longer; Enter shows the full reason; `a` asks, `u` undoes, then the acknowledgement
travels partner.events → intake → outofhours back to the view; `r` records an action of a chosen
kind; after a restart the view shows every item exactly once.
"""

from __future__ import annotations

import asyncio
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
from services.common.calendar import WorkingCalendar
from services.common.settings import Endpoints
from services.outofhours.config import OohSettings
from services.outofhours.domain.shifts import shift_of_night
from tests.conftest import ROOT, Workers, wait_until
from tests.factories import child_details, child_id, contact, envelope, to_line

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
        "FRONTDOOR_OOH_UNDO_SECONDS": str(UNDO_SECONDS),
    }


UNDO_SECONDS = 12
"""The watch's undo window here: one the test's polling cannot miss on a loaded machine."""

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
    """The item's two table lines (the first names the child), joined."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        if child in line:
            return " ".join(lines[i : i + 2])
    return ""


def known(child: str, at: datetime) -> dict[str, Any]:
    """A contact that tells the history who the child is: the family name is the child id, so a
    row can be found by it; the address is what the night worker needs."""
    event = contact(child, at=at)
    event["payload"]["child"] = {
        **child_details(), "family_name": child, "address": f"7 {child} Street, Rotherham S60 2AB",
    }  # fmt: skip
    return event


def bell_rang(tmux: Tmux, name: str) -> bool:
    return tmux.run("display-message", "-p", "-t", name, "#{window_bell_flag}").strip() == "1"


async def test_the_watch_catches_up_shows_new_items_live_and_acknowledges_them(
    endpoints: Endpoints, workers: Workers, tmux: Tmux
) -> None:
    workers.start("intake")
    workers.start("screening")
    workers.start("outofhours")
    db = await asyncpg.connect(endpoints.database_url)
    try:
        earlier, later = child_id(), child_id()
        # a fixed night a week ago (the view is told which with --night), so the test does not
        # depend on whether it runs at night or by day
        night = datetime.now(UTC).date() - timedelta(days=7)
        shift = shift_of_night(
            night, WorkingCalendar.england_and_wales(), OohSettings().office_hours()
        )
        first_at = shift.starts_at + timedelta(hours=6)
        watch = [*WATCH, "--night", night.isoformat()]
        await publish_lines(
            endpoints.bootstrap_servers,
            [
                to_line(known(earlier, first_at - timedelta(days=2))),
                to_line(known(later, first_at - timedelta(days=2))),
                to_line(protection(earlier, first_at)),
            ],
        )
        await wait_until(
            lambda: db.fetchval("SELECT 1 FROM ooh_crisis_items WHERE child_id = $1", earlier),
            timeout=90,
        )

        # caught up: recorded before the view opened; the row leads with who and where
        tmux.start("watch", watch, watch_env(endpoints))
        await showing(tmux, "watch", earlier)
        row = line_of(tmux.screen("watch"), earlier)
        assert "Street" in row
        assert "SYP-9" in row
        assert not bell_rang(tmux, "watch")

        # live: published while it is open — the bell rings and it is listed after the item
        # that has waited longer (oldest unacknowledged first)
        await publish_lines(
            endpoints.bootstrap_servers,
            [to_line(protection(later, first_at + timedelta(minutes=5)))],
        )
        screen = await showing(tmux, "watch", later, "NEW IMMEDIATE")
        assert "IMMEDIATE" in line_of(screen, later)
        assert screen.index(earlier) < screen.index(later)
        await wait_until(lambda: bell_rang(tmux, "watch"), timeout=10)

        # Enter on the new item: the detail pane, the whole reason in words
        tmux.keys("watch", *["Up"] * 20, "Down", "Enter")
        await showing(tmux, "watch", "72-hour limit", f"child id {later}", "Esc / Enter: close")
        tmux.keys("watch", "Escape")
        await wait_until(lambda: "Esc / Enter: close" not in tmux.screen("watch"), timeout=10)

        # `a` asks first; `u` undoes within the window and nothing is sent
        tmux.keys("watch", "a")
        await showing(tmux, "watch", "y: yes")
        tmux.keys("watch", "y")
        # the status line says so — or, when a newly arrived item's notice has already taken the
        # status line (the session's earlier tests can still be feeding the night), the row does
        await wait_until(
            lambda: any(t in tmux.screen("watch") for t in ("u to undo", "ack soon")), timeout=30
        )
        tmux.keys("watch", "u")
        # past the whole undo window: nothing was sent, the row is no longer pending
        await asyncio.sleep(UNDO_SECONDS + 3)
        assert "ack soon" not in tmux.screen("watch")
        assert await db.fetchval("SELECT count(*) FROM ooh_actions WHERE child_id = $1", later) == 0

        # `a`, `y` again and let it go: the acknowledgement travels round and shows
        tmux.keys("watch", "a")
        await showing(tmux, "watch", "y: yes")
        tmux.keys("watch", "y")
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

        # `r` on the other item (now the top row): the kind, what was done, then why
        tmux.keys("watch", *["Up"] * 20, "r")
        await showing(tmux, "watch", "Kind of action")
        await asyncio.sleep(0.5)  # let the prompt take focus before the first key
        tmux.keys("watch", "Down")  # one after police protection: emergency placement
        await asyncio.sleep(0.3)
        tmux.keys("watch", "Enter")
        tmux.type("watch", "Spoke to police; child taken to foster carer")
        tmux.keys("watch", "Enter")
        tmux.type("watch", "Parents could not be found overnight")
        tmux.keys("watch", "Enter")
        await showing(tmux, "watch", "ACK", line=earlier)
        action = await db.fetchrow("SELECT * FROM ooh_actions WHERE child_id = $1", earlier)
        assert action is not None
        assert action["summary"] == "Spoke to police; child taken to foster carer"
        assert action["decision_reason"] == "Parents could not be found overnight"
        assert action["kind"] == "emergency_placement"

        # closed and opened again: everything once, acknowledged
        tmux.keys("watch", "q")
        tmux.start("again", watch, watch_env(endpoints))
        screen = await showing(tmux, "again", later, earlier)
        rows = [line for line in screen.splitlines() if "IMMEDIATE" in line]  # a row's first line
        assert sum(later in row for row in rows) == 1
        assert sum(earlier in row for row in rows) == 1
        assert "ACK" in line_of(screen, later)
        assert "ACK" in line_of(screen, earlier)
    finally:
        await db.close()
