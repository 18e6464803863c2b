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
import os
import sys
from collections.abc import Iterator, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
import typer.main
from typer.core import TyperGroup

from services.cli.options import Bootstrap, Database, JsonOut
from services.cli.options import endpoints as stack_endpoints

LAZY_GROUPS = {
    "agencies": ("services.cli.agencies", "agencies_app"),
    "ops-keys": ("services.cli.opskeys", "ops_keys_app"),
    "audit": ("services.cli.audit", "audit_app"),
    "ooh": ("services.cli.ooh", "ooh_app"),
    "returns": ("services.cli.returns", "returns_app"),
}
"""Command groups imported when used or listed, not at start-up: `frontdoor sla` should not pay
for the returns, out-of-hours and audit modules (0.5 s of imports) to draw its board."""


class _LazyCommands(MutableMapping[str, Any]):
    """A group's commands: every name is listed, a lazy group is imported when first looked up."""

    def __init__(self, loaded: MutableMapping[str, Any]) -> None:
        self._loaded = dict(loaded)

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded and name in LAZY_GROUPS:
            module, attribute = LAZY_GROUPS[name]
            group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
            group.name = name
            self._loaded[name] = group
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._loaded
        yield from (n for n in LAZY_GROUPS if n not in self._loaded)

    def __len__(self) -> int:
        return len(set(self._loaded) | set(LAZY_GROUPS))


