"""Ops service settings, from ``FRONTDOOR_OPS_*`` environment variables.

The dashboard, its JSON API and ``/metrics`` listen on 127.0.0.1:8080 by default
(``FRONTDOOR_OPS_HOST``, ``FRONTDOOR_OPS_PORT``). The broker is polled every 2 seconds; the Burrow
window holds 10 commits per partition (so a stopped consumer shows within about 20 s of normal
traffic); each partition's produce timeline keeps 300 log-end samples; throughput is averaged over
10 seconds; the dead-letter panel lists the 10 newest, the lane-refusal panel the 10 newest
refusals (``newest_deadletters`` sets both) and the workforce section the 20 newest allocation
alerts (``workforce_alerts``). Every poll round's lag and throughput is kept in PostgreSQL
for ``history_hours`` (``FRONTDOOR_OPS_HISTORY_HOURS``, 48; at most 31 days) for the dashboard's
history chart; older samples are deleted every ``history_prune_seconds`` (300) in chunks of
``history_prune_chunk`` rows (5000). The workforce section's caseload rules are the shipped profiles
(``services/workforce/policies/workforce.toml``), as ``frontdoor workforce`` reads them.

Authentication (``guard.py``): staff keys are verified with the shared authenticator, each
verification remembered for ``auth_cache_ttl_seconds`` (30 s, as ingress); failed attempts are
limited per client address and per claimed credential id before argon2. The login form's session
cookie lives ``session_minutes`` (60) and is signed with ``FRONTDOOR_OPS_SESSION_SECRET`` (at
least 32 characters; unset, a random secret per process — sessions then end when it restarts and
are not shared between replicas). ``/metrics`` answers a scrape token ``FRONTDOOR_METRICS_TOKEN``
or an ops credential; only ``FRONTDOOR_METRICS_OPEN=true`` serves it to anyone. Behind the
ingress controller, set ``FRONTDOOR_OPS_FORWARDED_ALLOW_IPS`` to its addresses so the sign-in
limit counts per member of staff's address, not per proxy.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_OPS_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    burrow_window: int = Field(default=10, ge=2)
    timeline_points: int = Field(default=300, ge=2)
    throughput_window_seconds: float = Field(default=10.0, gt=0)
    newest_deadletters: int = Field(default=10, ge=1, le=100)
    workforce_alerts: int = Field(default=20, ge=1, le=500)
    track_latency: bool = True
    history_hours: float = Field(default=48.0, gt=0, le=24 * 31)
    history_prune_seconds: float = Field(default=300.0, gt=0)
    history_prune_chunk: int = Field(default=5000, ge=1)
    pool_size: int = Field(default=2, ge=1)
    auth_cache_ttl_seconds: float = Field(default=30.0, ge=0)
    auth_failures_per_addr: int = Field(default=30, ge=1)
    auth_failures_per_credential: int = Field(default=10, ge=1)
    auth_failure_window_seconds: float = Field(default=300.0, gt=0)
    session_minutes: float = Field(default=60.0, gt=0, le=24 * 60)
    session_secret: SecretStr | None = Field(default=None, min_length=32)
    metrics_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        validation_alias=AliasChoices("FRONTDOOR_METRICS_TOKEN", "metrics_token"),
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For names the client (the sign-in limit's address).",
    )
    metrics_open: bool = Field(
        default=False, validation_alias=AliasChoices("FRONTDOOR_METRICS_OPEN", "metrics_open")
    )
