"""Code sets used in event payloads: the DfE children-in-need (CIN) census codes and our own.

The census codes (referral source, primary need, reason for closure, category of abuse,
assessment factors, sex, ethnicity, disability) carry the DfE code as the enum *value*, so they
serialise exactly as the census and Ofsted Annex A expect; member names are readable. The other
enums (DASH risk, triage priority, decisions and outcomes) are frontdoor's own vocabulary, as
lower-case snake_case values. ``upn_check_letter`` computes the check letter of a unique pupil
number (CIN rule 1510).
"""

from __future__ import annotations

import functools
from enum import StrEnum


class ReferralSource(StrEnum):
    """CIN census ReferralSource."""

    INDIVIDUAL_FAMILY = "1A"
    INDIVIDUAL_ACQUAINTANCE = "1B"
    INDIVIDUAL_SELF = "1C"
    INDIVIDUAL_OTHER = "1D"
    SCHOOLS = "2A"
    EDUCATION_SERVICES = "2B"
    HEALTH_GP = "3A"
    HEALTH_VISITOR = "3B"
    HEALTH_SCHOOL_NURSE = "3C"
    HEALTH_OTHER_PRIMARY = "3D"
    HEALTH_EMERGENCY_DEPARTMENT = "3E"
    HEALTH_OTHER = "3F"
    HOUSING = "4"
    LA_SOCIAL_CARE = "5A"
    LA_OTHER_INTERNAL = "5B"
    LA_EXTERNAL = "5C"
    EARLY_HELP = "5D"
    POLICE = "6"
    OTHER_LEGAL_AGENCY = "7"
    OTHER = "8"
    ANONYMOUS = "9"
    UNKNOWN = "10"


class PrimaryNeedCode(StrEnum):
    """CIN census PrimaryNeedCode."""

    NOT_STATED = "N0"
    ABUSE_OR_NEGLECT = "N1"
    CHILD_DISABILITY = "N2"
    PARENTAL_ILLNESS_DISABILITY = "N3"
    FAMILY_IN_ACUTE_STRESS = "N4"
    FAMILY_DYSFUNCTION = "N5"
    SOCIALLY_UNACCEPTABLE_BEHAVIOUR = "N6"
    LOW_INCOME = "N7"
    ABSENT_PARENTING = "N8"
    CASES_OTHER_THAN_CHILDREN_IN_NEED = "N9"


class ReasonForClosure(StrEnum):
    """CIN census ReasonForClosure."""

    ADOPTED = "RC1"
    DIED = "RC2"
    CHILD_ARRANGEMENTS_ORDER = "RC3"
    SPECIAL_GUARDIANSHIP_ORDER = "RC4"
    TRANSFERRED_TO_ANOTHER_LA = "RC5"
    TRANSFERRED_TO_ADULT_SERVICES = "RC6"
    SERVICES_CEASED = "RC7"
    CLOSED_AFTER_ASSESSMENT_NFA = "RC8"
    CLOSED_AFTER_ASSESSMENT_EARLY_HELP = "RC9"


class CategoryOfAbuse(StrEnum):
    """CIN census category of abuse of a child protection plan."""

    NEGLECT = "NEG"
    PHYSICAL = "PHY"
    SEXUAL = "SAB"
    EMOTIONAL = "EMO"
    MULTIPLE = "MUL"


class AssessmentFactor(StrEnum):
    """CIN census factors identified at assessment. ``NO_FACTORS`` (21) is only valid alone.

    Names follow the DfE's own wording of each code in the CIN census XSD (liiatools ships it:
    ``spec/cin_census/CIN_schema_2024.xsd``, type ``assessmentfactorstype``): 20
    "Other", 21 "No factors identified", 22A "Female genital mutilation (FGM)", 23A "Abuse
    linked to faith or belief", 24A "Child criminal exploitation".
    """

    ALCOHOL_CHILD = "1A"
    ALCOHOL_PARENT = "1B"
    ALCOHOL_OTHER = "1C"
    DRUGS_CHILD = "2A"
    DRUGS_PARENT = "2B"
    DRUGS_OTHER = "2C"
    DOMESTIC_ABUSE_CHILD = "3A"
    DOMESTIC_ABUSE_PARENT = "3B"
    DOMESTIC_ABUSE_OTHER = "3C"
    MENTAL_HEALTH_CHILD = "4A"
    MENTAL_HEALTH_PARENT = "4B"
    MENTAL_HEALTH_OTHER = "4C"
    LEARNING_DISABILITY_CHILD = "5A"
    LEARNING_DISABILITY_PARENT = "5B"
    LEARNING_DISABILITY_OTHER = "5C"
    PHYSICAL_DISABILITY_CHILD = "6A"
    PHYSICAL_DISABILITY_PARENT = "6B"
    PHYSICAL_DISABILITY_OTHER = "6C"
    YOUNG_CARER = "7A"
    PRIVATELY_FOSTERED_OTHER = "8B"
    PRIVATELY_FOSTERED_OVERSEAS_RETURN = "8C"
    PRIVATELY_FOSTERED_OVERSEAS_STAY = "8D"
    PRIVATELY_FOSTERED_UK_EDUCATION = "8E"
    PRIVATELY_FOSTERED_UK_ALTERNATIVE = "8F"
    UNACCOMPANIED_ASYLUM_SEEKING = "9A"
    GOING_MISSING = "10A"
    CHILD_SEXUAL_EXPLOITATION = "11A"
    TRAFFICKING = "12A"
    GANGS = "13A"
    SOCIALLY_UNACCEPTABLE_BEHAVIOUR = "14A"
    SELF_HARM = "15A"
    NEGLECT = "16A"
    EMOTIONAL_ABUSE = "17A"
    PHYSICAL_ABUSE_CHILD_ON_CHILD = "18B"
    PHYSICAL_ABUSE_ADULT_ON_CHILD = "18C"
    SEXUAL_ABUSE_CHILD_ON_CHILD = "19B"
    SEXUAL_ABUSE_ADULT_ON_CHILD = "19C"
    OTHER = "20"
    NO_FACTORS = "21"
    FEMALE_GENITAL_MUTILATION = "22A"
    ABUSE_LINKED_TO_FAITH_OR_BELIEF = "23A"
    CHILD_CRIMINAL_EXPLOITATION = "24A"


