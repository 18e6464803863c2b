"""The Ofsted Annex A vocabulary: list headings in column order and the coded cell values.

Headings and codes follow the Annex A list definitions (Ofsted, "Annex A: child-level data",
lists 1, 3, 4, 5 and 7), the same text the ``liiatools`` package ships as ``spec/annex_a``
(``la-agg.yml`` for the column order, ``data-map.yml`` for the codes; a unit test compares them).
Coded values carry their letter prefix (``q) 6: Police``, ``a) Yes``, ``a) Male``). One known
difference from liiatools 0.2.0: its ethnicity list labels both REFU and NOBT ``s)``; Annex A
letters run on, so NOBT is ``t) NOBT`` here.
"""

from __future__ import annotations

from types import MappingProxyType

from schemas.codes import CategoryOfAbuse, Ethnicity, ReferralSource, Sex

COMMON = ("Child Unique ID", "Gender", "Ethnicity", "Date of Birth", "Age of Child (Years)")
ALLOCATION = ("Allocated Team", "Allocated Worker")
DISABILITY = "Does the Child have a Disability"

HEADINGS: MappingProxyType[int, tuple[str, ...]] = MappingProxyType(
    {
        1: (*COMMON, "Date of Contact", "Contact Source"),
        3: (
            *COMMON,
            "Date of referral",
            "Referral Source",
            "Referral NFA?",
            "Number of Referrals in Last 12 Months",
            *ALLOCATION,
        ),
        4: (
            *COMMON,
            DISABILITY,
            "Continuous Assessment Start Date",
            "Child Seen During Continuous Assessment",
            "Continuous Assessment Date of Authorisation",
            "Was the child assessed as requiring LA children's social care support?",
            *ALLOCATION,
        ),
        5: (
            *COMMON,
            DISABILITY,
            "Strategy discussion initiating Section 47 Enquiry Start Date",
            "Was an Initial Child Protection Conference deemed unnecessary?",
            "Date of Initial Child Protection Conference",
            "Did the Initial Child Protection Conference Result in a Child Protection Plan",
            "Number of Section 47 Enquiries in the last 12 months",
            "Number of ICPCs in the last 12 months",
            *ALLOCATION,
        ),
        7: (
            *COMMON,
            DISABILITY,
            "Child Protection Plan Start Date",
            "Initial Category of Abuse",
            "Latest Category of Abuse",
            "Date of the Last Statutory Visit",
            "Was the Child Seen Alone?",
            "Date of latest review conference",
            "Child Protection Plan End Date",
            "Subject to Emergency Protection Order or Protected Under Police Powers in Last Six "
            "Months (Y/N)",
            "Number of Previous Child Protection Plans",
            *ALLOCATION,
        ),
    }
)

TITLES: MappingProxyType[int, str] = MappingProxyType(
    {
        1: "Contacts",
        3: "Referrals",
        4: "Assessments",
        5: "Section 47 enquiries and ICPCs",
        7: "Child protection",
    }
)

GENDER = MappingProxyType(
    {Sex.MALE: "a) Male", Sex.FEMALE: "b) Female", Sex.UNKNOWN: "c) Not stated/recorded"}
)
"""CIN sex to Annex A gender; ``d) Neither`` has no CIN sex code, so it is never produced."""

ETHNICITY = MappingProxyType(
    {
        code: f"{letter}) {code.value}"
        for letter, code in zip("abcdefghijklmnopqrst", Ethnicity, strict=True)
    }
)
"""``a) WBRI`` … ``t) NOBT``, in the DfE order the ``Ethnicity`` enum keeps."""

_SOURCE_LABELS = (
    ("a", "1A", "Individual"), ("b", "1B", "Individual"), ("c", "1C", "Individual"),
    ("d", "1D", "Individual"), ("e", "2A", "Schools"), ("f", "2B", "Education services"),
    ("g", "3A", "Health services"), ("h", "3B", "Health services"), ("i", "3C", "Health services"),
    ("j", "3D", "Health services"), ("k", "3E", "Health services"), ("l", "3F", "Health services"),
    ("m", "4", "Housing"), ("n", "5A", "LA services"), ("o", "5B", "LA services"),
    ("p", "5C", "LA services"), ("p1", "5D", "LA services"), ("q", "6", "Police"),
    ("r", "7", "Other legal agency"), ("s", "8", "Other"), ("t", "9", "Anonymous"),
    ("u", "10", "Unknown"),
)  # fmt: skip
SOURCE = MappingProxyType(
    {ReferralSource(code): f"{letter}) {code}: {label}" for letter, code, label in _SOURCE_LABELS}
)
"""Referral and contact sources. 5D (early help, added to the CIN census after the Annex A
letters were fixed) follows 5C as ``p1) 5D: LA services``, as councils' Annex A extracts do."""

YES, NO, UNKNOWN = "a) Yes", "b) No", "c) Unknown"

CATEGORY = MappingProxyType(
    {
        CategoryOfAbuse.NEGLECT: "a) Neglect",
        CategoryOfAbuse.PHYSICAL: "b) Physical abuse",
        CategoryOfAbuse.SEXUAL: "c) Sexual abuse",
        CategoryOfAbuse.EMOTIONAL: "d) Emotional abuse",
        CategoryOfAbuse.MULTIPLE: "e) Multiple/not recommended",
    }
)


def yes_no(value: bool | None) -> str:
    """``a) Yes`` / ``b) No``; ``c) Unknown`` when the history does not say."""
    if value is None:
        return UNKNOWN
    return YES if value else NO
