"""What triage needs to know about one contact or notification, already reduced to facts.

``TriageInput`` is the boundary between the event contract and the rules: ``from_event`` fills it
from a ``contact.received`` or ``police.da_notification`` plus the child's history, and the rule
engine reads nothing else. Ages are whole years at the incident date; history counts are
supplied by the caller (from PostgreSQL), so the rules stay pure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from schemas.codes import DashRiskLevel, HighRiskMarker
from schemas.envelope import Agency

TriageKind = Literal["contact", "da_notification"]

MAX_DASH_QUESTIONS = 27  # 24 questions in partner use, 27 in police use
OLDEST_CHILD_AGE = 25  # care leavers are supported to 25


class TriageInput(BaseModel):
    """The facts about one contact that the triage rules read.

    ``child_ages_years`` holds every child's age in whole years at the incident date (0 for a
    baby or an unborn child); it is empty when no age is known. ``previous_incidents_12m``
    counts earlier incidents for the same child or household in the 12 months before this one,
    not this one. ``dash_risk_level`` is the level the police recorded; judgement levels are on
    the DASH scale and can only raise the level computed from the count.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: TriageKind
    source_agency: Agency
    received_at: AwareDatetime
    dash_yes_count: int | None = Field(default=None, ge=0, le=MAX_DASH_QUESTIONS)
    dash_risk_level: DashRiskLevel | None = None
    officer_judgement_level: DashRiskLevel | None = None
    professional_judgement_level: DashRiskLevel | None = None
    high_risk_markers: frozenset[HighRiskMarker] = frozenset()
    children_present: bool = False
    child_injured: bool = False
    child_ages_years: tuple[int, ...] = ()
    special_needs: bool = False
    previous_incidents_12m: int = Field(default=0, ge=0)
    open_cp_plan: bool = False
    open_case_team: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("child_ages_years")
    @classmethod
    def _plausible_ages(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(age < 0 or age > OLDEST_CHILD_AGE for age in value):
            raise ValueError(f"child ages must be between 0 and {OLDEST_CHILD_AGE} years")
        return value

    @property
    def youngest_age(self) -> int | None:
        """The youngest child's age in whole years, or None when no age is known."""
        return min(self.child_ages_years) if self.child_ages_years else None
