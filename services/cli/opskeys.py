"""``frontdoor ops-keys``: issue, rotate, revoke and list the staff keys the ops service takes.

The same commands and the same machinery as ``frontdoor agencies`` (``services.cli.agencies``,
``services.common.credentials``): a key is printed once, only its argon2 hash is stored (table
``ops_credentials``), rotation keeps the old key working for ``--grace``, revocation ends it (and
every browser session signed in with it) within the ops service's cache TTL. The role decides
what the key opens (``services/ops/domain/access.py``): ``ops`` everything, ``manager`` the
dashboard and SLA boards, ``out-of-hours`` the out-of-hours APIs, ``analyst`` the SLA read API.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.agencies import (
    Audience,
    list_keys,
    print_new_key,
    revoke_key,
    rotate_key,
    with_admin,
)
from services.cli.options import Database, JsonOut
from services.ops.domain.access import OpsRole

if TYPE_CHECKING:
    import asyncpg

    from services.common.credentials import CredentialStore

ops_keys_app = typer.Typer(
    help="Staff keys for the ops dashboard and API (roles ops, manager, out-of-hours, analyst).",
    no_args_is_help=True,
)


def _migrations() -> Sequence[Path]:
    from services.ops.bootstrap import MIGRATIONS

    return [MIGRATIONS]


def _store(pool: asyncpg.Pool) -> CredentialStore[OpsRole]:
    from services.ops.adapters.credentials import OpsCredentialStore

    return OpsCredentialStore(pool)


STAFF: Audience[OpsRole] = Audience("role", _migrations, _store)


@ops_keys_app.command("add")
def add(
    role: Annotated[OpsRole, typer.Argument(help="What the key may open.")],
    name: Annotated[
        str, typer.Option("--name", help="Who or what holds it, e.g. 'duty manager rota'.")
    ] = "",
    database: Database = None,
    as_json: JsonOut = False,
) -> None:
    """Issue a new ops key with ROLE and print it (once)."""
    credential, key = with_admin(STAFF, database, lambda a: a.add(role, name))
    print_new_key(credential, key.text, as_json, "Issued.", STAFF.noun)


@ops_keys_app.command("rotate")
def rotate(
    credential_id: Annotated[str, typer.Argument(help="The credential to replace.")],
    grace: Annotated[
        str, typer.Option(help="How long the old key keeps working, e.g. 0, 30m, 24h, 7d.")
    ] = "0",
    database: Database = None,
    as_json: JsonOut = False,
) -> None:
    """Issue a new key with the same role; the old key stops after --grace."""
    rotate_key(STAFF, credential_id, grace, database, as_json)


@ops_keys_app.command("revoke")
def revoke(
    credential_id: Annotated[str, typer.Argument(help="The credential to revoke.")],
    database: Database = None,
) -> None:
    """Revoke a key now, and end every session signed in with it."""
    revoke_key(STAFF, credential_id, database)


@ops_keys_app.command("list")
def list_(database: Database = None, as_json: JsonOut = False) -> None:
    """Every ops credential with its role, status and last use (never the keys)."""
    list_keys(STAFF, database, as_json)


DEV_LABEL = "frontdoor dev"


def issue_dev_key(database_url: str) -> str:
    """``frontdoor dev``'s local ops key: the previous dev stack's key is revoked, a new one issued.

    The key goes into the stack's state file (owner-only), where the CLI's ops commands find it.
    """
    from datetime import UTC, datetime

    from services.common.credentials import CredentialAdmin, StoredCredential

    async def fresh(admin: CredentialAdmin[OpsRole]) -> tuple[StoredCredential[OpsRole], str]:
        now = datetime.now(UTC)
        for old in await admin.list():
            if old.label == DEV_LABEL and old.valid_at(now):
                await admin.revoke(old.credential_id)
        credential, key = await admin.add(OpsRole.OPS, DEV_LABEL)
        return credential, key.text

    _, text = with_admin(STAFF, database_url, fresh)
    return text


def local_key() -> str | None:
    """The ops key CLI commands present: ``FRONTDOOR_OPS_KEY``, else the dev stack's state file."""
    import os

    from services.common.settings import read_state

    if key := os.environ.get("FRONTDOOR_OPS_KEY"):
        return key
    state = read_state()
    stored = state.get("ops_key") if state else None
    return stored if isinstance(stored, str) else None
