"""The child's personal details as partners send them with a contact or a referral.

These are the fields the DfE CIN census and Ofsted Annex A need (sex, ethnicity, date of birth or
expected birth date, UPN, disabilities) plus the name and address, so that returns can be
produced from the event history alone and the out-of-hours worker knows where the child is. All
of it is personal data: it is stored, never logged.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from schemas.codes import Disability, Ethnicity, Sex, upn_check_letter
from schemas.envelope import ChildId, ContractModel

PersonName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"\S")]
Address = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"\S")]
"""A postal address on one line as the partner's system holds it (house, street, town, postcode)."""
Upn = Annotated[str, StringConstraints(pattern=r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$")]
"""Unique pupil number: 13 characters, a check letter then 11 digits then a digit or letter."""


class ChildDetails(ContractModel):
    """Who the child is. Exactly one of ``date_of_birth`` / ``expected_birth_date`` (unborn)."""

    given_name: PersonName | None = None
    family_name: PersonName
    date_of_birth: date | None = None
    expected_birth_date: date | None = None
    sex: Sex
    ethnicity: Ethnicity
    upn: Upn | None = Field(default=None, description="Unique pupil number, when known.")
    disabilities: tuple[Disability, ...] = Field(
        default=(), description="CIN disability codes; NONE only alone; empty when not recorded."
    )
    address: Address | None = Field(
        default=None,
        description=(
            "Where the child lives, on one line (e.g. '12 Elm Road, Rotherham S60 1AA'), when "
            "known; the out-of-hours worker needs it at night. Personal data."
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.date_of_birth is None) == (self.expected_birth_date is None):
            raise ValueError("exactly one of date_of_birth and expected_birth_date is required")
        if self.upn is not None and upn_check_letter(self.upn[1:]) != self.upn[0]:
            raise ValueError("upn check letter is wrong (CIN rule 1510)")
        if Disability.NONE in self.disabilities and len(self.disabilities) > 1:
            raise ValueError("disability NONE cannot be combined with other codes")
        if len(set(self.disabilities)) != len(self.disabilities):
            raise ValueError("disability codes must not repeat")
        return self


class HouseholdChild(ContractModel):
    """Another child in the household of a domestic-abuse incident (age or date of birth)."""

    child_id: ChildId | None = None
    date_of_birth: date | None = None
    age_years: int | None = Field(default=None, ge=0, le=17)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.date_of_birth is None and self.age_years is None:
            raise ValueError("a household child needs a date_of_birth or an age_years")
        return self
