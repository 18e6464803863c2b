"""The ``frontdoor dev`` supervisor: one process that owns the broker, the database and workers.

Workers run as child processes (``frontdoor worker <name>``). A worker that exits is restarted
with backoff. The embedded broker cannot be survived by any client (REFERENCE.md), so when it
exits the supervisor stops every worker, starts a fresh broker on the same port, recreates the
topics and starts the workers again; PostgreSQL keeps the truth. SIGINT/SIGTERM stop the workers
first, then the broker and the database, and remove the state file: no orphans.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

import structlog

from services.cli.stack import Infrastructure
from services.common.embedded import stop_process
from services.common.settings import state_path, write_state

log = structlog.get_logger(__name__)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0


@dataclass
class Supervisor:
    infra: Infrastructure
    children: list[Child]
    _stopping: bool = field(default=False)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.endpoints.bootstrap_servers,
            "DATABASE_URL": self.infra.endpoints.database_url,
            "FRONTDOOR_DATA_DIR": str(self.infra.data_dir),
        }

    def _start(self, child: Child) -> None:
        log_path = self.infra.data_dir / "logs" / f"{child.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:
            child.process = subprocess.Popen(
                child.argv,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        log.info("worker_started", worker=child.name, pid=child.process.pid, log=str(log_path))

    def _stop_children(self) -> None:
        for child in self.children:
            if child.process is not None:
                stop_process(child.process)
                child.process = None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("supervisor_stopping", signal=signal.Signals(signum).name)
        self._stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        write_state(self.infra.endpoints, pid=os.getpid(), data_dir=self.infra.data_dir)
        try:
            for child in self.children:
                self._start(child)
            while not self._stopping:
                self._tick()
                time.sleep(0.5)
        finally:
            self._stop_children()
            self.infra.stop()
            state_path(self.infra.data_dir).unlink(missing_ok=True)
            log.info("supervisor_stopped")
        return 0

    def _tick(self) -> None:
        broker = self.infra.broker
        if broker is not None and not broker.alive():
            log.error("broker_exited_restarting_everything", code=broker.process.returncode)
            self._stop_children()
            self.infra.restart_broker()
            for child in self.children:
                self._start(child)
            return
        now = time.monotonic()
        for child in self.children:
            proc = child.process
            if proc is not None and proc.poll() is None:
                continue
            if proc is not None:
                child.restarts += 1
                delay = min(2 ** min(child.restarts, 5), 30)
                child.next_start = now + delay
                log.warning(
                    "worker_exited", worker=child.name, code=proc.returncode, restart_in=delay
                )
                child.process = None
            if child.process is None and now >= child.next_start and child.argv:
                self._start(child)


def worker_argv(name: str) -> list[str]:
    return [sys.executable, "-m", "services.cli.main", "worker", name]
