"""Out-of-hours settings, from ``FRONTDOOR_OOH_*`` environment variables.

Office hours bound the shifts (17:00 → 09:00 next working day by default) and decide when a
strategy discussion or s47 counts as out of hours. ``day_team`` names the team the handover goes
to. The automatic handover goes out from ``handover_publish_at`` (London time) on the morning a
shift ends, checked every ``handover_check_seconds``; ``auto_handover=false`` leaves it to the
``frontdoor ooh handover`` command. ``runtime`` picks the runner (unset: the stack's default,
``FRONTDOOR_RUNTIME``); the batch settings apply to both runners. The consumer groups are the
aiokafka runner's (faust reads both topics in one group of its own).
"""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.calendar import OfficeHours


class OohSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_OOH_", frozen=True)

    #: "aiokafka" or "faust"; unset, the stack's default (``FRONTDOOR_RUNTIME``).
    runtime: Literal["aiokafka", "faust"] | None = None
    #: Consumer groups; dead letters name them in ``dlq.consumer.group``.
    casework_group: str = "frontdoor-outofhours-casework"
    record_group: str = "frontdoor-outofhours-record"
    max_batch: int = Field(default=500, ge=1)
    batch_within_seconds: float = Field(default=0.02, gt=0)
    pool_size: int = Field(default=4, ge=2)
    office_opens: time = time(9, 0)
    office_closes: time = time(17, 0)
    day_team: str = Field(default="MASH", min_length=1, max_length=200)
    auto_handover: bool = True
    handover_publish_at: time = time(8, 0)
    handover_check_seconds: float = Field(default=30.0, gt=0)
    #: How long the watch view holds a confirmed acknowledgement, undoable with ``u``, before
    #: it sends it (``frontdoor ooh watch``).
    undo_seconds: float = Field(default=5.0, gt=0, le=60)

    def office_hours(self) -> OfficeHours:
        return OfficeHours(opens=self.office_opens, closes=self.office_closes)
