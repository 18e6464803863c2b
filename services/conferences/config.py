"""Conferences settings, from ``FRONTDOOR_CONFERENCES_*`` environment variables.

The rules are the shipped ones for the policy named by ``FRONTDOOR_POLICY`` (default ``wt2013``,
the same setting the SLA service reads), with a council's own file from
``FRONTDOOR_CONFERENCES_RULES_FILE`` laid over them (quorum, invitations, how many working days
before the conference reports must reach the parents).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.conferences.domain.rules import DEFAULT_RULES


class ConferencesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_CONFERENCES_", frozen=True)

    #: "aiokafka" or "faust"; unset, the stack's default (``FRONTDOOR_RUNTIME``).
    runtime: Literal["aiokafka", "faust"] | None = None
    policy: str = Field(
        default=DEFAULT_RULES, validation_alias=AliasChoices("FRONTDOOR_POLICY", "policy")
    )
    rules_file: Path | None = None
    #: The aiokafka consumer group; dead letters name it in ``dlq.consumer.group``.
    consumer_group: str = "frontdoor-conferences"
    max_batch: int = Field(default=500, ge=1)
    batch_within_seconds: float = Field(default=0.05, gt=0)
    pool_size: int = Field(default=4, ge=1)
