"""``frontdoor lag``: consumer lag per group and partition, in offsets and seconds, with status.

The figures come from the running ops service (``frontdoor worker ops``, part of ``frontdoor dev``)
when it watches the same broker, because time lag and the Burrow status need a history of polls
that service keeps. Its address is ``FRONTDOOR_OPS_URL``, else
``http://127.0.0.1:$FRONTDOOR_OPS_PORT``, else the one the running ``frontdoor dev`` stack's state
file records (``ops_url``), else http://127.0.0.1:8080; it is asked with the local ops key
(``FRONTDOOR_OPS_KEY``, else ``frontdoor dev``'s state file). When no ops service answers for
this broker, the command polls the broker itself (`LOCAL_POLLS` polls, `LOCAL_INTERVAL` seconds
apart) and says under the table that the seconds and statuses rest on those few seconds only.

A table on a terminal (rich), or with ``--json`` the ``/api/lag`` document: ``bootstrap_servers``,
``at``, ``window_size``, ``source`` (``ops-service`` or ``local-sample``) and ``groups``, each with
``group``, ``state``, ``members``, ``status`` (OK / WARN / ERR), ``worst`` (OK / WARN / STOP /
STALL / REWIND), ``lag_sum``, ``max_lag``, ``max_lag_seconds`` and ``partitions`` (``topic``,
``partition``, ``committed``, ``log_end``, ``lag`` — −1 without a commit — ``lag_seconds``,
``extrapolated``, ``status``, ``window``).
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from services.common.settings import Endpoints, stack_url
from services.ops.adapters.kafka_lag import KafkaLagSource
from services.ops.domain.lag import LagBoard
from services.ops.handlers import LagPoller, SourceUnavailableError

LOCAL_POLLS = 3
LOCAL_INTERVAL = 1.0
STYLE = {"OK": "green", "WARN": "yellow", "ERR": "bold red", "STOP": "red", "STALL": "red"}
STYLE["REWIND"] = "red"


def ops_url() -> str:
    """``FRONTDOOR_OPS_URL``, else ``FRONTDOOR_OPS_PORT`` on 127.0.0.1, else the address the
    running ``frontdoor dev`` stack's state file records, else http://127.0.0.1:8080."""
    if url := os.environ.get("FRONTDOOR_OPS_URL"):
        return url.rstrip("/")
    if port := os.environ.get("FRONTDOOR_OPS_PORT"):
        return f"http://127.0.0.1:{port}"
    return stack_url("ops") or "http://127.0.0.1:8080"


def from_ops_service(endpoints: Endpoints, url: str) -> dict[str, Any] | None:
    """The ops service's /api/lag when it answers, has polled, and watches this broker.

    It is asked with the ops key of ``FRONTDOOR_OPS_KEY``, else the one ``frontdoor dev`` wrote
    to its state file; without a key (or with a role that may not read lag) it answers 401/403
    and the figures are sampled here instead."""
    from services.cli.opskeys import local_key

    key = local_key()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(f"{url}/api/lag", timeout=2.0, headers=headers)
        response.raise_for_status()
        doc: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    if doc.get("bootstrap_servers") != endpoints.bootstrap_servers or not doc.get("at"):
        return None
    return {**doc, "source": "ops-service"}


async def sample_locally(endpoints: Endpoints) -> dict[str, Any]:
    """Poll the broker a few times and report the last poll."""
    source = KafkaLagSource(endpoints.bootstrap_servers, clock=lambda: datetime.now(UTC))
    poller = LagPoller(source, board=LagBoard(), interval=LOCAL_INTERVAL)
    await source.start()
    try:
        for i in range(LOCAL_POLLS):
            if i:
                await asyncio.sleep(LOCAL_INTERVAL)
            report = await poller.poll_once()
    finally:
        await source.stop()
    return {
        "bootstrap_servers": endpoints.bootstrap_servers,
        "interval_seconds": LOCAL_INTERVAL,
        "window_size": poller.window_size,
        "source": "local-sample",
        "error": None,
        **report.model_dump(mode="json", exclude={"throughput"}),
    }


def _seconds(value: float | None, extrapolated: bool = False) -> str:
    if value is None:
        return "—"
    prefix = "~" if extrapolated else ""
    if value < 60:
        return f"{prefix}{value:.1f} s"
    if value < 3600:
        return f"{prefix}{int(value // 60)} m {int(value % 60):02d} s"
    return f"{prefix}{int(value // 3600)} h {int(value % 3600 // 60):02d} m"


def _status(value: str | None, provisional: bool = False) -> Text:
    if value is None:
        return Text("—", style="dim")
    return Text(value + ("?" if provisional else ""), style=STYLE.get(value, ""))


def print_lag(doc: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    window = int(doc.get("window_size") or 10)
    at = doc.get("at") or "—"
    table = Table(title=f"Consumer lag · broker {doc['bootstrap_servers']} · {at}")
    table.add_column("group / partition", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for col in ("committed", "log end", "lag", "lag (time)"):
        table.add_column(col, justify="right", no_wrap=True)
    for g in doc.get("groups", []):
        label = f"{g['status']} · {g['worst']}" if g["status"] == "ERR" else g["status"]
        table.add_row(
            Text(g["group"], style="bold"),
            Text(label, style=STYLE.get(g["status"], "")),
            "",
            "",
            f"{g['lag_sum']:,}",
            _seconds(g["max_lag_seconds"]),
        )
        for p in g["partitions"]:
            provisional = p["status"] in ("STALL", "WARN") and p["window"] < window
            table.add_row(
                f"  {p['topic']} · {p['partition']}",
                _status(p["status"], provisional),
                "—" if p["committed"] < 0 else f"{p['committed']:,}",
                f"{p['log_end']:,}",
                "no commit" if p["lag"] < 0 else f"{p['lag']:,}",
                _seconds(p["lag_seconds"], p["extrapolated"]),
            )
        table.add_section()
    console.print(table)
    if not doc.get("groups"):
        console.print("No consumer group has committed an offset yet.")
    notes = ["~ extrapolated from before the first sample", "? window not yet full"]
    if doc.get("source") == "local-sample":
        notes.append(
            f"no ops service answered at {ops_url()} for this broker: seconds and statuses rest "
            f"on {LOCAL_POLLS} polls {LOCAL_INTERVAL:.0f} s apart"
        )
    console.print("; ".join(notes), style="dim")


def lag_command(endpoints: Endpoints, *, as_json: bool) -> None:
    """Print the lag table (``frontdoor lag [--json]``); one line and exit 1 when the broker
    cannot be read (aiokafka's own connection errors stay unsaid: that line names them)."""
    from services.cli.errors import described, quiet_logs

    quiet_logs()
    try:
        doc = from_ops_service(endpoints, ops_url()) or asyncio.run(sample_locally(endpoints))
    except SourceUnavailableError as exc:
        message = (
            f"frontdoor lag: cannot reach the broker at {endpoints.bootstrap_servers} "
            f"({described(exc.__cause__ or exc)}); check --bootstrap / KAFKA_BOOTSTRAP_SERVERS, "
            "or start `frontdoor dev`"
        )
        typer.secho(message, fg="red", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        print_lag(doc)
