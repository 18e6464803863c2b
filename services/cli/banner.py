"""What ``frontdoor dev`` prints once everything is up: every address a developer opens.

The ops dashboard and its API docs, the partner API and its docs, the broker and the database,
and where the logs and the state file are. The web addresses are the ones the state file records
(``ops_url``, ``ingress_url``: the same ``FixedPort`` values the start-up check tried), so what is
printed is what ``frontdoor lag`` and the other commands find. A password in the database URL is
never printed. Pure text: the supervisor's caller echoes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from services.cli.listeners import FixedPort
from services.common.settings import Endpoints, state_path


def _without_password(dsn: str) -> str:
    parts = urlsplit(dsn)
    if not parts.password:
        return dsn
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + parts.netloc.rpartition("@")[2]))


def _web(port: FixedPort | None, what: str, docs: str) -> list[tuple[str, str]]:
    if port is None:
        return []
    if not port.port:  # port 0: the service picks a free one, only its log knows which
        return [(what, f"a free port ({port.setting}=0): see its log")]
    return [(what, f"{port.url}/"), (docs, f"{port.url}/docs")]


def banner(endpoints: Endpoints, web: Mapping[str, FixedPort], data_dir: Path) -> str:
    """The lines ``frontdoor dev`` prints when ready, one address per line."""
    state = state_path(data_dir)
    rows = [
        *_web(web.get("ops"), "ops dashboard", "ops API docs"),
        *_web(web.get("ingress"), "partner API", "partner API docs"),
        ("broker", endpoints.bootstrap_servers),
        ("database", _without_password(endpoints.database_url)),
        ("logs", f"{data_dir / 'logs'}/"),
        ("state file", str(state)),
    ]
    width = max(len(label) for label, _ in rows)
    lines = ["frontdoor dev is up; Ctrl-C stops everything"]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    if "ops" in web:
        lines += [
            '  sign in to the dashboard with the local ops key: "ops_key" in the state file',
            "  (readable by you only; `frontdoor lag` uses it)",
        ]
    if "ingress" in web:
        lines.append("  a partner API key: `frontdoor agencies add police`")
    return "\n".join(lines)
