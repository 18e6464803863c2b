"""Reduce a contact or police DA notification, plus the child's history, to a ``TriageInput``.

Pure: the caller reads the history from PostgreSQL and passes it in. Choices made here:

- ages are whole years on the Europe/London date of the incident (of the contact for a general
  contact); an unborn child counts as age 0, so the under-1 rule applies before birth;
- the children are the subject child and every household child the police listed;
- special needs means the subject child has a CIN disability code other than ``NONE``;
- previous incidents in 12 months is the larger of the police count (between the same people)
  and the front door's own history for the child or household (police DA notifications before
  this incident, within one calendar year of it; other contacts never count) — the two overlap,
  so they are not added;
- a general contact records no DASH, markers, presence or injury: those rules cannot fire.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from schemas.child import ChildDetails, HouseholdChild
from schemas.codes import DashRiskLevel, Disability
from schemas.envelope import LONDON, ShortText
from schemas.events.contacts import ContactReceived, PoliceDaNotification
from services.screening.domain.inputs import TriageInput


class TriageHistory(BaseModel):
    """What the front door already knows about the child and household before this contact.

    ``incidents_at`` are the times of earlier police DA notifications for the same child or
    household (the adapter keeps the last 12 months; other contacts are not incidents).
    ``open_case_team`` is the team the child is currently open to, if any.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    incidents_at: tuple[AwareDatetime, ...] = ()
    open_cp_plan: bool = False
    open_case_team: ShortText | None = None


def triage_input_from_event(
    event: ContactReceived | PoliceDaNotification,
    history: TriageHistory,
    *,
    professional_judgement_level: DashRiskLevel | None = None,
) -> TriageInput:
    """The triage facts for one contact event and the child's history."""
    common = {
        "source_agency": event.source.agency,
        "received_at": event.payload.contact_at,
        "professional_judgement_level": professional_judgement_level,
        "special_needs": _has_special_needs(event.payload.child),
        "open_cp_plan": history.open_cp_plan,
        "open_case_team": history.open_case_team,
    }
    if isinstance(event, ContactReceived):
        moment = event.payload.contact_at
        return TriageInput.model_validate(
            {
                **common,
                "kind": "contact",
                "child_ages_years": (_age_of(event.payload.child, _london_day(moment)),),
                "previous_incidents_12m": incidents_in_year_before(history.incidents_at, moment),
            }
        )
    payload = event.payload
    day = _london_day(payload.incident_at)
    ages = (
        _age_of(payload.child, day),
        *(_household_age(child, day) for child in payload.household_children),
    )
    ours = incidents_in_year_before(history.incidents_at, payload.incident_at)
    return TriageInput.model_validate(
        {
            **common,
            "kind": "da_notification",
            "dash_yes_count": payload.dash_yes_count,
            "dash_risk_level": payload.dash_risk_level,
            "officer_judgement_level": payload.officer_judgement_level,
            "high_risk_markers": frozenset(payload.high_risk_markers),
            "children_present": payload.children_present,
            "child_injured": payload.child_injured,
            "child_ages_years": ages,
            "previous_incidents_12m": max(payload.previous_incidents_12m, ours),
        }
    )


def age_in_years(born: date, on: date) -> int:
    """Whole years from ``born`` to ``on``; 0 when ``on`` is before the birth."""
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return max(years, 0)


def incidents_in_year_before(incidents_at: tuple[datetime, ...], moment: datetime) -> int:
    """How many incidents fall in the calendar year before ``moment`` (not at or after it)."""
    start = _one_year_before(moment)
    return sum(1 for when in incidents_at if start <= when < moment)


def _one_year_before(moment: datetime) -> datetime:
    local = moment.astimezone(LONDON)
    day = 28 if (local.month, local.day) == (2, 29) else local.day
    return local.replace(year=local.year - 1, day=day)


def _london_day(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def _age_of(child: ChildDetails, day: date) -> int:
    if child.date_of_birth is None:
        return 0  # unborn: counts as under 1
    return age_in_years(child.date_of_birth, day)


def _household_age(child: HouseholdChild, day: date) -> int:
    if child.date_of_birth is not None:
        return age_in_years(child.date_of_birth, day)
    if child.age_years is None:  # the contract requires one of the two
        raise ValueError("a household child has neither a date of birth nor an age")
    return child.age_years


def _has_special_needs(child: ChildDetails) -> bool:
    return any(code is not Disability.NONE for code in child.disabilities)
