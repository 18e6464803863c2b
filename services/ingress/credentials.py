"""Agency credentials: the shared machinery of ``services.common.credentials`` with the agency as
the principal (table ``agency_credentials``). One key format, one hashing, one rotation story for
partners and ops staff alike; re-exported here so ingress's modules and tests name one place.
"""

from services.common.credentials import (
    HASHER,
    CredentialAdmin,
    CredentialRevokedError,
    CredentialStore,
    StoredCredential,
    UnknownCredentialError,
    hash_secret,
    random_key,
    verify_secret,
)

__all__ = [
    "HASHER",
    "CredentialAdmin",
    "CredentialRevokedError",
    "CredentialStore",
    "StoredCredential",
    "UnknownCredentialError",
    "hash_secret",
    "random_key",
    "verify_secret",
]
