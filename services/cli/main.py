"""The ``frontdoor`` command line.

Every command that talks to the system finds it the same way: ``--bootstrap`` / ``--database``,
else ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL``, else the running ``frontdoor dev`` stack's
state file in the data directory (``$FRONTDOOR_DATA_DIR``, default ``./.frontdoor``). Tables on a
terminal, JSON with ``--json``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from services.common.logging import configure_logging

app = typer.Typer(
    help="frontdoor: the event backbone of a children's services front door (MASH).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
dlq_app = typer.Typer(help="Dead letters: list them with their reasons, replay them after a fix.")
app.add_typer(dlq_app, name="dlq")

Bootstrap = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="Kafka bootstrap servers [env KAFKA_BOOTSTRAP_SERVERS; "
        "else the running `frontdoor dev` stack]",
    ),
]
Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="PostgreSQL URL [env DATABASE_URL; else the running `frontdoor dev` stack]",
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Machine-readable JSON instead of a table.")]


def _endpoints(bootstrap: str | None, database: str | None) -> Any:
    from services.common.settings import StackNotFoundError, resolve_endpoints

    try:
        return resolve_endpoints(bootstrap, database)
    except StackNotFoundError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc


@app.command()
def dev(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="State directory [env FRONTDOOR_DATA_DIR, default ./.frontdoor]"),
    ] = None,
    demo: Annotated[bool, typer.Option(help="Run the demo partner feed.")] = True,
) -> None:
    """Run everything on the embedded default: broker, database, workers, demo feed."""
    from services.cli.registry import SERVICES
    from services.cli.stack import Infrastructure
    from services.cli.supervisor import Child, DevStartError, Supervisor, preflight, worker_argv
    from services.common.embedded import project_data_dir

    configure_logging()
    directory = (data_dir or project_data_dir()).resolve()
    children = [Child(s.name, worker_argv(s.name)) for s in SERVICES]
    if demo:
        children.append(
            Child("demo-feed", [sys.executable, "-m", "services.cli.main", "demo-feed"])
        )
    try:
        preflight(directory, children)
    except DevStartError as exc:
        typer.secho(f"frontdoor dev: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    infra = Infrastructure.start(directory)
    supervisor = Supervisor(infra, children)
    try:
        supervisor.record()
        infra.initialise()
    except BaseException:
        supervisor.shutdown()
        raise

    def announce() -> None:
        typer.echo(
            f"frontdoor dev: broker {infra.endpoints.bootstrap_servers}, database "
            f"{infra.endpoints.database_url}\n  logs in {directory / 'logs'}; "
            "Ctrl-C stops everything"
        )

    raise typer.Exit(supervisor.run(on_ready=announce))


@app.command()
def init(bootstrap: Bootstrap = None, database: Database = None) -> None:
    """Create the topics (explicit partition counts) and apply the database migrations."""
    from services.cli.stack import initialise

    configure_logging()
    asyncio.run(initialise(_endpoints(bootstrap, database)))
    typer.echo("topics and migrations are in place")


@app.command()
def worker(
    name: Annotated[str, typer.Argument(help="Service to run: intake, deadletter, …")],
    bootstrap: Bootstrap = None,
    database: Database = None,
) -> None:
    """Run one service's stream worker in this process until SIGTERM/Ctrl-C."""
    from services.cli.registry import service
    from services.common.health import serve_health_from_env

    configure_logging()
    try:
        spec = service(name)
    except KeyError as exc:
        typer.secho(str(exc.args[0]), fg="red", err=True)
        raise typer.Exit(2) from exc
    module = importlib.import_module(spec.bootstrap_module)
    endpoints = _endpoints(bootstrap, database)
    if name not in ("ops", "ingress"):  # the web services answer /healthz themselves
        serve_health_from_env()
    module.run(endpoints)  # every bootstrap: its declaration on the configured runtime


