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
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from schemas.envelope import Agency
from services.cli.options import Database, JsonOut, database_url
from services.common.credentials import (
    CredentialAdmin,
    CredentialRevokedError,
    CredentialStore,
    StoredCredential,
    UnknownCredentialError,
)

if TYPE_CHECKING:
    import asyncpg

agencies_app = typer.Typer(
    help="Partner agencies' API keys for HTTP ingress: add, rotate, revoke, list.",
    no_args_is_help=True,
)

T = TypeVar("T")
P = TypeVar("P", bound=StrEnum)


@dataclass(frozen=True)
class Audience(Generic[P]):
    """Whose keys a command manages: the table's migrations and its store (one machinery)."""

    noun: str
    """``agency`` or ``role``: how the principal is named in messages and ``--json``."""
    migrations: Callable[[], Sequence[Path]]
    store: Callable[[asyncpg.Pool], CredentialStore[P]]


def _agency_migrations() -> Sequence[Path]:
    from services.ingress.bootstrap import MIGRATIONS

    return [MIGRATIONS]


def _agency_store(pool: asyncpg.Pool) -> CredentialStore[Agency]:
    from services.ingress.adapters.postgres import PostgresCredentialStore

    return PostgresCredentialStore(pool)


AGENCIES: Audience[Agency] = Audience("agency", _agency_migrations, _agency_store)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``24h`` or ``7d`` as a timedelta."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration like 30m, 24h or 7d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def with_admin(
    audience: Audience[P],
    database: str | None,
    use: Callable[[CredentialAdmin[P]], Awaitable[T]],
) -> T:
    from services.common.db import create_pool, migrate

    dsn = database_url(database)

    async def go() -> T:
        await migrate(dsn, audience.migrations())
        pool = await create_pool(dsn, max_size=2)
        try:
            admin = CredentialAdmin(audience.store(pool), clock=lambda: datetime.now(UTC))
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


def as_dict(c: StoredCredential[Any], now: datetime, noun: str = "agency") -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat(timespec="seconds") if moment else None

    return {
        "credential_id": c.credential_id,
        noun: c.principal.value,
        "label": c.label,
        "status": c.status(now),
        "created_at": iso(c.created_at),
        "revoked_at": iso(c.revoked_at),
        "replaced_by": c.replaced_by,
        "last_used_at": iso(c.last_used_at),
    }


def print_new_key(
    c: StoredCredential[Any], key_text: str, as_json: bool, note: str, noun: str = "agency"
) -> None:
    if as_json:
        typer.echo(json.dumps({**as_dict(c, c.created_at, noun), "key": key_text}, indent=2))
    else:
        typer.echo(key_text)
    holder = "the partner" if noun == "agency" else "its holder"
    typer.secho(
        f"{note} Credential {c.credential_id} for {c.principal.value}. The key above is shown "
        f"once; give it to {holder} over a secure channel.",
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
    credential, key = with_admin(AGENCIES, database, lambda a: a.add(agency, name))
    print_new_key(credential, key.text, as_json, "Issued.")


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
    rotate_key(AGENCIES, credential_id, grace, database, as_json)


def rotate_key(
    audience: Audience[P], credential_id: str, grace: str, database: str | None, as_json: bool
) -> None:
    period = parse_duration(grace)
    credential, key = with_admin(
        audience, database, lambda a: a.rotate(credential_id, grace=period)
    )
    note = f"Rotated {credential_id} (old key ends in {period})."
    print_new_key(credential, key.text, as_json, note, audience.noun)


@agencies_app.command("revoke")
def revoke(
    credential_id: Annotated[str, typer.Argument(help="The credential to revoke.")],
    database: Database = None,
) -> None:
    """Revoke a key now (every ingress replica refuses it within its cache TTL)."""
    revoke_key(AGENCIES, credential_id, database)


def revoke_key(audience: Audience[P], credential_id: str, database: str | None) -> None:
    credential = with_admin(audience, database, lambda a: a.revoke(credential_id))
    when = credential.revoked_at.isoformat(timespec="seconds") if credential.revoked_at else "?"
    typer.echo(f"revoked {credential.credential_id} ({credential.principal.value}) at {when}")


@agencies_app.command("list")
def list_(database: Database = None, as_json: JsonOut = False) -> None:
    """Every credential with its agency, status and last use (never the keys)."""
    list_keys(AGENCIES, database, as_json)


def list_keys(audience: Audience[P], database: str | None, as_json: bool) -> None:
    credentials = with_admin(audience, database, lambda a: a.list())
    now = datetime.now(UTC)
    rows = [as_dict(c, now, audience.noun) for c in credentials]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        print_credentials(rows, audience.noun)


def print_credentials(rows: Sequence[dict[str, Any]], noun: str = "agency") -> None:
    title = "agency credentials" if noun == "agency" else "ops credentials"
    table = Table(title=f"{len(rows)} {title}")
    for col in ("credential", noun, "label", "status", "created", "revoked at", "last used"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["credential_id"],
            r[noun],
            r["label"],
            r["status"],
            r["created_at"] or "",
            r["revoked_at"] or "",
            r["last_used_at"] or "never",
        )
    Console().print(table)
