"""Where the broker and the database are: flags, then environment, then a running dev stack.

Every command and worker resolves the same two addresses in the same order: an explicit value
(a command-line flag), the environment (``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``), and
finally the state file a running ``frontdoor dev`` writes into the data directory. Nothing falls
back to a hard-coded address: if none of the three names a broker, the caller gets a clear error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.common.embedded import project_data_dir

STATE_FILE = "state.json"


class StackNotFoundError(RuntimeError):
    """No broker or database was named, and no running dev stack was found."""


@dataclass(frozen=True)
class Endpoints:
    bootstrap_servers: str
    database_url: str


def state_path(data_dir: Path | None = None) -> Path:
    return (data_dir or project_data_dir()) / STATE_FILE


def write_state(
    endpoints: Endpoints,
    *,
    pid: int,
    data_dir: Path | None = None,
    extra: Mapping[str, str] | None = None,
) -> Path:
    """The state file, readable by its owner only: ``extra`` may hold the dev stack's ops key."""
    path = state_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(
            json.dumps(
                {
                    **(extra or {}),
                    "bootstrap_servers": endpoints.bootstrap_servers,
                    "database_url": endpoints.database_url,
                    "pid": pid,
                }
            )
        )
    tmp.replace(path)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(data_dir: Path | None = None) -> dict[str, object] | None:
    path = state_path(data_dir)
    try:
        state: dict[str, object] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    pid = state.get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return None
    return state


def stack_url(service: str, data_dir: Path | None = None) -> str | None:
    """Where the running dev stack's web ``service`` (``ops``, ``ingress``) listens, as
    ``http://host:port`` (its state file's ``<service>_url``); ``None`` when no stack says."""
    state = read_state(data_dir)
    url = state.get(f"{service}_url") if state else None
    return url.rstrip("/") if isinstance(url, str) and url else None


def resolve_endpoints(
    bootstrap_servers: str | None = None, database_url: str | None = None
) -> Endpoints:
    """Flags, then environment, then the running dev stack's state file."""
    bootstrap = bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = database_url or os.environ.get("DATABASE_URL")
    if not (bootstrap and database):
        state = read_state()
        if state:
            bootstrap = bootstrap or str(state["bootstrap_servers"])
            database = database or str(state["database_url"])
    if not bootstrap or not database:
        missing = [
            n
            for n, v in (("KAFKA_BOOTSTRAP_SERVERS", bootstrap), ("DATABASE_URL", database))
            if not v
        ]
        raise StackNotFoundError(
            f"no {' or '.join(missing)} given and no running `frontdoor dev` stack found in "
            f"{state_path()}; start one with `frontdoor dev` or pass --bootstrap/--database"
        )
    return Endpoints(bootstrap_servers=bootstrap, database_url=database)