class Sex(StrEnum):
    """CIN census sex (from 2024-25): male, female, unknown/not recorded."""

    MALE = "M"
    FEMALE = "F"
    UNKNOWN = "U"


class Ethnicity(StrEnum):
    """CIN census ethnicity codes."""

    WHITE_BRITISH = "WBRI"
    WHITE_IRISH = "WIRI"
    TRAVELLER_OF_IRISH_HERITAGE = "WIRT"
    WHITE_OTHER = "WOTH"
    GYPSY_ROMA = "WROM"
    WHITE_AND_BLACK_CARIBBEAN = "MWBC"
    WHITE_AND_BLACK_AFRICAN = "MWBA"
    WHITE_AND_ASIAN = "MWAS"
    MIXED_OTHER = "MOTH"
    INDIAN = "AIND"
    PAKISTANI = "APKN"
    BANGLADESHI = "ABAN"
    ASIAN_OTHER = "AOTH"
    BLACK_CARIBBEAN = "BCRB"
    BLACK_AFRICAN = "BAFR"
    BLACK_OTHER = "BOTH"
    CHINESE = "CHNE"
    OTHER = "OOTH"
    REFUSED = "REFU"
    NOT_OBTAINED = "NOBT"


class Disability(StrEnum):
    """CIN census disability codes. ``NONE`` is only valid alone."""

    NONE = "NONE"
    MOBILITY = "MOB"
    HAND_FUNCTION = "HAND"
    PERSONAL_CARE = "PC"
    INCONTINENCE = "INC"
    COMMUNICATION = "COMM"
    LEARNING = "LD"
    HEARING = "HEAR"
    VISION = "VIS"
    BEHAVIOUR = "BEH"
    CONSCIOUSNESS = "CON"
    AUTISM = "AUT"
    DDA_OTHER = "DDA"


class DashRiskLevel(StrEnum):
    """Police DASH risk level: 1–9 yes answers standard, 10–13 medium, 14+ high."""

    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _DASH_RANK[self]

    @classmethod
    def from_yes_count(cls, yes_count: int) -> DashRiskLevel:
        if yes_count >= 14:
            return cls.HIGH
        if yes_count >= 10:
            return cls.MEDIUM
        return cls.STANDARD


_DASH_RANK = {DashRiskLevel.STANDARD: 0, DashRiskLevel.MEDIUM: 1, DashRiskLevel.HIGH: 2}


class HighRiskMarker(StrEnum):
    """Domestic-abuse high-risk markers recorded beside the DASH count."""

    NON_FATAL_STRANGULATION = "non_fatal_strangulation"
    THREATS_TO_KILL = "threats_to_kill"
    STALKING = "stalking"
    SEPARATION = "separation"
    COERCIVE_CONTROL = "coercive_control"
    VIOLENCE = "violence"
    ESCALATION = "escalation"
    HONOUR_BASED_ABUSE = "honour_based_abuse"
    PREGNANCY = "pregnancy"


class TriagePriority(StrEnum):
    """MASH triage priority: red, amber, green; blue = not shared with children's services."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    BLUE = "blue"


class ConcernCategory(StrEnum):
    """The reporting agency's own category for the concern in a contact."""

    DOMESTIC_ABUSE = "domestic_abuse"
    NEGLECT = "neglect"
    PHYSICAL_ABUSE = "physical_abuse"
    SEXUAL_ABUSE = "sexual_abuse"
    EMOTIONAL_ABUSE = "emotional_abuse"
    CHILD_EXPLOITATION = "child_exploitation"
    MISSING = "missing"
    MENTAL_HEALTH = "mental_health"
    SUBSTANCE_MISUSE = "substance_misuse"
    PARENTING_CAPACITY = "parenting_capacity"
    BEHAVIOUR = "behaviour"
    SCHOOL_ATTENDANCE = "school_attendance"
    HOUSING = "housing"
    UNBORN = "unborn"
    OTHER = "other"


class Urgency(StrEnum):
    """How soon someone must act; orders crisis items and the out-of-hours handover."""

    IMMEDIATE = "immediate"
    TODAY = "today"
    NEXT_WORKING_DAY = "next_working_day"
    ROUTINE = "routine"


_UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


@functools.lru_cache(maxsize=65536)  # the same children's UPNs recur on every event about them
def upn_check_letter(body: str) -> str:
    """The check letter for the 12 characters after it in a UPN (DfE UPN guide, CIN rule 1510).

    Characters 2–13 are weighted 2..13; a temporary UPN's final letter counts as its position
    in the check alphabet. The weighted sum modulo 23 indexes the check alphabet.
    """
    if len(body) != 12 or not body[:11].isdigit():
        raise ValueError("a UPN body is 11 digits then a digit or check-alphabet letter")
    last = body[11]
    if last.isdigit():
        last_value = int(last)
    elif last in _UPN_CHECK_LETTERS:
        last_value = _UPN_CHECK_LETTERS.index(last)
    else:
        raise ValueError(f"{last!r} is not a valid final UPN character")
    values = [int(c) for c in body[:11]] + [last_value]
    total = sum(value * weight for value, weight in zip(values, range(2, 14), strict=True))
    return _UPN_CHECK_LETTERS[total % 23]