class _LazyGroup(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names only: nothing imported until one is used


def configure_logging(*, level: str | None = None) -> None:
    """services.common.logging's, imported when a command logs (structlog is slow to import)."""
    from services.common.logging import configure_logging as configure

    configure(level=level)


app = typer.Typer(
    cls=_LazyGroup,
    help="frontdoor: the event backbone of a children's services front door (MASH).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
dlq_app = typer.Typer(help="Dead letters: list them with their reasons, replay them after a fix.")
app.add_typer(dlq_app, name="dlq")


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
        web = preflight(directory, children)
    except DevStartError as exc:
        typer.secho(f"frontdoor dev: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    infra = Infrastructure.start(directory)
    supervisor = Supervisor(infra, children)
    # the web services' addresses, for `frontdoor lag` & co. (port 0 = any: none to record)
    supervisor.state_extra.update({f"{n}_url": p.url for n, p in web.items() if p.port})
    try:
        supervisor.record()
        infra.initialise()
        from services.cli.opskeys import issue_dev_key

        supervisor.state_extra["ops_key"] = issue_dev_key(infra.endpoints.database_url)
    except BaseException:
        supervisor.shutdown()
        raise

    def announce() -> None:
        from services.cli.banner import banner

        typer.echo(banner(infra.endpoints, web, directory))

    raise typer.Exit(supervisor.run(on_ready=announce))


@app.command()
def init(bootstrap: Bootstrap = None, database: Database = None) -> None:
    """Create the topics (explicit partition counts) and apply the database migrations."""
    import logging

    from services.cli.stack import initialise

    configure_logging()
    # a broker that cannot be reached is said once, by frontdoor's own line (services/cli/errors.py)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(initialise(stack_endpoints(bootstrap, database)))
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
    endpoints = stack_endpoints(bootstrap, database)
    if name not in ("ops", "ingress"):  # the web services answer /healthz themselves
        serve_health_from_env()
    module.run(endpoints)  # every bootstrap: its declaration on the configured runtime


@app.command()
def simulate(
    *,
    days: Annotated[int, typer.Option(min=1, help="Days of partner traffic to generate.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same feed.")] = 1,
    out: Annotated[
        Path | None, typer.Option(help="Output file (JSON lines); stdout if omitted.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD (default: DAYS before today).")
    ] = None,
    scale: Annotated[
        float, typer.Option(min=0, help="Volume multiplier (1 = a borough like Rotherham).")
    ] = 1.0,
    child_prefix: Annotated[
        str | None,
        typer.Option(help="Start of every child and family id (default S<seed>: one per seed)."),
    ] = None,
) -> None:
    """Write a realistic synthetic partner feed as JSON lines."""
    from datetime import timedelta

    from services.cli.errors import output_file, parse_day
    from services.simulate.cli import CHILD_PREFIX, write_feed

    if child_prefix is not None and not CHILD_PREFIX.fullmatch(child_prefix):
        raise typer.BadParameter(
            "up to 20 letters or digits (LAchildID is alphanumeric, DfE rule 1580)",
            param_hint="--child-prefix",
        )
    today = datetime.now(ZoneInfo("Europe/London")).date()
    first = parse_day(start, "--start") or today - timedelta(days=days)
    output_file(out, overwrite=True)  # a feed is regenerated in place; its folder must exist
    count = write_feed(
        out, days=days, seed=seed, start=first, scale=scale, child_prefix=child_prefix
    )
    if out is not None:
        typer.echo(f"wrote {count} events to {out}", err=True)


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON-lines file")],
    bootstrap: Bootstrap = None,
    database: Database = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="Send lines that are not JSON objects too (testing).")
    ] = False,
) -> None:
    """Publish a JSON-lines file to partner.events, with a progress bar."""
    from rich.progress import Progress

    from services.cli.errors import quiet_logs
    from services.cli.replay import not_json_lines, publish_lines, read_lines

    lines = read_lines(file)
    if not raw and (problem := not_json_lines(file, lines)):
        typer.secho(
            f"frontdoor replay: {problem}; nothing published (--raw sends anyway)",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    endpoints = stack_endpoints(bootstrap, database or "(a replay needs no database)")
    quiet_logs()  # a broker that cannot be reached is said once, by frontdoor's own line
    with Progress(disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"replaying {file.name}", total=len(lines))
        sent = asyncio.run(
            publish_lines(
                endpoints.bootstrap_servers, lines, on_progress=lambda n: progress.advance(task, n)
            )
        )
    typer.echo(f"published {sent} events to partner.events", err=True)


@app.command()
def rebuild(
    view: Annotated[
        str | None,
        typer.Option(
            help="Only this service's views: screening, conferences, outofhours, sla, workforce."
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Lanes (processes) to feed the services in: consecutive services grouped "
            "(default: a lane per service, two for SLA's children; 1: all in this one).",
        ),
    ] = None,
    bootstrap: Bootstrap = None,
    database: Database = None,
) -> None:
    """Recompute the materialised views from `events` (not Kafka) and swap them in at once."""
    from rich.progress import Progress

    from services.cli import rebuild as rebuilding

    try:
        names = rebuilding.targets(view)
    except rebuilding.UnknownViewError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    # a line per record and subscription would drown the progress bar: warnings and errors only
    configure_logging(level=os.environ.get("FRONTDOOR_REBUILD_LOG_LEVEL", "WARNING"))
    endpoints = stack_endpoints(bootstrap, database)
    with Progress(disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"rebuilding {', '.join(names)}", total=None)
        report = asyncio.run(
            rebuilding.run(
                endpoints,
                names,
                on_total=lambda n: progress.update(task, total=n),
                on_progress=lambda n: progress.advance(task, n),
                jobs=jobs,
            )
        )
    rows = ", ".join(f"{t} {n}" for t, n in report.rows.items())
    typer.echo(
        f"rebuilt {', '.join(names)} from {report.events + report.delta_events} events "
        f"in {report.seconds.get('total', 0):.1f}s: {rows}",
        err=True,
    )


@app.command("demo-feed", hidden=True)
def demo_feed(bootstrap: Bootstrap = None, database: Database = None) -> None:
    """Replay recent simulated history, then trickle live events (used by `frontdoor dev`)."""
    from services.cli.demo import run_demo_feed

    configure_logging()
    endpoints = stack_endpoints(bootstrap, database)
    asyncio.run(run_demo_feed(endpoints))


@dlq_app.command("list")
def dlq_list(
    bootstrap: Bootstrap = None,
    database: Database = None,
    as_json: JsonOut = False,
    all_: Annotated[
        bool, typer.Option("--all", help="Include dead letters already replayed.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
) -> None:
    """Dead letters, newest first, with their reasons."""
    from services.cli.dlq import count_deadletters, fetch_deadletters, print_deadletters

    endpoints = stack_endpoints(bootstrap, database)
    rows = asyncio.run(fetch_deadletters(endpoints, all_, limit))
    total = asyncio.run(count_deadletters(endpoints, all_))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        typer.echo(f"showing {len(rows):,} of {total:,} dead letters", err=True)
    else:
        print_deadletters(rows, total)
        if len(rows) < total:
            typer.echo(f"more with --limit {total}")


@dlq_app.command("replay")
def dlq_replay(
    *,
    bootstrap: Bootstrap = None,
    database: Database = None,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Only these dead letters (repeatable).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="Only dead letters with this dlq.reason.")
    ] = None,
    event_type: Annotated[
        str | None, typer.Option(help="Only records of this event type (e.g. contact.received).")
    ] = None,
    agency: Annotated[
        str | None, typer.Option(help="Only records whose source.agency is this (e.g. police).")
    ] = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="Re-send letters that are not JSON objects too.")
    ] = False,
) -> None:
    """Re-submit dead letters to their original topic (after the fix) and mark them replayed."""
    from services.cli.dlq import replay_deadletters
    from services.cli.errors import quiet_logs

    quiet_logs()  # a broker that cannot be reached is said once, by frontdoor's own line
    count = asyncio.run(
        replay_deadletters(
            stack_endpoints(bootstrap, database),
            ids,
            reason,
            event_type=event_type,
            agency=agency,
            raw=raw,
        )
    )
    if count == 0:
        which = f" with reason {reason}" if reason else ""
        typer.echo(f"no dead letters waiting{which}; nothing re-sent", err=True)
    else:
        typer.echo(f"replayed {count} dead letter{'s' if count != 1 else ''}", err=True)


