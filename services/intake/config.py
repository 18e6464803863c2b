"""Intake settings, from ``FRONTDOOR_INTAKE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.roles import roles_file
from services.common.kafka import MAX_EVENT_BYTES
from services.intake.domain.speakers import SpeakerMode


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
    #: Who may speak on ``partner.events`` without a frontdoor stamp: nobody (``lanes``, the
    #: default: agencies publish on their own ``partner.events.<agency>``), or every record's own
    #: ``source.agency`` (``single-tenant``: one trusted hub publishes for all; see
    #: services/intake/domain/speakers.py).
    speakers: SpeakerMode = SpeakerMode.LANES
    #: the role table shared with ingress (schemas/roles.toml, or FRONTDOOR_ROLES_FILE)
    roles_file: Path = Field(default_factory=roles_file)
