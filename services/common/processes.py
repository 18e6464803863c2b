"""Child processes that cannot outlive the process that started them, and how to stop many at once.

``spawn`` starts a child with Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``): when the
process that started it dies — even by SIGKILL, when no ``finally`` or ``atexit`` runs — the
kernel sends the child the chosen signal. The signal is set in the child between ``fork`` and
``exec`` (after any change of user, which would clear it), and the child checks that its parent
is still the one that forked it, so a parent dying during the fork is not missed. It reaches
direct children only: a child that daemonises (``pg_ctl``) escapes it, which is why embedded
PostgreSQL runs ``postgres`` in the foreground (``services.common.embedded``).

``stop_all`` stops several children with one shared deadline: the stop signal to every one, one
wait for all, SIGKILL for the stragglers — so stopping eight workers takes as long as the slowest,
not the sum. ``identity`` and ``same_process`` read ``/proc`` so a recorded pid is only ever
signalled while it is still the process that was recorded (pid, start time and command line).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PROC = Path("/proc")


@cache
def _prctl() -> Callable[..., int] | None:
    # resolved in the parent: looking a symbol up after fork (in the child) is not safe
    libc = ctypes.CDLL(None, use_errno=True)
    prctl: Callable[..., int] | None = getattr(libc, "prctl", None)  # Linux only
    return prctl


def _die_with_parent(death_signal: int) -> Callable[[], None] | None:
    """The preexec hook; ``None`` where there is no prctl (not Linux): only the record is left."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0) != 0:
            os._exit(71)  # EX_OSERR: never run a child we could not tie to its parent
        if os.getppid() != parent:  # the parent died before the line above took effect
            os.kill(os.getpid(), death_signal)

    return preexec


@cache
def _spawner() -> ThreadPoolExecutor:
    # one thread that lives as long as the process: its idle worker is never retired
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="frontdoor-spawner")


def spawn(
    argv: Sequence[str],
    *,
    death_signal: int = signal.SIGTERM,
    env: Mapping[str, str] | None = None,
    stdout: IO[bytes] | int | None = None,
    user: str | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, to receive ``death_signal`` when this process dies.

    Its own session keeps a terminal's Ctrl-C (sent to the foreground process group) away from
    the children: the supervisor stops them itself, in order. The kernel ties the parent-death
    signal to the *thread* that forked, not the process, so a child started from a short-lived
    thread (``asyncio.to_thread``) would be killed when that thread ends: off the main thread,
    the fork is handed to one spawner thread that lives as long as the process.
    """

    def popen() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
            start_new_session=True,
            user=user,
            cwd=cwd,
            # only a preexec hook can set the parent-death signal; it calls nothing but prctl,
            # getppid and kill, all safe between fork and exec
            preexec_fn=_die_with_parent(death_signal),  # noqa: PLW1509
        )

    if threading.current_thread() is threading.main_thread():
        return popen()
    return _spawner().submit(popen).result()


def stop_all(
    procs: Sequence[subprocess.Popen[bytes]],
    *,
    timeout: float = 10.0,
    stop_signal: int = signal.SIGTERM,
) -> list[subprocess.Popen[bytes]]:
    """Signal every live process, wait for all with one deadline, SIGKILL the stragglers.

    Returns the processes that had to be killed.
    """
    live = [p for p in procs if p.poll() is None]
    for proc in live:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(stop_signal)
    deadline = time.monotonic() + timeout
    for proc in live:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, deadline - time.monotonic()))
    stragglers = [p for p in live if p.poll() is None]
    for proc in stragglers:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    for proc in stragglers:
        proc.wait(5)
    return stragglers


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: never leaves an orphan behind."""
    stop_all([proc], timeout=timeout)


@dataclass(frozen=True)
class ProcessIdentity:
    """What names one process for the whole boot: a pid alone is reused, pid + start time is not."""

    pid: int
    start_ticks: int
    argv: tuple[str, ...]


def start_ticks(stat_line: str) -> int:
    """Field 22 of ``/proc/<pid>/stat`` (start time, clock ticks after boot).

    The command name (field 2) is in parentheses and may itself hold spaces and parentheses,
    so the fields are counted from the last ``)``.
    """
    fields = stat_line[stat_line.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22 is the 20th after "(comm)"


def _state(stat_line: str) -> str:
    return stat_line[stat_line.rindex(")") + 2 :].split(maxsplit=1)[0]


def parent_pid(pid: int) -> int | None:
    """Field 4 of ``/proc/<pid>/stat``; ``None`` if the process is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def identity(pid: int) -> ProcessIdentity | None:
    """The running process ``pid`` as ``/proc`` shows it; ``None`` if gone or a zombie."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if _state(stat) in ("Z", "X"):
        return None
    argv = tuple(a.decode(errors="replace") for a in raw.split(b"\0")[:-1])
    return ProcessIdentity(pid=pid, start_ticks=start_ticks(stat), argv=argv)


def identity_of(proc: subprocess.Popen[bytes], argv: Sequence[str]) -> ProcessIdentity:
    """The identity of a child just spawned with ``argv`` (its start time read from /proc)."""
    try:
        ticks = start_ticks((PROC / str(proc.pid) / "stat").read_text())
    except FileNotFoundError:
        ticks = -1  # already gone and reaped: nothing will ever match it
    return ProcessIdentity(pid=proc.pid, start_ticks=ticks, argv=tuple(argv))


def same_process(recorded: ProcessIdentity) -> bool:
    """Is ``recorded`` still running as itself (same pid, start time and command line)?"""
    now = identity(recorded.pid)
    return now is not None and now == recorded


def alive(pid: int) -> bool:
    return identity(pid) is not None


def stop_recorded(
    targets: Sequence[tuple[ProcessIdentity, int]], *, timeout: float = 10.0
) -> list[ProcessIdentity]:
    """Stop processes that are not our children (no ``wait``): signal each, poll, SIGKILL.

    ``targets`` pairs each identity with its stop signal. Only processes that are still exactly
    the recorded ones are signalled; returns those that were.
    """
    mine = [(who, sig) for who, sig in targets if same_process(who)]
    for who, sig in mine:
        with contextlib.suppress(ProcessLookupError):
            os.kill(who.pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(same_process(who) for who, _ in mine):
        time.sleep(0.05)
    for who, _ in mine:
        if same_process(who):
            with contextlib.suppress(ProcessLookupError):
                os.kill(who.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(same_process(who) for who, _ in mine):
        time.sleep(0.05)
    return [who for who, _ in mine]
