"""`frontdoor dev` as a developer runs it: everything up, the demo feed flowing, Ctrl-C clean."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from services.common.embedded import free_port
from tests.conftest import ROOT, wait_until
from tests.e2e.readme_commands import run_all

pytestmark = pytest.mark.e2e


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


async def test_dev_runs_everything_and_ctrl_c_leaves_no_process_behind() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="frontdoor-dev-"))
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env["FRONTDOOR_DATA_DIR"] = str(data_dir)
    # ports of its own: `frontdoor dev` refuses to start when :8080 or :8000 is taken
    env["FRONTDOOR_OPS_PORT"] = str(free_port())
    env["FRONTDOOR_INGRESS_PORT"] = str(free_port())
    ops = f"http://127.0.0.1:{env['FRONTDOOR_OPS_PORT']}"
    ingress = f"http://127.0.0.1:{env['FRONTDOOR_INGRESS_PORT']}"
    printed = data_dir / "dev-stdout.txt"  # a file, not a pipe: nobody reads it while it runs
    with printed.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "dev"],
            env=env,
            cwd=ROOT,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
    tracked: list[psutil.Process] = []
    try:
        state_file = data_dir / "state.json"
        await wait_until(state_file.exists, timeout=60)
        state = json.loads(state_file.read_text())
        assert state["pid"] == proc.pid
        # the state file says where the web services listen; the banner, every address
        assert (state["ops_url"], state["ingress_url"]) == (ops, ingress)
        banner = str(
            await wait_until(lambda: "Ctrl-C" in printed.read_text() and printed.read_text())
        )
        for address in (f"{ops}/", f"{ops}/docs", f"{ingress}/", f"{ingress}/docs"):
            assert any(line.endswith(f" {address}") for line in banner.splitlines()), banner
        assert f"{data_dir / 'logs'}/" in banner
        assert str(state_file) in banner

        async def demo_events_recorded() -> int:
            conn = await asyncpg.connect(state["database_url"])
            try:
                return int(await conn.fetchval("SELECT count(*) FROM events"))
            finally:
                await conn.close()

        # the demo feed's history goes through intake into the database
        await wait_until(lambda: _more_than(demo_events_recorded(), 100), timeout=120)
        tracked = descendants(proc.pid)
        names = " ".join(" ".join(p.cmdline()) for p in tracked)
        assert "tansu" in names
        assert "worker intake" in names
        # embedded PostgreSQL runs in the foreground as the supervisor's child (no pg_ctl)
        postmaster = psutil.Process(
            int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
        )
        assert postmaster.is_running()
        assert postmaster.ppid() == proc.pid
        tracked.append(postmaster)

        # another command finds the running stack by itself (no flags, no env)
        listing = subprocess.run(
            [sys.executable, "-m", "services.cli.main", "dlq", "list", "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            timeout=60,
            check=True,
        )
        assert isinstance(json.loads(listing.stdout), list)

        # `frontdoor lag` finds the ops service on its own port through the state file alone
        # (no FRONTDOOR_OPS_PORT / _URL), and the printed docs answer
        lag_env = {k: v for k, v in env.items() if not k.startswith("FRONTDOOR_OPS_")}
        lag = await wait_until(lambda: _lag_from_ops_service(lag_env), timeout=60)
        assert lag["bootstrap_servers"] == state["bootstrap_servers"]  # type: ignore[index]
        key = {"Authorization": f"Bearer {state['ops_key']}"}
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(f"{ops}/docs", headers=key)).status_code == 200
            assert (await client.get(f"{ingress}/docs")).status_code == 200

        # every command of the README's block, as a reader runs them against the demo
        child = await _a_referred_child(state["database_url"])
        work = Path(tempfile.mkdtemp(prefix="frontdoor-readme-"))
        ran = run_all(env, work, child=child)
        assert len(ran) >= 20
        failed = [(r.argv, r.code, r.out[-400:]) for r in ran if r.code != 0]
        assert failed == []
        assert all("Traceback" not in r.out for r in ran)
        outputs = {r.argv: r.out for r in ran}
        census = next(out for argv, out in outputs.items() if argv[:2] == ("returns", "cin-census"))
        found = re.search(r"(\d+) children in the return, (\d+) left out", census)
        assert found, census
        # the simulator leaves about one child in nine without its disability (rule 8540, on
        # purpose); the demo is a census, not a gap list
        assert int(found.group(1)) > 4 * int(found.group(2))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
        p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tracked
    ):
        await asyncio.sleep(0.2)
    alive = [p for p in tracked if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [p.cmdline() for p in alive]
    assert not (data_dir / "state.json").exists()


def _lag_from_ops_service(env: dict[str, str]) -> dict[str, object] | None:
    """``frontdoor lag --json``'s document when the ops service gave it (it has polled)."""
    result = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "lag", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=True,
    )
    doc: dict[str, object] = json.loads(result.stdout)
    return doc if doc.get("source") == "ops-service" else None


async def _a_referred_child(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        child = await conn.fetchval(
            "SELECT child_id FROM events WHERE event_type = 'referral.accepted' "
            "ORDER BY occurred_at LIMIT 1"
        )
    finally:
        await conn.close()
    assert isinstance(child, str)
    return child


async def _more_than(awaitable: object, n: int) -> bool:
    return await awaitable > n  # type: ignore[misc,operator]
