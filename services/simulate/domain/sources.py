"""Who sends contacts, how often, and what they tend to be about.

Daily rates are for a borough of about 265,000 people (about 57,000 children) at scale 1: police
domestic-abuse incidents (each a notification per child in the household, roughly 40–60 a day,
more at weekends), and 25–40 other contacts a day on weekdays — schools only in term time,
health, the public, housing, probation, early help, adult social care and others — with few at
weekends. Each agency maps to its CIN census referral-source codes and its usual concerns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContactSource:
    agency: str
    system: str
    weekday_rate: float
    weekend_rate: float
    term_time_only: bool
    referral_sources: tuple[tuple[str, int], ...]
    concerns: tuple[tuple[str, int], ...]
    hours: tuple[int, int]
    """Local hours (from, to) in which this agency's contacts arrive."""


DA_INCIDENTS_WEEKDAY = 29.0
DA_INCIDENTS_WEEKEND = 36.0

CONTACT_SOURCES = (
    ContactSource(
        "education", "cpoms", 14.0, 0.0, True,
        (("2A", 90), ("2B", 10)),
        (("neglect", 25), ("emotional_abuse", 15), ("physical_abuse", 12), ("sexual_abuse", 3),
         ("behaviour", 10), ("school_attendance", 10), ("domestic_abuse", 10),
         ("mental_health", 10), ("other", 5)),
        (8, 16),
    ),
    ContactSource(
        "health", "systmone", 9.0, 3.0, False,
        (("3A", 20), ("3B", 25), ("3C", 10), ("3D", 5), ("3E", 25), ("3F", 15)),
        (("neglect", 20), ("unborn", 10), ("mental_health", 20), ("physical_abuse", 15),
         ("substance_misuse", 15), ("domestic_abuse", 10), ("other", 10)),
        (8, 19),
    ),
    ContactSource(
        "public", "online-portal", 5.0, 4.0, False,
        (("1A", 50), ("1B", 30), ("1C", 5), ("1D", 5), ("9", 10)),
        (("neglect", 40), ("physical_abuse", 15), ("domestic_abuse", 15),
         ("emotional_abuse", 10), ("substance_misuse", 10), ("other", 10)),
        (7, 23),
    ),
    ContactSource(
        "housing", "housing-crm", 1.5, 0.0, False,
        (("4", 100),), (("housing", 50), ("neglect", 30), ("domestic_abuse", 20)), (9, 17),
    ),
    ContactSource(
        "probation", "ndelius", 1.0, 0.0, False,
        (("7", 100),), (("domestic_abuse", 50), ("substance_misuse", 20), ("other", 30)), (9, 17),
    ),
    ContactSource(
        "early_help", "eh-module", 1.5, 0.0, False,
        (("5D", 100),), (("neglect", 40), ("parenting_capacity", 40), ("behaviour", 20)), (9, 17),
    ),
    ContactSource(
        "social_care", "adult-care", 1.0, 0.2, False,
        (("5A", 70), ("5C", 30)),
        (("parenting_capacity", 40), ("mental_health", 30), ("substance_misuse", 30)),
        (9, 17),
    ),
    ContactSource(
        "other", "other", 1.5, 0.5, False,
        (("8", 60), ("5B", 20), ("10", 20)),
        (("other", 50), ("child_exploitation", 20), ("missing", 10), ("neglect", 20)),
        (8, 20),
    ),
)  # fmt: skip

SEVERITY = {
    "sexual_abuse": 0.6,
    "physical_abuse": 0.5,
    "child_exploitation": 0.4,
    "neglect": 0.3,
    "unborn": 0.3,
    "missing": 0.3,
    "emotional_abuse": 0.25,
    "domestic_abuse": 0.25,
}
"""How likely a contact about this concern is to need child protection (default 0.1)."""

SUMMARIES = {
    "neglect": "Child repeatedly arrives hungry and in unwashed clothes; home reported cold.",
    "emotional_abuse": "Child disclosed being shouted at and told they are not wanted.",
    "physical_abuse": "Unexplained bruising to the child's upper arm noticed today.",
    "sexual_abuse": "Child made a disclosure about an adult family friend.",
    "behaviour": "Escalating aggression at school and at home; parent asking for help.",
    "school_attendance": "Attendance below 60% this term; family not engaging with school.",
    "domestic_abuse": "Child described arguments and a parent being hurt at home.",
    "mental_health": "Parent's mental health has deteriorated; child caring for siblings.",
    "substance_misuse": "Parent appeared intoxicated when collecting the child.",
    "unborn": "Pregnant mother with previous children removed; concerns for the unborn baby.",
    "housing": "Family facing eviction; living in one room with damp and no heating.",
    "parenting_capacity": "Parent struggling to meet the child's basic needs.",
    "child_exploitation": "Child found with unexplained money and phones; older associates.",
    "missing": "Child missing overnight twice this month; will not say where.",
    "other": "Concern raised about the child's welfare.",
}
