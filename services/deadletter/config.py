"""Dead-letter service settings, from ``FRONTDOOR_DEADLETTER_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CONSUMER = "deadletter"
"""The ledger name (``processed_events.consumer``) of the dead-letter subscription; the replay
releases this consumer's claims on the letters it re-sends."""


class DeadletterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_DEADLETTER_", frozen=True)

    #: "aiokafka" or "faust"; unset, the stack's default (``FRONTDOOR_RUNTIME``).
    runtime: Literal["aiokafka", "faust"] | None = None
    #: Consumer group of the aiokafka runner (the faust app id the service had before).
    consumer_group: str = "frontdoor-deadletter"
    max_batch: int = Field(default=500, ge=1)
    batch_within_seconds: float = Field(default=0.1, gt=0)
    pool_size: int = Field(default=2, ge=2)
