"""`frontdoor dev` cleans up after itself, with real processes and no mocks.

A SIGKILLed supervisor leaves no process behind and the next start clears its stale state; a
taken port stops it in one line, exit code 2, before anything starts; a killed embedded
PostgreSQL comes back under the running supervisor; a broker exit restarts broker, topics and
every worker.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest

from schemas.topics import ALL_TOPICS
from services.common.embedded import free_port
from services.common.kafka import ensure_topics
from tests.conftest import ROOT, wait_until

pytestmark = pytest.mark.e2e


@dataclass
class Dev:
    proc: subprocess.Popen[bytes]
    data_dir: Path

    def record(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "processes.json").read_text()))

    def child_pid(self, name: str) -> int:
        return next(int(c["pid"]) for c in self.record()["children"] if c["name"] == name)

    def workers(self) -> dict[str, int]:
        infra = ("broker", "postgres")
        return {
            c["name"]: int(c["pid"]) for c in self.record()["children"] if c["name"] not in infra
        }

    def output(self) -> str:
        return (self.data_dir / "supervisor.out").read_text(errors="replace")

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "state.json").read_text()))


def dev_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    # fixed ports of our own, so a stack someone else runs on :8080/:8000 is no conflict
    env |= {
        "FRONTDOOR_DATA_DIR": str(data_dir),
        "FRONTDOOR_OPS_PORT": str(free_port()),
        "FRONTDOOR_INGRESS_PORT": str(free_port()),
        **extra,
    }
    return env


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # not under pytest's basetemp (see tests/conftest.py), and short enough for a Unix socket
    path = Path(tempfile.mkdtemp(prefix="frontdoor-sup-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_dev(data_dir: Path, *args: str, **extra_env: str) -> Dev:
    with (data_dir / "supervisor.out").open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "dev", *args],
            env=dev_env(data_dir, **extra_env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Dev(proc, data_dir)


def living(pids: set[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return sorted(out)


def everything_under(pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


@pytest.fixture
def dev_stack(data_dir: Path) -> Iterator[Dev]:
    """`frontdoor dev --no-demo` up (state file written); stopped with Ctrl-C afterwards."""
    dev = start_dev(data_dir, "--no-demo")
    try:
        deadline = time.monotonic() + 60
        while not (dev.data_dir / "state.json").exists():
            assert dev.proc.poll() is None, f"frontdoor dev exited with {dev.proc.returncode}"
            assert time.monotonic() < deadline, "frontdoor dev not up within 60 s"
            time.sleep(0.2)
        yield dev
    finally:
        under = everything_under(dev.proc.pid)
        if dev.proc.poll() is None:
            dev.proc.send_signal(signal.SIGINT)
        dev.proc.wait(60)
        deadline = time.monotonic() + 20
        while living(under) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert living(under) == []


async def test_a_sigkilled_supervisor_leaves_no_worker_feed_broker_or_postgres_behind(
    data_dir: Path,
) -> None:
    dev = start_dev(data_dir)
    try:
        await wait_until((dev.data_dir / "state.json").exists, timeout=60)
        under = everything_under(dev.proc.pid)  # workers, feed, broker, postmaster + backends
        names = {c["name"] for c in dev.record()["children"]}
        assert {"broker", "postgres", "intake", "ops", "ingress", "demo-feed"} <= names
        for name in ("broker", "postgres", "demo-feed", "intake"):
            assert dev.child_pid(name) in living(under), name
    finally:
        dev.proc.kill()  # SIGKILL: no finally, no atexit, no signal handler runs
        dev.proc.wait(10)
    deadline = time.monotonic() + 5
    while living(under) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = living(under)
    assert alive == [], [psutil.Process(p).cmdline() for p in alive]


async def test_the_next_start_after_a_sigkill_removes_the_stale_state_and_runs(
    data_dir: Path,
) -> None:
    first = start_dev(data_dir, "--no-demo")
    await wait_until((first.data_dir / "state.json").exists, timeout=60)
    first.proc.kill()
    first.proc.wait(10)
    assert first.state()["pid"] == first.proc.pid  # left behind, naming a dead supervisor
    second = start_dev(data_dir, "--no-demo")
    try:
        await wait_until(
            lambda: (
                (first.data_dir / "state.json").exists() and first.state()["pid"] == second.proc.pid
            ),
            timeout=60,
        )
        assert "stale_state_file_removed" in second.output()
    finally:
        second.proc.send_signal(signal.SIGINT)
        assert second.proc.wait(60) == 0
    assert not (first.data_dir / "state.json").exists()
    assert not (first.data_dir / "processes.json").exists()


def test_a_port_in_use_is_one_line_naming_port_and_holder_with_exit_code_2(
    data_dir: Path,
) -> None:
    port = free_port()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
            "print('listening', flush=True); time.sleep(120)",
            str(port),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"listening\n"
        result = subprocess.run(
            [sys.executable, "-m", "services.cli.main", "dev"],
            env=dev_env(data_dir, FRONTDOOR_OPS_PORT=str(port)),
            cwd=ROOT,
            capture_output=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.kill()
        holder.wait(5)
        holder.stdout.close()  # type: ignore[union-attr]
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert f"port {port} " in lines[0]
    assert f"pid {holder.pid} " in lines[0]
    assert "FRONTDOOR_OPS_PORT" in lines[0]
    assert "Traceback" not in result.stdout.decode()
    # before anything started: no database, no broker, no state
    assert sorted(p.name for p in data_dir.iterdir()) == []


async def test_killed_embedded_postgres_is_restarted_under_a_running_supervisor(
    dev_stack: Dev,
) -> None:
    dsn = dev_stack.state()["database_url"]
    first = dev_stack.child_pid("postgres")
    os.kill(first, signal.SIGKILL)

    async def answers_again() -> bool:
        if dev_stack.child_pid("postgres") == first:
            return False
        try:
            conn = await asyncpg.connect(dsn, timeout=2)
        except (OSError, asyncpg.PostgresError):
            return False
        try:
            # the same server, data intact: the migrations' tables are still there
            return await conn.fetchval("SELECT to_regclass('events') IS NOT NULL") is True
        finally:
            await conn.close()

    await wait_until(answers_again, timeout=30)
    assert dev_stack.proc.poll() is None
    assert psutil.Process(dev_stack.child_pid("postgres")).ppid() == dev_stack.proc.pid


async def test_broker_exit_restarts_broker_topics_and_every_worker(dev_stack: Dev) -> None:
    bootstrap = dev_stack.state()["bootstrap_servers"]
    broker, workers = dev_stack.child_pid("broker"), dev_stack.workers()
    os.kill(broker, signal.SIGKILL)

    def all_restarted() -> bool:
        now = dev_stack.workers()
        return dev_stack.child_pid("broker") != broker and all(
            name in now and now[name] != pid for name, pid in workers.items()
        )

    await wait_until(all_restarted, timeout=40)
    assert "broker_exited_restarting_everything" in dev_stack.output()
    assert dev_stack.state()["bootstrap_servers"] == bootstrap  # same port, same address
    # the fresh broker already has every topic: there is nothing left to create
    assert await ensure_topics(bootstrap, [(t.name, t.partitions) for t in ALL_TOPICS]) == []
