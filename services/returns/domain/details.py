"""What the history knows about who a child is: the latest known value of each personal item.

Contacts, police notifications and referrals each carry the child's details (``ChildDetails``).
Partners know different things — a school knows the UPN, the police may not — so the details are
merged item by item, in time order: a later event replaces an item only with an informative
value. An absent UPN, name or disability list, a sex of ``U`` or an ethnicity of ``NOBT`` never
overwrites something an earlier event recorded; a recorded date of birth supersedes an expected
one (the child was born). When no event carries details at all, there is nothing to merge and the
returns report the gap instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from schemas.child import ChildDetails
from schemas.codes import Disability, Ethnicity, Sex


@dataclass(frozen=True, slots=True)
class KnownDetails:
    """The merged personal details. ``disabilities`` empty means "not recorded".

    A frozen dataclass, not a pydantic model: it is built from already-validated contract
    values once per event that carries details, tens of thousands of times per return.
    """

    given_name: str | None
    family_name: str
    date_of_birth: date | None
    expected_birth_date: date | None
    sex: Sex
    ethnicity: Ethnicity
    upn: str | None
    disabilities: tuple[Disability, ...]

    @property
    def unborn(self) -> bool:
        """No date of birth is recorded, only an expected one."""
        return self.date_of_birth is None

    @property
    def has_disability(self) -> bool | None:
        """True/False from the recorded codes; None when no disability information is recorded."""
        if not self.disabilities:
            return None
        return self.disabilities != (Disability.NONE,)


def merge_details(known: KnownDetails | None, seen: ChildDetails) -> KnownDetails:
    """``known`` updated with the details one later event carried (already validated ones)."""
    if known is None:
        return KnownDetails(
            given_name=seen.given_name,
            family_name=seen.family_name,
            date_of_birth=seen.date_of_birth,
            expected_birth_date=None if seen.date_of_birth else seen.expected_birth_date,
            sex=seen.sex,
            ethnicity=seen.ethnicity,
            upn=seen.upn,
            disabilities=seen.disabilities,
        )
    born = seen.date_of_birth or known.date_of_birth
    return KnownDetails(
        given_name=seen.given_name or known.given_name,
        family_name=seen.family_name,
        date_of_birth=born,
        expected_birth_date=None
        if born
        else (seen.expected_birth_date or known.expected_birth_date),
        sex=known.sex if seen.sex is Sex.UNKNOWN else seen.sex,
        ethnicity=known.ethnicity if seen.ethnicity is Ethnicity.NOT_OBTAINED else seen.ethnicity,
        upn=seen.upn or known.upn,
        disabilities=seen.disabilities or known.disabilities,
    )


def age_in_years(born: date, on: date) -> int:
    """Whole years from ``born`` to ``on`` (a 29 February birthday turns over on 1 March)."""
    before_birthday = (on.month, on.day) < (born.month, born.day)
    return on.year - born.year - int(before_birthday)