@app.command()
def simulate(
    days: Annotated[int, typer.Option(help="Days of partner traffic to generate.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same feed.")] = 1,
    out: Annotated[
        Path | None, typer.Option(help="Output file (JSON lines); stdout if omitted.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD (default: DAYS before today).")
    ] = None,
    scale: Annotated[
        float, typer.Option(help="Volume multiplier (1 = a borough like Rotherham).")
    ] = 1.0,
) -> None:
    """Write a realistic synthetic partner feed as JSON lines."""
    from datetime import timedelta

    from services.simulate.cli import write_feed

    today = datetime.now(ZoneInfo("Europe/London")).date()
    first = date.fromisoformat(start) if start else today - timedelta(days=days)
    count = write_feed(out, days=days, seed=seed, start=first, scale=scale)
    if out is not None:
        typer.echo(f"wrote {count} events to {out}", err=True)


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON-lines file")],
    bootstrap: Bootstrap = None,
    database: Database = None,
) -> None:
    """Publish a JSON-lines file to partner.events, with a progress bar."""
    from rich.progress import Progress

    from services.cli.replay import publish_lines, read_lines

    endpoints = _endpoints(bootstrap, database)
    lines = read_lines(file)
    with Progress(disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"replaying {file.name}", total=len(lines))
        sent = asyncio.run(
            publish_lines(
                endpoints.bootstrap_servers, lines, on_progress=lambda n: progress.advance(task, n)
            )
        )
    typer.echo(f"published {sent} events to partner.events", err=True)


@app.command("demo-feed", hidden=True)
def demo_feed(bootstrap: Bootstrap = None, database: Database = None) -> None:
    """Replay recent simulated history, then trickle live events (used by `frontdoor dev`)."""
    from services.cli.demo import run_demo_feed

    configure_logging()
    endpoints = _endpoints(bootstrap, database)
    asyncio.run(run_demo_feed(endpoints))


@dlq_app.command("list")
def dlq_list(
    bootstrap: Bootstrap = None,
    database: Database = None,
    as_json: JsonOut = False,
    all_: Annotated[
        bool, typer.Option("--all", help="Include dead letters already replayed.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
) -> None:
    """Dead letters, newest first, with their reasons."""
    from services.cli.dlq import fetch_deadletters, print_deadletters

    rows = asyncio.run(fetch_deadletters(_endpoints(bootstrap, database), all_, limit))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
    else:
        print_deadletters(rows)


@dlq_app.command("replay")
def dlq_replay(
    bootstrap: Bootstrap = None,
    database: Database = None,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Only these dead letters (repeatable).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="Only dead letters with this dlq.reason.")
    ] = None,
) -> None:
    """Re-submit dead letters to their original topic (after the fix) and mark them replayed."""
    from services.cli.dlq import replay_deadletters

    count = asyncio.run(replay_deadletters(_endpoints(bootstrap, database), ids, reason))
    typer.echo(f"replayed {count} dead letters", err=True)


@app.command()
def sla(
    bootstrap: Bootstrap = None,
    database: Database = None,
    as_json: JsonOut = False,
    kind: Annotated[str | None, typer.Option(help="Only timers of this kind (e.g. icpc).")] = None,
    breaching: Annotated[
        bool, typer.Option(help="Only timers past or near their deadline.")
    ] = False,
) -> None:
    """Open statutory timers (SLA clocks), soonest deadline first."""
    from services.cli.sla import sla_command

    sla_command(_endpoints(bootstrap, database), as_json=as_json, kind=kind, breaching=breaching)


@app.command()
def conferences(
    bootstrap: Bootstrap = None, database: Database = None, as_json: JsonOut = False
) -> None:
    """Upcoming child protection conferences: target date, invited agencies, reports, quorum."""
    from services.cli.conferences import conferences_command

    conferences_command(_endpoints(bootstrap, database), as_json=as_json)


@app.command()
def lag(bootstrap: Bootstrap = None, database: Database = None, as_json: JsonOut = False) -> None:
    """Consumer lag per group and partition, in offsets and seconds, with Burrow-style status."""
    from services.cli.lag import lag_command

    lag_command(_endpoints(bootstrap, database), as_json=as_json)


def _mount_subcommands() -> None:
    from services.cli.agencies import agencies_app
    from services.cli.ooh import ooh_app
    from services.cli.returns import returns_app

    app.add_typer(agencies_app, name="agencies")
    app.add_typer(ooh_app, name="ooh")
    app.add_typer(returns_app, name="returns")


_mount_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
