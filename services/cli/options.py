"""The options every ``frontdoor`` command that reads the stack shares, and how they resolve.

``--bootstrap`` and ``--database`` fall back to the environment, then to the running
``frontdoor dev`` stack's state file (``services.common.settings.resolve_endpoints``); a command
that finds none of them says so in one line and exits 2. ``--json`` has one meaning everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from services.common.settings import Endpoints

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

NO_BROKER = "(this command needs no broker)"


def endpoints(bootstrap: str | None, database: str | None) -> Endpoints:
    """The broker and database a command talks to; exit 2 with one line when none is found."""
    from services.common.settings import StackNotFoundError, resolve_endpoints  # at use: start-up

    try:
        return resolve_endpoints(bootstrap, database)
    except StackNotFoundError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc


def database_url(database: str | None) -> str:
    """The database alone, for a command that never talks to the broker."""
    return endpoints(NO_BROKER, database).database_url
