"""Lane refusals: records intake refused because they left their speaker's lane (issue 11).

Intake writes one audit row per refused record to ``intake_lane_refusals`` (where it was read,
how the speaker was established, the agency it claimed, the rules it broke — never the payload).
A non-zero count is a security incident, not a data-quality issue: the panel counts refusals per
claimed agency (every agency listed, so ``/metrics`` carries a zero before the first refusal and
an alert on an increase works from the start) and lists the newest refusals.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.envelope import Agency


class AgencyRefusals(BaseModel):
    model_config = ConfigDict(frozen=True)

    agency: str
    total: int = Field(ge=0)
    latest: AwareDatetime | None = None


class LaneRefusal(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    refused_at: AwareDatetime
    topic: str
    event_type: str
    claimed_agency: str
    via: str
    speaker: str | None
    rules: tuple[str, ...]


class LaneRefusalPanel(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    total: int
    incident: bool
    by_agency: tuple[AgencyRefusals, ...]
    newest: tuple[LaneRefusal, ...]


def lane_panel(
    counts: Iterable[AgencyRefusals], newest: Iterable[LaneRefusal], *, at: AwareDatetime
) -> LaneRefusalPanel:
    """Every agency (refused most first, then by name) with the newest refusals."""
    seen = {c.agency: c for c in counts}
    for agency in Agency:
        seen.setdefault(agency.value, AgencyRefusals(agency=agency.value, total=0))
    by_agency = tuple(sorted(seen.values(), key=lambda c: (-c.total, c.agency)))
    total = sum(c.total for c in by_agency)
    return LaneRefusalPanel(
        at=at, total=total, incident=total > 0, by_agency=by_agency, newest=tuple(newest)
    )
