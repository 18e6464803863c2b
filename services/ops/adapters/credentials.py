"""Staff credentials in PostgreSQL: the shared credential store over ``ops_credentials``.

The same store as the partners' (``services.common.credential_store``); the principal is the
staff role (``domain.access.OpsRole``).
"""

from __future__ import annotations

import asyncpg

from services.common.credential_store import PostgresCredentialStore
from services.ops.domain.access import OpsRole


class OpsCredentialStore(PostgresCredentialStore[OpsRole]):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, table="ops_credentials", principal_column="role", principal=OpsRole)
