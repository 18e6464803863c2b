"""SLA settings, from ``FRONTDOOR_SLA_*`` environment variables (policy: ``FRONTDOOR_POLICY``).

The policy is the shipped one named by ``FRONTDOOR_POLICY`` (default ``wt2013``) with a council's
override file from ``FRONTDOOR_POLICY_OVERRIDES`` laid over it. The scanner settings bound how long
it sleeps between looks at the due index (it wakes at the next deadline, never later than
``scan_max_sleep_seconds``) and how often a replica that is not the leader asks for the lock.
``breach_grace_seconds`` delays the breach of a clock that was already overdue when it was
recorded (replays), so its closing event on another topic can land first.
``clock_offset_seconds`` shifts the worker's clock (tests and demos drive time with it; it is zero
in production).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.sla.policies import DEFAULT_POLICY


class SlaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_SLA_", frozen=True)

    policy: str = Field(
        default=DEFAULT_POLICY, validation_alias=AliasChoices("FRONTDOOR_POLICY", "policy")
    )
    policy_overrides: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("FRONTDOOR_POLICY_OVERRIDES", "policy_overrides"),
    )
    max_batch: int = Field(default=500, ge=1)
    batch_within_seconds: float = Field(default=0.05, gt=0)
    pool_size: int = Field(default=4, ge=2)
    scan_batch: int = Field(default=1000, ge=1)
    scan_max_sleep_seconds: float = Field(default=1.0, gt=0)
    leader_poll_seconds: float = Field(default=1.0, gt=0)
    breach_grace_seconds: float = Field(default=3.0, ge=0)
    clock_offset_seconds: float = 0.0
