"""Workforce settings, from ``FRONTDOOR_WORKFORCE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkforceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_WORKFORCE_", frozen=True)

    #: "aiokafka" or "faust"; unset, the stack's default (``FRONTDOOR_RUNTIME``).
    runtime: Literal["aiokafka", "faust"] | None = None
    #: A council's own profiles file instead of the shipped policies/workforce.toml.
    profiles_file: Path | None = None
    consumer_group: str = "frontdoor-workforce"
    casework_group: str = "frontdoor-workforce-casework"
    max_batch: int = Field(default=500, ge=1)
    batch_within_seconds: float = Field(default=0.05, gt=0)
    pool_size: int = Field(default=3, ge=1)
    #: How long an event naming a team or worker the directory lacks waits for the directory
    #: before it is refused (known_team / known_worker), and how often parked events are retried.
    park_seconds: float = Field(default=120.0, gt=0)
    refeed_interval_seconds: float = Field(default=1.0, gt=0)
