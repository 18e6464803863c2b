"""Intake settings, from ``FRONTDOOR_INTAKE_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.kafka import MAX_EVENT_BYTES


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_INTAKE_", frozen=True)

    #: "aiokafka" (plain batch consumer) or "faust" (agent); same handler, same guarantees.
    runtime: Literal["aiokafka", "faust"] = "aiokafka"
    max_batch: int = 1000
    #: Consumer group (and faust app id); dead letters name it in ``dlq.consumer.group``.
    consumer_group: str = "frontdoor-intake"
    batch_within_seconds: float = 0.05
    max_event_bytes: int = MAX_EVENT_BYTES
    pool_size: int = 4
