"""``frontdoor agencies``: issue, rotate, revoke and list the API keys partner agencies use.

A new key is printed once, on stdout, and never again: only its argon2 hash is stored. Rotation
issues a new key for the same agency and keeps the old one working for ``--grace`` (e.g. ``24h``)
so the partner can switch without an outage. The ingress service remembers a verified key for its
cache TTL (``FRONTDOOR_INGRESS_AUTH_CACHE_TTL_SECONDS``, 30 s by default), so a revocation takes
effect on every replica within that time. Only the database is needed: ``--database``, else
``DATABASE_URL``, else the running ``frontdoor dev`` stack; the ingress tables are created if
missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from schemas.envelope import Agency
from services.ingress.credentials import (
    CredentialAdmin,
    CredentialRevokedError,
    StoredCredential,
    UnknownCredentialError,
)

agencies_app = typer.Typer(
    help="Partner agencies' API keys for HTTP ingress: add, rotate, revoke, list.",
    no_args_is_help=True,
)

T = TypeVar("T")

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="PostgreSQL URL [env DATABASE_URL; else the running `frontdoor dev` stack]",
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Machine-readable JSON instead of text.")]
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``24h`` or ``7d`` as a timedelta."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration like 30m, 24h or 7d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _database_url(database: str | None) -> str:
    if database or os.environ.get("DATABASE_URL"):
        return database or os.environ["DATABASE_URL"]
    from services.common.settings import StackNotFoundError, read_state, state_path

    state = read_state()
    if state is None:
        typer.secho(
            str(
                StackNotFoundError(
                    f"no --database, no DATABASE_URL and no running stack in {state_path()}"
                )
            ),
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    return str(state["database_url"])


def _with_admin(database: str | None, use: Callable[[CredentialAdmin], Awaitable[T]]) -> T:
    from services.common.db import create_pool, migrate
    from services.ingress.adapters.postgres import PostgresCredentialStore
    from services.ingress.bootstrap import MIGRATIONS

    dsn = _database_url(database)

    async def go() -> T:
        await migrate(dsn, [MIGRATIONS])
        pool = await create_pool(dsn, max_size=2)
        try:
            admin = CredentialAdmin(PostgresCredentialStore(pool), clock=lambda: datetime.now(UTC))
            return await use(admin)
        finally:
            await pool.close()

    try:
        return asyncio.run(go())
    except UnknownCredentialError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    except CredentialRevokedError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc


def _as_dict(c: StoredCredential, now: datetime) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat(timespec="seconds") if moment else None

    return {
        "credential_id": c.credential_id,
        "agency": c.agency.value,
        "label": c.label,
        "status": c.status(now),
        "created_at": iso(c.created_at),
        "revoked_at": iso(c.revoked_at),
        "replaced_by": c.replaced_by,
        "last_used_at": iso(c.last_used_at),
    }


def _print_new_key(c: StoredCredential, key_text: str, as_json: bool, note: str) -> None:
    if as_json:
        typer.echo(json.dumps({**_as_dict(c, c.created_at), "key": key_text}, indent=2))
    else:
        typer.echo(key_text)
    typer.secho(
        f"{note} Credential {c.credential_id} for {c.agency.value}. The key above is shown "
        "once; give it to the partner over a secure channel.",
        err=True,
        fg="yellow",
    )


@agencies_app.command("add")
def add(
    agency: Annotated[Agency, typer.Argument(help="The partner agency the key is for.")],
    name: Annotated[
        str, typer.Option("--name", help="A label, e.g. the partner system ('niche-rms').")
    ] = "",
    database: Database = None,
    as_json: JsonOut = False,
) -> None:
    """Issue a new API key for AGENCY and print it (once)."""
    credential, key = _with_admin(database, lambda a: a.add(agency, name))
    _print_new_key(credential, key.text, as_json, "Issued.")


@agencies_app.command("rotate")
def rotate(
    credential_id: Annotated[str, typer.Argument(help="The credential to replace.")],
    grace: Annotated[
        str,
        typer.Option(help="How long the old key keeps working, e.g. 0, 30m, 24h, 7d."),
    ] = "0",
    database: Database = None,
    as_json: JsonOut = False,
) -> None:
    """Issue a new key for the same agency; the old key stops after --grace."""
    period = parse_duration(grace)
    credential, key = _with_admin(database, lambda a: a.rotate(credential_id, grace=period))
    _print_new_key(
        credential, key.text, as_json, f"Rotated {credential_id} (old key ends in {period})."
    )


@agencies_app.command("revoke")
def revoke(
    credential_id: Annotated[str, typer.Argument(help="The credential to revoke.")],
    database: Database = None,
) -> None:
    """Revoke a key now (every ingress replica refuses it within its cache TTL)."""
    credential = _with_admin(database, lambda a: a.revoke(credential_id))
    when = credential.revoked_at.isoformat(timespec="seconds") if credential.revoked_at else "?"
    typer.echo(f"revoked {credential.credential_id} ({credential.agency.value}) at {when}")


@agencies_app.command("list")
def list_(database: Database = None, as_json: JsonOut = False) -> None:
    """Every credential with its agency, status and last use (never the keys)."""
    credentials = _with_admin(database, lambda a: a.list())
    now = datetime.now(UTC)
    rows = [_as_dict(c, now) for c in credentials]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        print_credentials(rows)


def print_credentials(rows: Sequence[dict[str, Any]]) -> None:
    table = Table(title=f"{len(rows)} agency credentials")
    for col in ("credential", "agency", "label", "status", "created", "revoked at", "last used"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["credential_id"],
            r["agency"],
            r["label"],
            r["status"],
            r["created_at"] or "",
            r["revoked_at"] or "",
            r["last_used_at"] or "never",
        )
    Console().print(table)
