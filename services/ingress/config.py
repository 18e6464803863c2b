"""Partner ingress settings, from ``FRONTDOOR_INGRESS_*`` environment variables.

Defaults suit one replica on a council's network: 1 MiB request bodies, batches of up to 500
events, each event at most the intake limit (``FRONTDOOR_MAX_EVENT_BYTES``), 100 events/s per
agency with bursts of 1,000, and verified keys remembered for 30 seconds — so a revoked key stops
working within 30 seconds on every replica (set ``AUTH_CACHE_TTL_SECONDS=0`` to check the database
on every request, at the cost of one argon2 verification per request). After 20 failed
authentications from one client address, or 10 for one credential id, within 60 seconds, no key
from that address / for that id is verified until the window ends (429). The rate limit and the
failure counts are kept in PostgreSQL, so they hold across replicas: ``RATE_PER_SECOND`` is the
agency's, not a replica's.

``ingress_audit`` keeps each row for ``AUDIT_RETENTION_DAYS`` (default 400) and the retention task
deletes older rows every ``AUDIT_RETENTION_INTERVAL_SECONDS`` (default hourly). Why 400: the
audit trail is the evidence of who submitted what, and inspectors ask for up to a year of it (the
Ofsted Annex A lists count referrals, section 47 enquiries and conferences "in the last 12
months"; the CIN census covers a year); 400 days is that year plus five weeks for the inspection's
notice and for questions raised after it. The rows hold no payloads, but client addresses and
credential ids are still not kept forever. The setting cannot go below 366 days, and the database
refuses to delete a younger row whatever the setting says (``migrations/002_audit_retention.sql``).
The outbox rows ingress writes belong to the common pipeline and its retention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.roles import RoleTable, load_role_table, roles_file
from services.common.kafka import MAX_EVENT_BYTES

MIB = 1024 * 1024
MIN_AUDIT_RETENTION_DAYS = 366
"""A year of evidence, whatever the configuration (the same floor is in the trigger's SQL)."""


class IngressSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_INGRESS_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=MIB, ge=1024)
    max_batch: int = Field(default=500, ge=1)
    max_event_bytes: int = Field(default=MAX_EVENT_BYTES, ge=1024)
    rate_per_second: float = Field(default=100.0, gt=0)
    burst: int = Field(default=1000, ge=1)
    auth_cache_ttl_seconds: float = Field(default=30.0, ge=0)
    #: Failed authentications allowed per window before any key is checked (argon2 is not run)
    #: for that client address / that claimed credential id; shared by replicas (PostgreSQL).
    auth_failures_per_addr: int = Field(default=20, ge=1)
    auth_failures_per_credential: int = Field(default=10, ge=1)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0)
    #: How long the relay after a commit waits for the broker before leaving the rows to the
    #: sweeper (the answer never waits for it), and the producer's request timeout.
    publish_timeout_seconds: float = Field(default=15.0, gt=0)
    #: the role table shared with intake (schemas/roles.toml, or FRONTDOOR_ROLES_FILE)
    roles_file: Path = Field(default_factory=roles_file)
    pool_size: int = Field(default=4, ge=1)
    audit_retention_days: int = Field(
        default=400,
        ge=MIN_AUDIT_RETENTION_DAYS,
        description="Days an ingress_audit row is kept (inspectors may ask for a year of it).",
    )
    audit_retention_interval_seconds: float = Field(default=3600.0, gt=0)
    audit_retention_batch: int = Field(default=5000, ge=1)
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For is trusted for the audited client address.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.burst < self.max_batch:
            raise ValueError(
                f"burst ({self.burst}) must be at least max_batch ({self.max_batch}), "
                "or a full batch could never be accepted"
            )
        if self.max_event_bytes > self.max_body_bytes:
            raise ValueError("max_event_bytes cannot exceed max_body_bytes")
        return self

    def role_table(self) -> RoleTable:
        return load_role_table(self.roles_file)
