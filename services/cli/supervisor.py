"""The ``frontdoor dev`` supervisor: one process that owns the broker, the database and workers.

Workers and the demo feed run as child processes (``frontdoor worker <name>``). Invariant: none
of them, nor the broker or embedded PostgreSQL, outlives the supervisor — on Ctrl-C or SIGTERM
it stops them itself (workers in parallel, then broker and database) and removes its state
files; if it is SIGKILLed, each child receives its parent-death signal from the kernel
(``services.common.processes``), and the next ``frontdoor dev`` stops anything still recorded
in ``processes.json`` (``services.cli.leftovers``). Before starting anything it refuses, with
one line and exit code 2, a data directory another supervisor runs on and a fixed port another
process holds (``services.cli.listeners``).

A worker that exits is restarted with exponential backoff; a worker that ran healthy (stayed up)
for ``HEALTHY_AFTER_SECONDS`` starts its backoff again from the shortest delay. Embedded
PostgreSQL is supervised the same way: restarted on the same data directory and socket, so the
workers' reconnecting pools find it again. The embedded broker cannot be survived by any client
(REFERENCE.md), so when it exits the supervisor stops every worker (SIGTERM to all, one shared
deadline, SIGKILL to stragglers), starts a fresh broker on the same port, recreates the topics
and starts the workers again; PostgreSQL keeps the truth.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import structlog

from services.cli.leftovers import Recorded, clean_up_after_previous, record_path, write_record
from services.cli.listeners import FixedPort, ports_in_use
from services.cli.stack import Infrastructure
from services.common.embedded import stop_leftover_postmaster
from services.common.processes import ProcessIdentity, identity, identity_of, spawn, stop_all
from services.common.settings import state_path, write_state

log = structlog.get_logger(__name__)

#: A child that stayed up this long before exiting was healthy: its backoff starts again.
HEALTHY_AFTER_SECONDS = 60.0
#: How long stopped workers get, all together, between SIGTERM and SIGKILL.
STOP_TIMEOUT_SECONDS = 10.0
BACKOFF_CAP_SECONDS = 30.0
TICK_SECONDS = 0.5


class DevStartError(RuntimeError):
    """``frontdoor dev`` cannot start (port taken, another supervisor): one line, exit 2."""


def restart_delay(restarts: int) -> float:
    """Seconds before the n-th restart in a row: 2, 4, 8, 16, then 30 at most."""
    return float(min(2 ** min(max(restarts, 1), 5), BACKOFF_CAP_SECONDS))


def restarts_in_a_row(previous: int, ran_for: float, healthy_after: float) -> int:
    """The restart count after an exit: one that ran ``healthy_after`` seconds counts afresh."""
    return 1 if ran_for >= healthy_after else previous + 1


def healthy_after_from_env() -> float:
    """``FRONTDOOR_DEV_HEALTHY_AFTER_SECONDS`` (tests shorten it), else the default."""
    return float(os.environ.get("FRONTDOOR_DEV_HEALTHY_AFTER_SECONDS", HEALTHY_AFTER_SECONDS))


@dataclass
class Backoff:
    """When a supervised process last started, how many restarts in a row, when the next."""

    restarts: int = 0
    started_at: float = 0.0
    next_start: float = 0.0

    def started(self, now: float) -> None:
        self.started_at = now

    def exited(self, now: float, healthy_after: float) -> float:
        self.restarts = restarts_in_a_row(self.restarts, now - self.started_at, healthy_after)
        delay = restart_delay(self.restarts)
        self.next_start = now + delay
        return delay

    def due(self, now: float) -> bool:
        return now >= self.next_start


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    backoff: Backoff = field(default_factory=Backoff)


def worker_argv(name: str) -> list[str]:
    return [sys.executable, "-m", "services.cli.main", "worker", name]


def dev_ports(names: set[str]) -> dict[str, FixedPort]:
    """The fixed ports the dev stack's web services bind, by service, read from their own
    settings (what the workers read too: the same environment)."""
    ports: dict[str, FixedPort] = {}
    if "ops" in names:
        from services.ops.config import OpsSettings

        ops = OpsSettings()
        ports["ops"] = FixedPort("ops dashboard", ops.host, ops.port, "FRONTDOOR_OPS_PORT")
    if "ingress" in names:
        from services.ingress.config import IngressSettings

        ingress = IngressSettings()
        ports["ingress"] = FixedPort(
            "partner ingress", ingress.host, ingress.port, "FRONTDOOR_INGRESS_PORT"
        )
    return ports


def preflight(data_dir: Path, children: list[Child]) -> dict[str, FixedPort]:
    """Before anything starts: leftovers of a killed supervisor stopped, fixed ports free; the
    web services' ports, by service (for the state file's ``<service>_url`` and the banner).

    Leftovers first: an orphaned ops worker of a killed supervisor may be what holds :8080.
    Then an orphaned postmaster on the data directory (from a frontdoor that ran it through
    ``pg_ctl``), so that one running under a live process is refused here, in one line.
    """
    try:
        clean_up_after_previous(data_dir)
        stop_leftover_postmaster(data_dir / "pgdata")
        ports = dev_ports({c.name for c in children})
    except RuntimeError as exc:
        raise DevStartError(str(exc)) from exc
    except ValueError as exc:  # a service's settings do not validate (pydantic)
        raise DevStartError(" ".join(str(exc).split())) from exc
    taken = ports_in_use(list(ports.values()))
    if taken:
        raise DevStartError("; ".join(taken))
    return ports


@dataclass
class Supervisor:
    infra: Infrastructure
    children: list[Child]
    healthy_after: float = field(default_factory=healthy_after_from_env)
    stop_timeout: float = STOP_TIMEOUT_SECONDS
    postgres_backoff: Backoff = field(default_factory=Backoff)
    broker_backoff: Backoff = field(default_factory=Backoff)
    _postgres_down: bool = False
    _broker_down: bool = False
    _stopping: bool = False
    _me: ProcessIdentity | None = None
    state_extra: dict[str, str] = field(default_factory=dict)
    """More for the state file (``frontdoor dev``'s local ops key)."""

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.endpoints.bootstrap_servers,
            "DATABASE_URL": self.infra.endpoints.database_url,
            "FRONTDOOR_DATA_DIR": str(self.infra.data_dir),
        }

    def record(self) -> None:
        """Rewrite ``processes.json``: who we are and every child now running."""
        if self._me is None:
            self._me = identity(os.getpid())
        if self._me is None:  # /proc always shows the running process
            return
        records: list[Recorded] = []
        broker, postgres = self.infra.broker, self.infra.postgres
        if broker is not None:
            records.append(Recorded("broker", identity_of(broker.process, broker.argv)))
        if postgres is not None:
            who = identity_of(postgres.process, postgres.argv)
            records.append(Recorded("postgres", who, signal.SIGINT))
        records += [
            Recorded(c.name, identity_of(c.process, c.argv))
            for c in self.children
            if c.process is not None
        ]
        write_record(self.infra.data_dir, self._me, records)

    def _start(self, child: Child) -> None:
        log_path = self.infra.data_dir / "logs" / f"{child.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:
            # SIGKILL on the supervisor's death: the embedded broker dies with it, so there is
            # nothing left for a graceful stop to commit to, and a worker busy retrying a dead
            # broker could take its time over SIGTERM
            child.process = spawn(
                child.argv, env=self.env(), stdout=out, death_signal=signal.SIGKILL
            )
        child.backoff.started(time.monotonic())
        log.info("worker_started", worker=child.name, pid=child.process.pid, log=str(log_path))

    def _stop_children(self) -> None:
        running = [c for c in self.children if c.process is not None]
        killed = stop_all(
            [c.process for c in running if c.process is not None], timeout=self.stop_timeout
        )
        for child in running:
            if child.process in killed:
                log.warning("worker_killed_after_timeout", worker=child.name)
            child.process = None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("supervisor_stopping", signal=signal.Signals(signum).name)
        self._stopping = True

    def run(self, *, on_ready: Callable[[], None] | None = None) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self.broker_backoff.started(time.monotonic())
            self.postgres_backoff.started(time.monotonic())
            for child in self.children:
                self._start(child)
            self.record()
            write_state(
                self.infra.endpoints,
                pid=os.getpid(),
                data_dir=self.infra.data_dir,
                extra=self.state_extra,
            )
            if on_ready is not None:
                on_ready()
            while not self._stopping:
                self._tick()
                time.sleep(TICK_SECONDS)
        finally:
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        """Workers first (in parallel), then the broker and the database, then the files."""
        self._stop_children()
        self.infra.stop()
        state_path(self.infra.data_dir).unlink(missing_ok=True)
        record_path(self.infra.data_dir).unlink(missing_ok=True)
        log.info("supervisor_stopped")

    def _tick(self) -> None:
        now = time.monotonic()
        broker = self.infra.broker
        if broker is not None and (self._broker_down or not broker.alive()):
            self._recover_broker(broker.process.returncode, now)
            return
        self._watch_postgres(now)
        started = False
        for child in self.children:
            proc = child.process
            if proc is not None and proc.poll() is None:
                continue
            if proc is not None:
                delay = child.backoff.exited(now, self.healthy_after)
                log.warning(
                    "worker_exited", worker=child.name, code=proc.returncode, restart_in=delay
                )
                child.process = None
            if child.backoff.due(now) and child.argv:
                self._start(child)
                started = True
        if started:
            self.record()

    def _recover_broker(self, code: int | None, now: float) -> None:
        """No client survives a broker restart: stop them all, new broker and topics, start."""
        if not self._broker_down:
            self._broker_down = True
            delay = self.broker_backoff.exited(now, self.healthy_after)
            log.error("broker_exited_restarting_everything", code=code, restart_in=delay)
            self._stop_children()
        if not self.broker_backoff.due(now):
            return
        self.broker_backoff.started(now)
        try:
            self.infra.restart_broker()
        except Exception:
            delay = self.broker_backoff.exited(time.monotonic(), self.healthy_after)
            log.exception("broker_restart_failed", restart_in=delay)
            return
        self._broker_down = False
        for child in self.children:
            child.backoff = Backoff()
            self._start(child)
        self.record()

    def _watch_postgres(self, now: float) -> None:
        postgres = self.infra.postgres
        if postgres is None or postgres.alive():
            return
        if not self._postgres_down:
            self._postgres_down = True
            delay = self.postgres_backoff.exited(now, self.healthy_after)
            log.error("postgres_exited", code=postgres.process.returncode, restart_in=delay)
        if not self.postgres_backoff.due(now):
            return
        self.postgres_backoff.started(now)
        try:
            self.infra.restart_postgres()
        except Exception:
            delay = self.postgres_backoff.exited(time.monotonic(), self.healthy_after)
            log.exception("postgres_restart_failed", restart_in=delay)
            return
        self._postgres_down = False
        log.info("postgres_restarted", pid=self.infra.postgres.pid if self.infra.postgres else None)
        self.record()
