"""Child protection enquiries: the strategy discussion and the section 47 enquiry it starts.

``strategy_id`` links the discussion to the s47 it started (the ICPC clock runs 15 working days
from that discussion); ``s47_id`` links the enquiry to its completion and to the ICPC. Either can
happen out of hours (the emergency duty team), which the events record.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from schemas.envelope import Agency, EventBase, Payload


class StrategyOutcome(StrEnum):
    SECTION_47 = "section_47"
    SINGLE_ASSESSMENT = "single_assessment"
    NO_FURTHER_ACTION = "no_further_action"


class StrategyDiscussionHeldPayload(Payload):
    strategy_id: UUID
    referral_id: UUID
    held_at: AwareDatetime
    held_out_of_hours: bool = False
    agencies: tuple[Agency, ...] = Field(min_length=1, description="Agencies that took part.")
    outcome: StrategyOutcome


class StrategyDiscussionHeld(EventBase):
    """A strategy discussion about suspected significant harm."""

    event_type: Literal["strategy_discussion.held"]
    schema_version: Literal[1]
    payload: StrategyDiscussionHeldPayload


class S47StartedPayload(Payload):
    s47_id: UUID
    strategy_id: UUID = Field(description="The strategy discussion that initiated the enquiry.")
    referral_id: UUID
    started_at: AwareDatetime = Field(description="S47ActualStartDate (its Europe/London date).")
    held_out_of_hours: bool = False


class S47Started(EventBase):
    """A section 47 enquiry started."""

    event_type: Literal["s47.started"]
    schema_version: Literal[1]
    payload: S47StartedPayload


class S47CompletedPayload(Payload):
    s47_id: UUID
    referral_id: UUID
    completed_at: AwareDatetime
    concerns_substantiated: bool
    icpc_required: bool = Field(description="False = Annex A 'ICPC deemed unnecessary'.")


class S47Completed(EventBase):
    """A section 47 enquiry concluded, deciding whether an ICPC is needed."""

    event_type: Literal["s47.completed"]
    schema_version: Literal[1]
    payload: S47CompletedPayload
