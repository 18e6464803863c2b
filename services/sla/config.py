"""SLA settings, from ``FRONTDOOR_SLA_*`` environment variables.

There is no policy setting: each clock takes the Working Together edition in force on its
starting event's date (DOMAIN.md §2; `services.sla.policies.load_book`). The one setting left,
``FRONTDOOR_POLICY_OVERRIDES``, names a council's own override file, which carries its own start
date. Each lifecycle topic is read by
its own consumer group, ``<consumer_group_prefix>-<topic>`` (``frontdoor-sla-contacts``,
``frontdoor-sla-casework``, …). The scanner settings bound how long it sleeps between looks at
the due index (it wakes at the next deadline, never later than ``scan_max_sleep_seconds``) and how
often a replica that is not the leader asks for the lock. ``breach_grace_seconds`` delays the
breach of a clock that was already overdue when it was recorded (replays), so its closing event
on another topic can land first. ``clock_offset_seconds`` shifts the worker's clock (tests and
demos drive time with it; it is zero in production).

**Early events' retention.** An early event is a stop or cancel that found no clock to close
(topics are not ordered with each other, so a decision can be read before its contact); it is
kept so that a clock starting later can still be closed by it, and forgotten
``early_event_retention_days`` after it was recorded (on the worker's clock). It is needed only
while a start it closes can still reach the SLA service for the first time: a start another
consumer group or a stopped SLA worker has not read yet stays in Kafka for the broker's
retention (7 days, ``deploy/``) and after that in the outbox, from which a catch-up feeds it
again, for the outbox's retention (``FRONTDOOR_RETENTION_OUTBOX_DAYS``, 35 days by default). The
worker refuses to start with a shorter setting than the outbox's. The default, 90 days, is that
bound with margin for a partner that submits the start weeks after its decision; it is never
the reason a clock stays open in any redelivery or catch-up frontdoor itself makes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SlaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_SLA_", frozen=True)

    #: "aiokafka" or "faust"; unset, the stack's default (``FRONTDOOR_RUNTIME``).
    runtime: Literal["aiokafka", "faust"] | None = None
    policy_overrides: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("FRONTDOOR_POLICY_OVERRIDES", "policy_overrides"),
    )
    #: Groups are ``<prefix>-<topic>``; dead letters name the group in ``dlq.consumer.group``.
    consumer_group_prefix: str = "frontdoor-sla"
    max_batch: int = Field(default=500, ge=1)
    batch_within_seconds: float = Field(default=0.05, gt=0)
    #: Shared by the lifecycle subscriptions (one connection each while a batch runs), the
    #: scanner (two: it settles one round while the previous one is relayed) and the relay sweeper.
    pool_size: int = Field(default=8, ge=4)
    scan_batch: int = Field(default=1000, ge=1)
    scan_max_sleep_seconds: float = Field(default=1.0, gt=0)
    leader_poll_seconds: float = Field(default=1.0, gt=0)
    breach_grace_seconds: float = Field(default=3.0, ge=0)
    clock_offset_seconds: float = 0.0
    #: See the module docstring: never shorter than the outbox's retention.
    early_event_retention_days: float = Field(default=90.0, gt=0)
    #: How often the scanner's leader looks for early events past their retention.
    early_event_sweep_seconds: float = Field(default=3600.0, gt=0)
