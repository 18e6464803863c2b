"""What a killed ``frontdoor dev`` may leave behind: recorded while it runs, stopped by the next.

The parent-death signal (``services.common.processes``) already ends every child the moment
the supervisor dies. This is the second line of defence. While it runs, the supervisor keeps
``processes.json`` in the data directory: its own identity and each child's (pid, start time,
command line) with the signal that stops it, rewritten on every (re)start. The next
``frontdoor dev`` on that directory reads it first. A supervisor still running there is an
error: two supervisors would share one PostgreSQL data directory. A dead one's children are
stopped, but only those still verifiably the recorded processes — same pid, same start time,
same command line — so a pid the kernel has since given to something else is never signalled.
A ``state.json`` whose supervisor is gone is removed, so no command mistakes it for a stack.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from services.common.processes import ProcessIdentity, identity, same_process, stop_recorded
from services.common.settings import state_path

log = structlog.get_logger(__name__)

RECORD_FILE = "processes.json"


class AlreadyRunningError(RuntimeError):
    """Another ``frontdoor dev`` is running on this data directory."""


@dataclass(frozen=True)
class Recorded:
    """A child the supervisor started: its name, identity and the signal that stops it."""

    name: str
    who: ProcessIdentity
    stop_signal: int = signal.SIGTERM


def record_path(data_dir: Path) -> Path:
    return data_dir / RECORD_FILE


def _identity_json(who: ProcessIdentity) -> dict[str, Any]:
    return {"pid": who.pid, "start_ticks": who.start_ticks, "argv": list(who.argv)}


def _identity(data: dict[str, Any]) -> ProcessIdentity:
    return ProcessIdentity(
        pid=int(data["pid"]),
        start_ticks=int(data["start_ticks"]),
        argv=tuple(str(a) for a in data["argv"]),
    )


def encode_record(supervisor: ProcessIdentity, children: Sequence[Recorded]) -> str:
    return json.dumps(
        {
            "supervisor": _identity_json(supervisor),
            "children": [
                {"name": c.name, "stop_signal": int(c.stop_signal), **_identity_json(c.who)}
                for c in children
            ],
        },
        indent=1,
    )


def decode_record(text: str) -> tuple[ProcessIdentity, list[Recorded]]:
    data = json.loads(text)
    children = [
        Recorded(name=str(c["name"]), who=_identity(c), stop_signal=int(c["stop_signal"]))
        for c in data["children"]
    ]
    return _identity(data["supervisor"]), children


def write_record(data_dir: Path, supervisor: ProcessIdentity, children: Sequence[Recorded]) -> None:
    path = record_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(encode_record(supervisor, children))
    tmp.replace(path)


def looks_like_dev_supervisor(argv: Sequence[str]) -> bool:
    """``frontdoor dev …`` or ``python -m services.cli.main dev …``."""
    for i, arg in enumerate(argv):
        if Path(arg).name == "frontdoor" or arg == "services.cli.main":
            return "dev" in argv[i + 1 :]
    return False


def clean_up_after_previous(data_dir: Path) -> list[Recorded]:
    """Stop what a dead supervisor on ``data_dir`` left running; refuse if one is alive.

    Returns the processes that were stopped.
    """
    stopped: list[Recorded] = []
    path = record_path(data_dir)
    try:
        supervisor, children = decode_record(path.read_text())
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable_process_record_removed", path=str(path))
        path.unlink(missing_ok=True)
    else:
        if same_process(supervisor):
            raise AlreadyRunningError(
                f"another frontdoor dev is running on {data_dir} (pid {supervisor.pid}); "
                "stop it first or pass another --data-dir"
            )
        leftovers = [c for c in children if same_process(c.who)]
        by_pid = {c.who.pid: c for c in leftovers}
        for who in stop_recorded([(c.who, c.stop_signal) for c in leftovers]):
            stopped.append(by_pid[who.pid])
            log.warning(
                "leftover_process_stopped",
                name=by_pid[who.pid].name,
                pid=who.pid,
                supervisor_pid=supervisor.pid,
            )
        path.unlink(missing_ok=True)
    _remove_stale_state(data_dir)
    return stopped


def _remove_stale_state(data_dir: Path) -> None:
    """``state.json`` of a supervisor that is gone (or whose pid now names another program)."""
    path = state_path(data_dir)
    try:
        pid = json.loads(path.read_text()).get("pid")
    except FileNotFoundError:
        return
    except ValueError:
        pid = None
    who = identity(pid) if isinstance(pid, int) else None
    if who is not None and looks_like_dev_supervisor(who.argv):
        raise AlreadyRunningError(
            f"another frontdoor dev is running on {data_dir} (pid {pid}); "
            "stop it first or pass another --data-dir"
        )
    path.unlink(missing_ok=True)
    log.warning("stale_state_file_removed", path=str(path), pid=pid)
