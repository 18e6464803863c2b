"""Ops service settings, from ``FRONTDOOR_OPS_*`` environment variables.

The dashboard, its JSON API and ``/metrics`` listen on 127.0.0.1:8080 by default
(``FRONTDOOR_OPS_HOST``, ``FRONTDOOR_OPS_PORT``). The broker is polled every 2 seconds; the Burrow
window holds 10 commits per partition (so a stopped consumer shows within about 20 s of normal
traffic); each partition's produce timeline keeps 300 log-end samples; throughput is averaged over
10 seconds; the dead-letter panel lists the 10 newest.
"""

from __future__ import annotations

from pydantic import Field
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
    track_latency: bool = True
    pool_size: int = Field(default=2, ge=1)
