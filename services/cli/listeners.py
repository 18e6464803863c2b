"""Who holds a TCP port: the check ``frontdoor dev`` makes before it starts anything.

A service that cannot bind its port (ops on :8080, ingress on :8000) would exit, be restarted and
exit again, its error buried in a log file. So before the broker, the database or any worker is
started, every fixed port the stack will listen on is tried; a port already taken is one line
naming the port, the setting that moves it, and the process holding it, found the way ``ss -p``
finds it: the listening socket's inode in ``/proc/net/tcp`` (and ``tcp6``), then the process
with that inode among its ``/proc/<pid>/fd`` links. Parsing and wording are pure functions.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TCP_LISTEN = "0A"  # include/net/tcp_states.h: TCP_LISTEN = 10
MAX_COMMAND_CHARS = 160


@dataclass(frozen=True)
class FixedPort:
    """A port the stack listens on, who listens there, and the setting that moves it."""

    owner: str
    host: str
    port: int
    setting: str

    @property
    def url(self) -> str:
        """Where a browser on this machine reaches it (a wildcard address on loopback)."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104 - read, not bound
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    inode: int


@dataclass(frozen=True)
class Holder:
    pid: int
    argv: tuple[str, ...]


def _address(hex_address: str) -> str:
    """``/proc/net/tcp`` addresses are the kernel's bytes in hex, 32-bit words in host order."""
    raw = bytes.fromhex(hex_address)
    words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]  # little-endian words
    return str(ipaddress.ip_address(b"".join(words)))


def parse_proc_net_tcp(text: str) -> list[Listener]:
    """The listening sockets in the text of ``/proc/net/tcp`` or ``/proc/net/tcp6``."""
    listeners = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != TCP_LISTEN:
            continue
        address, _, port = fields[1].partition(":")
        listeners.append(Listener(_address(address), int(port, 16), int(fields[9])))
    return listeners


def holder_message(port: FixedPort, holder: Holder | None) -> str:
    """The one line ``frontdoor dev`` stops with when ``port`` is taken."""
    if holder is None:
        who = "a process this user cannot see (another user, or outside this container)"
    else:
        command = " ".join(holder.argv).replace("\n", " ") or "?"  # as ps shows it
        if len(command) > MAX_COMMAND_CHARS:
            command = command[: MAX_COMMAND_CHARS - 1] + "…"
        who = f"pid {holder.pid} ({command})"
    return (
        f"port {port.port} ({port.owner}, {port.host}:{port.port}) is already in use by {who}; "
        f"stop it or set {port.setting} to a free port"
    )


def port_is_free(host: str, port: int) -> bool:
    """Can a server bind ``host:port`` the way uvicorn does (with SO_REUSEADDR)?"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _listeners(port: int) -> list[Listener]:
    found = []
    for name in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            found += [
                listener
                for listener in parse_proc_net_tcp((PROC / "net" / name).read_text())
                if listener.port == port
            ]
    return found


def _owners(inodes: Iterable[int]) -> list[int]:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids = []
    for proc_dir in PROC.iterdir():
        if not proc_dir.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in wanted for fd in (proc_dir / "fd").iterdir()):
                pids.append(int(proc_dir.name))
    return sorted(pids)


def holder_of(port: int) -> Holder | None:
    """The process listening on ``port`` (the lowest pid if several share the socket)."""
    for pid in _owners(listener.inode for listener in _listeners(port)):
        with contextlib.suppress(OSError):
            raw = (PROC / str(pid) / "cmdline").read_bytes()
            return Holder(pid, tuple(a.decode(errors="replace") for a in raw.split(b"\0")[:-1]))
    return None


def ports_in_use(ports: Sequence[FixedPort]) -> list[str]:
    """One message per fixed port that is taken (port 0 means "any free port": never taken)."""
    return [
        holder_message(p, holder_of(p.port))
        for p in ports
        if p.port and not port_is_free(p.host, p.port)
    ]