@app.command()
def sla(
    *,
    database: Database = None,
    _bootstrap: Annotated[str | None, typer.Option("--bootstrap", hidden=True)] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Every matching clock as a JSON array (streamed).")
    ] = False,
    kind: Annotated[
        list[str] | None,
        typer.Option(help="Only clocks of this kind (repeatable; e.g. icpc, supervision)."),
    ] = None,
    child: Annotated[str | None, typer.Option(help="Only this child's clocks.")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(help="open, breached, met, cancelled or live (repeatable; default live)."),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(help="Due in FROM..TO (YYYY-MM-DD, London days, either end open)."),
    ] = None,
    breaching: Annotated[
        bool, typer.Option(help="Only clocks past their deadline or due before tonight.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Show this many (default 20 on a terminal).")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every matching clock, every status unless --status.")
    ] = False,
) -> None:
    """SLA clocks: what is due next and can still be met first, then the breached count."""
    from services.cli.sla import sla_command

    sla_command(
        stack_endpoints("(the SLA board needs no broker)", database),
        as_json=as_json,
        kind=kind,
        breaching=breaching,
        child=child,
        status=status,
        period=period,
        limit=limit,
        show_all=all_,
    )


@app.command()
def conferences(
    bootstrap: Bootstrap = None, database: Database = None, as_json: JsonOut = False
) -> None:
    """Upcoming child protection conferences: target date, invited agencies, reports, quorum."""
    from services.cli.conferences import conferences_command

    conferences_command(stack_endpoints(bootstrap, database), as_json=as_json)


@app.command()
def workforce(
    bootstrap: Bootstrap = None,
    database: Database = None,
    as_json: JsonOut = False,
    team: Annotated[str | None, typer.Option(help="Only this team (its id).")] = None,
) -> None:
    """Teams, workers, caseloads (DfE, weighted), supervision, NQSW protections, overdue items."""
    from services.cli.workforce import workforce_command

    workforce_command(stack_endpoints(bootstrap, database), as_json=as_json, team=team)


@app.command()
def lag(bootstrap: Bootstrap = None, database: Database = None, as_json: JsonOut = False) -> None:
    """Consumer lag per group and partition, in offsets and seconds, with Burrow-style status."""
    from services.cli.lag import lag_command

    lag_command(stack_endpoints(bootstrap, database), as_json=as_json)


def main() -> None:
    """``frontdoor``: every failure is one line on stderr, never a traceback (cli/errors.py)."""
    from services.cli.errors import run

    sys.exit(run(app))


if __name__ == "__main__":
    main()
