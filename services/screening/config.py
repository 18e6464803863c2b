"""Screening settings, from ``FRONTDOOR_SCREENING_*`` environment variables.

Office hours decide what is "out of hours" (a red result then also goes to the crisis stream); the
triage windows are elapsed hours with one home, ``services.common.calendar`` (DOMAIN.md §2: red 4,
amber 24, green 72; blue is treated like green). ``rules_path`` points at a
council's own rules: a directory of dated editions or one file; unset, the shipped editions
(``rules/``) are used, each contact triaged by the edition in force on its date. ``runtime`` picks
the runner (unset: the stack's default, ``FRONTDOOR_RUNTIME``); the batch settings apply to both.
The two consumer groups are the aiokafka runner's (one per topic, so neither topic's rebalances
stall the other); dead letters name them in ``dlq.consumer.group``.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.calendar import OfficeHours


class ScreeningSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_SCREENING_", frozen=True)

    #: "aiokafka" or "faust"; unset, the stack's default (``FRONTDOOR_RUNTIME``).
    runtime: Literal["aiokafka", "faust"] | None = None
    triage_group: str = "frontdoor-screening-triage"
    #: How long a contact may wait for its earlier history to be recorded by intake
    #: (``adapters/horizon.py``); 0 triages at once with whatever is recorded.
    history_wait_seconds: float = Field(default=30.0, ge=0)
    #: intake's consumer groups (both runners), whose committed offsets say what is recorded
    intake_groups: tuple[str, ...] = ("frontdoor-intake", "frontdoor-intake-faust")
    decisions_group: str = "frontdoor-screening-decisions"
    max_batch: int = Field(default=500, ge=1)
    batch_within_seconds: float = Field(default=0.02, gt=0)
    decisions_max_batch: int = Field(default=1000, ge=1)
    decisions_within_seconds: float = Field(default=0.1, gt=0)
    pool_size: int = Field(default=4, ge=2)
    rules_path: Path | None = None
    office_opens: time = time(9, 0)
    office_closes: time = time(17, 0)

    def office_hours(self) -> OfficeHours:
        return OfficeHours(opens=self.office_opens, closes=self.office_closes)
