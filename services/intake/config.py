"""Intake settings, from ``FRONTDOOR_INTAKE_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.kafka import MAX_EVENT_BYTES


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_INTAKE_", frozen=True)

    #: "aiokafka" or "faust"; unset, the stack's default (``FRONTDOOR_RUNTIME``).
    runtime: Literal["aiokafka", "faust"] | None = None
    max_batch: int = 1000
    #: Consumer group (and faust app id); dead letters name it in ``dlq.consumer.group``.
    consumer_group: str = "frontdoor-intake"
    batch_within_seconds: float = 0.05
    max_event_bytes: int = MAX_EVENT_BYTES
    pool_size: int = 4
